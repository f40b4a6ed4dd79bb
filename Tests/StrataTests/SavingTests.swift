import Foundation
@testable import Strata
import StrataData
import StrataTesting
import Testing

func temporaryURL(_ name: String) -> URL {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "strata-tests-\(UUID().uuidString)")
  try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  return directory.appendingPathComponent(name)
}

func fashionSlice(_ count: Int, images: Bool = false) throws -> (Tensor, Tensor) {
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(count)
  let x = data.normalizedImages()
  return (images ? try x.reshaped(to: [count, 28, 28, 1]) : x, data.labelTensor())
}

/// A small Fashion-MNIST MLP, compiled with `optimizer` (sparse cross-entropy, accuracy) unless `nil`.
func mlp(seed: UInt64 = 5, optimizer: String? = "adam") throws -> Sequential {
  let model = try Sequential(
    [
      Flatten(inputShape: [28, 28]), Dense(32, activation: "relu"), Dropout(0.2),
      Dense(10, activation: "softmax"),
    ], seed: seed)
  if let optimizer {
    try model.compile(
      optimizer: optimizer, loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  }
  return model
}

@Test func savedModelsPredictIdentically() throws {
  let (x, y) = try fashionSlice(200)
  let model = try mlp()
  try model.fit(x, y, batchSize: 32, epochs: 1, verbose: 0)
  let url = temporaryURL("mlp.strata")
  try model.save(to: url)
  let loaded = try Sequential.load(from: url)
  #expect(try loaded.predict(x) == model.predict(x))
  #expect(loaded.layerNames == model.layerNames)
  #expect(loaded.config == model.config)
  #expect(loaded.optimizer?.identifier == "Adam")
  #expect(loaded.optimizer?.iterations == 7)
  #expect(loaded.loss?.identifier == "sparse_categorical_crossentropy")
  #expect(try loaded.evaluate(x, y, verbose: 0) == model.evaluate(x, y, verbose: 0))
  // Weights alone, into a fresh model of the same architecture.
  let weightsURL = temporaryURL("mlp.weights.strata")
  try model.saveWeights(to: weightsURL)
  let fresh = try mlp(seed: 99, optimizer: nil)
  try fresh.loadWeights(from: weightsURL)
  #expect(try fresh.predict(x) == model.predict(x))
}

@Test func savedCNNPredictsIdentically() throws {
  let (x, y) = try fashionSlice(48, images: true)
  let model = try tutorialCNN()
  try model.compile(
    optimizer: "adam", loss: SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"])
  try model.fit(x, y, batchSize: 16, epochs: 1, verbose: 0)
  let url = temporaryURL("cnn.strata")
  try model.save(to: url)
  let loaded = try Sequential.load(from: url)
  #expect(try loaded.predict(x) == model.predict(x))
  #expect((loaded.loss as? SparseCategoricalCrossentropy)?.fromLogits == true)
}

/// Two epochs, save, load, two more epochs: the same weights as four epochs in one go (shuffling,
/// dropout masks and Adam's moments included).
@Test func trainingGoesOnExactlyAfterAReload() throws {
  let (x, y) = try fashionSlice(256)
  let uninterrupted = try mlp()
  let full = try uninterrupted.fit(x, y, batchSize: 32, epochs: 4, verbose: 0)

  let first = try mlp()
  try first.fit(x, y, batchSize: 32, epochs: 2, verbose: 0)
  let url = temporaryURL("half.strata")
  try first.save(to: url)
  let second = try Sequential.load(from: url)
  let rest = try second.fit(x, y, batchSize: 32, epochs: 4, verbose: 0, initialEpoch: 2)
  #expect(second.weights == uninterrupted.weights)
  #expect(rest["loss"]! == Array(full["loss"]!.suffix(2)))
}

/// A run stopped after its second epoch leaves a backup; the same command again resumes at the third
/// epoch and ends with the weights of an uninterrupted run.
/// The MLP as a functional model with two branches (dropout in one), its weights fixed by the seed.
func functionalMLP(seed: UInt64) throws -> Model {
  try withSeededBuilds(seed: seed) {
    let inputs = try Input(shape: [28, 28])
    let flat = try Flatten()(inputs)
    let wide = try Dropout(0.2)(try Dense(32, activation: "relu")(flat))
    let narrow = try Dense(8, activation: "tanh")(flat)
    let outputs = try Dense(10, activation: "softmax")(try Concatenate()([wide, narrow]))
    return try Model(inputs: inputs, outputs: outputs, seed: seed)
  }
}

@Test(arguments: ["sequential", "functional"])
func backupAndRestoreResumesAnInterruptedRun(kind: String) throws {
  let (x, y) = try fashionSlice(192)
  let directory = temporaryURL("backup").path
  func mlp(seed: UInt64, optimizer: String) throws -> Model {
    let model =
      kind == "sequential"
      ? try StrataTests.mlp(seed: seed, optimizer: nil) : try functionalMLP(seed: seed)
    try model.compile(
      optimizer: optimizer, loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return model
  }
  func run(stopAfter: Int?) throws -> (Model, History, BackupAndRestore) {
    let model = try mlp(seed: 8, optimizer: "rmsprop")
    let backup = BackupAndRestore(directory)
    var callbacks: [any Callback] = [backup]
    if let stopAfter {
      callbacks.append(
        LambdaCallback(onEpochEnd: { epoch, _, model in
          if epoch == stopAfter { model.stopTraining = true }
        }))
    }
    let history = try model.fit(x, y, batchSize: 32, epochs: 5, verbose: 0, callbacks: callbacks)
    return (model, history, backup)
  }
  let reference = try mlp(seed: 8, optimizer: "rmsprop")
  try reference.fit(x, y, batchSize: 32, epochs: 5, verbose: 0)

  let (_, interrupted, _) = try run(stopAfter: 1)
  #expect(interrupted.epochs == [0, 1])
  #expect(
    FileManager.default.fileExists(
      atPath: URL(fileURLWithPath: directory).appendingPathComponent("backup.strata").path))
  let (resumed, history, backup) = try run(stopAfter: nil)
  #expect(backup.restoredEpoch == 2)
  #expect(history.epochs == [2, 3, 4])
  #expect(resumed.weights == reference.weights)
  // Finished: the backup is gone.
  #expect(!FileManager.default.fileExists(atPath: backup.file.path))
}

@Test func modelCheckpointNamesFilesAndKeepsTheBest() throws {
  let (x, y) = try fashionSlice(64)
  let model = try mlp()
  let pattern = temporaryURL("ck").path + "/model-{epoch:02d}-{loss:.3f}.strata"
  let every = ModelCheckpoint(pattern)
  let best = ModelCheckpoint(
    temporaryURL("best.strata").path, monitor: "val_accuracy", saveBestOnly: true,
    saveWeightsOnly: true)
  let history = try model.fit(
    x, y, batchSize: 16, epochs: 3, verbose: 0, validationData: (x, y), callbacks: [every, best])
  #expect(every.saved.count == 3)
  #expect(
    every.saved[1].hasSuffix("model-02-\(String(format: "%.3f", history["loss"]![1])).strata"))
  #expect(every.saved.allSatisfy { FileManager.default.fileExists(atPath: $0) })
  let accuracies = history["val_accuracy"]!
  let improvements = accuracies.indices.filter { i in
    accuracies[..<i].allSatisfy { $0 < accuracies[i] }
  }
  #expect(best.saved.count == improvements.count)
  #expect(
    try formatCheckpointPath("w.{epoch}.{val_loss:.2f}", epoch: 4, logs: ["val_loss": 0.12345])
      == "w.5.0.12")
  #expect(
    throws: StrataError.invalidArgument(
      owner: "ModelCheckpoint", argument: "filepath", value: "\'{val_acc}\'",
      expected: "fields among epoch, loss")
  ) { try formatCheckpointPath("{val_acc}", epoch: 0, logs: ["loss": 1]) }
}

