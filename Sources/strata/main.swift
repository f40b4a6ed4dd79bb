import ArgumentParser
import Foundation
import Strata
import StrataData

/// The command-line tool: trains the tutorial models on Fashion-MNIST.
@main
struct StrataCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "strata",
    abstract: "Train Keras-style models on Fashion-MNIST with Strata.",
    subcommands: [Train.self],
    defaultSubcommand: Train.self)
}

/// The models `--model` knows by name.
enum BuiltInModel: String, CaseIterable, ExpressibleByArgument {
  case mlp

  /// The beginner tutorial: `Flatten - Dense(128, relu) - Dropout(0.2) - Dense(10, softmax)`.
  func make(seed: UInt64) throws -> Sequential {
    let model = try Sequential(seed: seed)
    try model.add("Flatten", ["input_shape": [28, 28]])
    try model.add("Dense", ["units": 128, "activation": "relu"])
    try model.add("Dropout", ["rate": 0.2])
    try model.add("Dense", ["units": 10, "activation": "softmax"])
    return model
  }
}

struct Train: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Build a model from string identifiers, train it, and evaluate it on the test set.")

  @Option(help: "A built-in model (\(BuiltInModel.allCases.map(\.rawValue).joined(separator: ", "))) or a JSON file of Keras layer records.")
  var model = "mlp"

  @Option(help: "Epochs to train.")
  var epochs = 5

  @Option(name: .customLong("batch-size"), help: "Samples per training step.")
  var batchSize = 32

  @Option(help: "An optimizer identifier (adam, sgd, rmsprop, …).")
  var optimizer = "adam"

  @Option(name: .customLong("learning-rate"), help: "The optimizer's learning rate (its Keras default when not given).")
  var learningRate: Float?

  @Option(help: "The loss identifier.")
  var loss = "sparse_categorical_crossentropy"

  @Option(help: "Seed for initial weights, dropout and shuffling.")
  var seed: UInt64 = 42

  @Option(help: "The directory holding the Fashion-MNIST IDX files.")
  var data = FashionMNIST.defaultDirectory.path

  @Option(help: "Train on the first N training images only (all when not given).")
  var limit: Int?

  @Option(help: "0: silent, 1: progress bar, 2: one line per epoch (default: a bar on a terminal).")
  var verbose: Int?

  @Flag(name: .customLong("no-validation"), help: "Do not evaluate on the test set after each epoch.")
  var noValidation = false

  func makeModel() throws -> Sequential {
    if let builtIn = BuiltInModel(rawValue: model) { return try builtIn.make(seed: seed) }
    let url = URL(fileURLWithPath: model)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw StrataError.invalidArgument(
        owner: "strata", argument: "--model", value: "'\(model)'",
        expected: "one of \(BuiltInModel.allCases.map(\.rawValue)) or an existing JSON file")
    }
    return try Sequential(json: Data(contentsOf: url), seed: seed)
  }

  func run() throws {
    do {
      try train()
    } catch let error as StrataError {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode.failure
    }
  }

  func train() throws {
    let (trainSet, testSet) = try FashionMNIST.load(from: URL(fileURLWithPath: data))
    let training = limit.map { trainSet.prefix($0) } ?? trainSet
    let x = training.normalizedImages(), y = training.labelTensor()
    let testX = testSet.normalizedImages(), testY = testSet.labelTensor()

    let network = try makeModel()
    try network.build(inputShape: Array(x.shape.dropFirst()))
    print(network.summary())
    var optimizerConfig: ConfigDictionary = [:]
    if let learningRate { optimizerConfig["learning_rate"] = .double(Double(learningRate)) }
    try network.compile(
      optimizer: try Registries.shared.optimizers.make(optimizer, config: optimizerConfig), loss: loss, metrics: ["accuracy"])
    let verbosity = verbose.map { Verbosity(integerLiteral: $0) } ?? .auto
    let start = ContinuousClock.now
    try network.fit(
      x, y, batchSize: batchSize, epochs: epochs, verbose: verbosity, validationData: noValidation ? nil : (testX, testY))
    let elapsed = ContinuousClock.now - start
    let logs = try network.evaluate(testX, testY, verbose: verbosity)
    let steps = epochs * ((x.shape[0] + batchSize - 1) / batchSize)
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    print(String(format: "Test accuracy: %.4f  Test loss: %.4f", logs["accuracy"] ?? 0, logs["loss"] ?? 0))
    let sample = testSet.prefix(5)
    let predictions = try network.predict(sample.normalizedImages())
    for (i, label) in sample.labels.enumerated() {
      let row = (0..<10).map { predictions[i, $0] }
      let guess = row.indices.max { row[$0] < row[$1] } ?? 0
      print("Test image \(i): predicted \(FashionMNIST.classNames[guess]) (\(String(format: "%.2f", row[guess]))), actually \(FashionMNIST.classNames[Int(label)])")
    }
    print(
      String(
        format: "Training: %.1f s for %d epochs, %.2f s/epoch, %.3f ms/step", seconds, epochs,
        seconds / Double(max(epochs, 1)), seconds * 1000 / Double(max(steps, 1)))
        + (noValidation ? "" : " (validation included)"))
  }
}
