import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

/// A base model as `keras.applications` gives one with `include_top=False`: images in, feature
/// maps out, with a BatchNormalization whose moving statistics are not the defaults.
private func makeBase() throws -> Model {
  let inputs = try Input(shape: [28, 28, 3])
  var x = try Conv2D(6, 3, strides: 2, activation: "relu")(inputs)
  let normalization = try BatchNormalization()
  x = try normalization(x)
  x = try Conv2D(8, 3, activation: "relu")(x)
  let base = try Model(inputs: inputs, outputs: x, name: "base", seed: 5)
  normalization.movingMean?.value = Tensor(shape: [6], repeating: 0.3)
  normalization.movingVariance?.value = Tensor(shape: [6], repeating: 2)
  return base
}

/// Fashion-MNIST's first 20 T-shirts and 20 trousers as IDX files, written as class folders by
/// `strata export-images`.
private func shirtsAndTrousers() throws -> URL {
  let (train, _) = try FashionMNIST.load()
  let chosen: [Int] = [0, 1].flatMap { (label: UInt8) -> [Int] in
    Array(train.labels.indices.filter { train.labels[$0] == label }.prefix(20))
  }
  let data = temporaryURL("transfer-idx").deletingLastPathComponent()
  func idx(_ shape: [Int], _ bytes: [UInt8]) -> Data {
    Data(
      [0, 0, 8, UInt8(shape.count)]
        + shape.flatMap { withUnsafeBytes(of: UInt32($0).bigEndian, Array.init) } + bytes)
  }
  var pixels: [UInt8] = []
  for index in chosen { pixels += train.images.bytes[(index * 784)..<((index + 1) * 784)] }
  for prefix in ["train", "t10k"] {
    try idx([chosen.count, 28, 28], pixels).write(
      to: data.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
    try idx([chosen.count], chosen.map { train.labels[$0] }).write(
      to: data.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
  }
  let target = temporaryURL("transfer-png").deletingLastPathComponent()
  let exported = runCommand(["export-images", target.path, "--data", data.path])
  #expect(exported.exitCode == 0, "\(exported.errors)")
  // Only the two classes: the other class folders are empty.
  let folder = target.appendingPathComponent("train")
  for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
  where !["T-shirt-top", "Trouser"].contains(name) {
    try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
  }
  return folder
}

@Suite("Transfer learning")
struct TransferLearningTests {
  /// `Model.classifier(on:)` builds the tutorial's model: the base frozen and in inference mode.
  @Test func classifierFreezesTheBase() throws {
    let base = try makeBase()
    let model = try Model.classifier(on: base, classes: 5, preprocessing: .torch)
    #expect(!base.trainable && base.parameters.allSatisfy { !$0.isTrainable })
    // Only the Dense head trains: 8 features · 5 classes + 5 biases.
    #expect(model.trainableParameters.reduce(0) { $0 + $1.count } == 8 * 5 + 5)
    let identifiers = model.layers.map(\.identifier)
    #expect(
      identifiers == [
        "InputLayer", "Rescaling", "Normalization", "Functional", "GlobalAveragePooling2D",
        "Dropout", "Dense",
      ])
    // Trained a step, the base's weights and moving statistics do not move.
    let before = base.parameters.map(\.value)
    try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
    let x = Tensor(shape: [4, 28, 28, 3], repeating: 100)
    try model.fit(x, try Tensor(shape: [4], scalars: [0, 1, 2, 3]), epochs: 2, verbose: 0)
    #expect(base.parameters.map(\.value) == before)
    let binary = try Model.classifier(on: try makeBase(), classes: 2)
    #expect(binary.modelOutputShapes == [[1]])
    #expect(throws: StrataError.self) { try Model.classifier(on: try makeBase(), classes: 1) }
  }

  /// `strata train --base base.keras --images DIR --fine-tune-at 3`: the head trains on the
  /// frozen base, then the base's top layers are fine-tuned; the frozen layers and the moving
  /// statistics (inference mode throughout) come out unchanged, and the saved model loads.
  @Test func commandTrainsAndFineTunesOnAnImageFolder() throws {
    let base = try makeBase()
    let directory = temporaryURL("transfer").deletingLastPathComponent()
    let basePath = directory.appendingPathComponent("base.keras")
    try base.save(to: basePath)
    let images = try shirtsAndTrousers()
    let saved = directory.appendingPathComponent("transfer.keras").path
    let result = runCommand([
      "train", "--base", basePath.path, "--images", images.path, "--epochs", "3",
      "--fine-tune-at", "3", "--fine-tune-epochs", "2", "--verbose", "2", "--seed", "3",
      "--learning-rate", "0.01", "--save", saved,
    ])
    #expect(result.exitCode == 0, "\(result.errors)")
    #expect(result.output.contains("Found 40 images of 2 classes"), "\(result.output)")
    #expect(result.output.contains("Fine-tuning the base's layers 3 to 3"), "\(result.output)")
    #expect(result.output.contains("Epoch 2/2"))
    let accuracies = printedValues("val_accuracy", in: result.output)
    #expect(accuracies.count == 5)
    let model = try loadModel(from: URL(fileURLWithPath: saved))
    let wrapper = try #require(model.layers.compactMap { $0 as? ModelLayer }.first)
    let tuned = wrapper.model
    #expect(wrapper.training == false)
    // Layers 1 (Conv2D) and 2 (BatchNormalization) stayed frozen; layer 3 was fine-tuned.
    for index in 1...3 {
      let same =
        tuned.layers[index].parameters.map(\.value)
        == base.layers[index].parameters.map(\.value)
      #expect(same == (index < 3), "layer \(index)")
    }
    let head = try #require(model.layers.last as? Dense)
    #expect(head.kernel?.shape == [8, 1])
    let bad = runCommand([
      "train", "--base", basePath.path, "--preprocess", "caffe", "--images", images.path,
    ])
    #expect(bad.exitCode != 0 && bad.errors.contains("--preprocess"), "\(bad.errors)")
    let noImages = runCommand(["train", "--base", basePath.path])
    #expect(noImages.exitCode != 0 && noImages.errors.contains("--images"))
  }
}

/// Counts its calls: a layer placed where the training step may or may not need it.
private final class CallCounter: ShapePreservingLayer, Layer {
  struct Config: KerasConfig, Equatable { init() {} }
  static let identifier = "tests>CallCounter"
  let config = Config()
  var trainingForwards = 0, inferenceForwards = 0, backwards = 0
  init(config: Config) throws {}
  override init() {}
  func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    if context.isTraining { trainingForwards += 1 } else { inferenceForwards += 1 }
    return x
  }
  func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    backwards += 1
    return outputGradient
  }
}