/// Every corruption of a saved file gives an error, never a crash: truncations, flipped bytes, random
/// overwrites, and files that are not model files at all.
@Test func corruptedFilesAlwaysGiveAnError() throws {
  let (x, y) = try fashionSlice(32)
  let model = try Sequential(
    [
      Flatten(inputShape: [28, 28]), Dense(4, activation: "relu"), Dense(10, activation: "softmax"),
    ], seed: 1)
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  try model.fit(x, y, epochs: 1, verbose: 0)
  let url = temporaryURL("small.strata")
  try model.save(to: url)
  let original = try Data(contentsOf: url)
  var generator = SeededGenerator(seed: 2024)
  let corrupted = temporaryURL("corrupted.strata")
  var attempts = 0
  for trial in 0..<300 {
    var bytes = [UInt8](original)
    switch trial % 4 {
    case 0: bytes = Array(bytes.prefix(Int(generator.next() % UInt64(bytes.count))))
    case 1:
      let i = Int(generator.next() % UInt64(bytes.count))
      bytes[i] ^= UInt8(1 << (generator.next() % 8))
    case 2:
      for _ in 0..<8 {
        bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(
          truncatingIfNeeded: generator.next())
      }
    default:
      bytes = (0..<Int(generator.next() % 5000)).map { _ in
        UInt8(truncatingIfNeeded: generator.next())
      }
    }
    guard bytes != [UInt8](original) else { continue }
    try Data(bytes).write(to: corrupted)
    attempts += 1
    do {
      _ = try Sequential.load(from: corrupted)
      Issue.record("trial \(trial): a corrupted file loaded")
    } catch StrataError.file(let path, _) {
      #expect(path == corrupted.path, "trial \(trial)")
    }
  }
  #expect(attempts > 250)
  #expect(throws: StrataError.file(path: "/nonexistent.strata", reason: "no such file")) {
    try Sequential.load(from: URL(fileURLWithPath: "/nonexistent.strata"))
  }
}

@Test func wrongShapesAndUnknownIdentifiersAreNamed() throws {
  let model = try Sequential([Input(shape: [6]), Dense(4), Dense(3)], seed: 1)
  let url = temporaryURL("shapes.strata")
  try model.saveWeights(to: url)
  let other = try Sequential([Input(shape: [6]), Dense(5), Dense(3)], seed: 1)
  #expect(
    throws: StrataError.file(
      path: url.path,
      reason: "holds weight 'dense/kernel' of shape [6, 4], but the model's is [6, 5]")
  ) {
    try other.loadWeights(from: url)
  }
  // A file naming a layer from a plugin nobody registered: the error names it and its package.
  var (header, tensors) = model.fileContents(weightsOnly: false)
  header["model"] = [
    "class_name": "Sequential",
    "config": [
      "name": "sequential",
      "layers": [
        ["class_name": "InputLayer", "config": ["batch_shape": [nil, 6]]],
        ["class_name": "Acme>Widget", "config": [:]],
      ],
    ],
  ]
  header["packages"] = ["Acme>Widget": "Acme"]
  tensors = []
  let unknown = temporaryURL("unknown.strata")
  try AtomicFile.write(try ModelFile.encode(header: header, tensors: tensors), to: unknown)
  do {
    _ = try Sequential.load(from: unknown)
    Issue.record("loaded a model with an unregistered layer")
  } catch {
    #expect(
      "\(error)".contains("'Acme>Widget'") && "\(error)".contains("plugin package 'Acme'"),
      "\(error)")
  }
}

@Test func atomicWritesLeaveNoTemporaryFiles() throws {
  let url = temporaryURL("atomic.bin")
  try AtomicFile.write(Data([1, 2, 3]), to: url)
  try AtomicFile.write(Data([4, 5]), to: url)
  #expect(try Data(contentsOf: url) == Data([4, 5]))
  let leftovers = try FileManager.default.contentsOfDirectory(
    atPath: url.deletingLastPathComponent().path)
  #expect(leftovers == ["atomic.bin"])
  do {
    try AtomicFile.write(Data([1]), to: URL(fileURLWithPath: "/nonexistent-dir/x.bin"))
    Issue.record("a write into a missing directory succeeded")
  } catch StrataError.file(let path, let reason) {
    #expect(
      path == "/nonexistent-dir/x.bin" && reason.hasPrefix("cannot be written: creating .x.bin.")
        && reason.hasSuffix("(No such file or directory)"), "\(reason)")
  }
  var bytes: [UInt8] = Array("123456789".utf8)
  // the standard check value
  #expect(bytes.withUnsafeMutableBytes { crc32(UnsafeRawBufferPointer($0)) } == 0xCBF4_3926)
}