/// The layers before the first trainable one (a frozen base and what precedes it) run as inference
/// in `fit` and get no backward pass, in Sequential and functional models alike; the ones after
/// it do, and the step's results do not change.
@Test(arguments: [false, true])
func frozenPrefixRunsAsInference(functional: Bool) throws {
  let x = awayFromZero([16, 5], seed: 1), y = awayFromZero([16, 2], seed: 2)
  func train(freeze: Bool) throws -> (before: CallCounter, after: CallCounter, model: Model) {
    let (before, after) = (CallCounter(), CallCounter())
    let frozen = try Dense(6, activation: "tanh")
    frozen.trainable = !freeze
    let layers: [any Layer] = [
      before, frozen, try Dense(4, activation: "relu"), after, try Dense(2),
    ]
    let model: Model
    if functional {
      let inputs = try Input(shape: [5])
      var h: SymbolicTensor = inputs.symbolicTensor
      for layer in layers { h = try layer(h) }
      model = try Model(inputs: inputs, outputs: h, seed: 3)
    } else {
      model = try Sequential([try Input(shape: [5])] + layers, seed: 3)
    }
    try model.compile(optimizer: "sgd", loss: "mse")
    try model.fit(x, y, batchSize: 8, epochs: 2, verbose: 0, shuffle: false)
    return (before, after, model)
  }
  let (before, after, model) = try train(freeze: true)
  #expect(before.trainingForwards == 0 && before.backwards == 0 && before.inferenceForwards == 4)
  #expect(after.trainingForwards == 4 && after.backwards == 4)
  // With the first Dense trainable, the layers after the input still need no backward pass before
  // it, and the frozen run's trainable weights learnt what a run that computes everything learns.
  let (counted, _, _) = try train(freeze: false)
  #expect(counted.backwards == 0)
  // One SGD step moves the trainable weights by the gradients a full backward pass gives
  // (`gradients(inputs:upstream:)` carries the gradient through every layer).
  let start = model.weights
  let predictions = try model.predict(x)
  let upstream = try (predictions - y) * (2 / Float(predictions.count))
  let full = try model.gradients(inputs: [x], upstream: [upstream])
  let trainable = model.parameters.filter(\.isTrainable)
  let values = trainable.map(\.value)
  try model.compile(optimizer: SGD(learningRate: 0.1), loss: "mse")
  try model.fit(x, y, batchSize: 16, epochs: 1, verbose: 0, shuffle: false)
  for (parameter, (value, gradient)) in zip(trainable, zip(values, full)) {
    #expect(isClose(parameter.value, try value - gradient * 0.1, rtol: 1e-5, atol: 1e-6))
  }
  let frozenWeights = model.parameters.filter { !$0.isTrainable }.map(\.value)
  #expect(frozenWeights == Array(start.prefix(2)))
}