@Test func learningCurvesAsCSVAndSVG() throws {
  var history = History()
  history.append(
    epoch: 0, logs: ["loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75])
  history.append(
    epoch: 1, logs: ["loss": 0.4, "accuracy": 0.85, "val_loss": 0.55, "val_accuracy": 0.78])
  #expect(
    history.csv
      == "epoch,loss,val_loss,accuracy,val_accuracy\n1,0.5,0.6,0.8,0.75\n2,0.4,0.55,0.85,0.78\n")
  let svg = history.svg(title: "test")
  #expect(svg.hasPrefix("<svg") && svg.hasSuffix("</svg>\n"))
  // loss, val_loss, accuracy, val_accuracy
  #expect(svg.components(separatedBy: "<polyline").count - 1 == 4)
  let url = temporaryURL("curves.svg")
  try history.writeSVG(to: url)
  #expect(try String(contentsOf: url, encoding: .utf8) == history.svg())
}

/// Every optimizer's state (slots and step count, Nadam's momentum product too) and a
/// BatchNormalization layer's moving statistics survive save and load: one epoch, save, load, one more
/// epoch ends bit-identical to two epochs in one go.
@Test(
  arguments: [
    ("sgd", [:]), ("sgd", ["momentum": 0.9, "nesterov": true]),
    ("rmsprop", ["momentum": 0.5, "centered": true]),
    ("adagrad", [:]), ("adadelta", ["learning_rate": 1.0]), ("adam", ["amsgrad": true]),
    ("adamw", [:]), ("adamax", [:]),
    ("nadam", [:]),
  ] as [(String, ConfigDictionary)])
func everyOptimizerResumesExactly(_ name: String, _ config: ConfigDictionary) throws {
  let (x, y) = tinyImages()
  func model() throws -> Sequential {
    let model = try Sequential(
      [
        Conv2D(3, kernelSize: 3, inputShape: [6, 6, 1]), BatchNormalization(), Flatten(),
        Dense(3, activation: "softmax"),
      ], seed: 9)
    try model.compile(
      optimizer: try Registries.shared.optimizers.make(name, config: config),
      loss: "sparse_categorical_crossentropy",
      metrics: [
        try Registries.shared.metrics.make("sparse_top_k_categorical_accuracy", config: ["k": 2])
      ])
    return model
  }
  let straight = try model()
  try straight.fit(x, y, batchSize: 4, epochs: 2, verbose: 0)
  let first = try model()
  try first.fit(x, y, batchSize: 4, epochs: 1, verbose: 0)
  let url = temporaryURL("\(name).strata")
  try first.save(to: url)
  let resumed = try Sequential.load(from: url)
  #expect(resumed.optimizer?.iterations == first.optimizer?.iterations)
  #expect(resumed.optimizer?.state == first.optimizer?.state)
  // The metric object came back with its k.
  let history = try resumed.fit(x, y, batchSize: 4, epochs: 1, verbose: 0)
  #expect(history.history.keys.contains("sparse_top_k_categorical_accuracy"))
  #expect(resumed.weights == straight.weights, "\(name) \(config)")
  // The moving statistics moved during training and were restored, not re-initialized.
  let movingMean = try #require(
    resumed.layer(named: "batch_normalization")?.parameters.first { $0.name == "moving_mean" })
  #expect(movingMean.value.scalars.contains { $0 != 0 })
}

/// Twelve 6x6 one-channel images in three classes.
func tinyImages() -> (Tensor, Tensor) {
  var generator = SeededGenerator(seed: 21)
  var x = Tensor(shape: [12, 6, 6, 1])
  x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Float(generator.nextNormal()) } }
  return (x, Tensor((0..<12).map { Float($0 % 3) }))
}
