import Foundation
import Strata
import StrataCore
import StrataData
import StrataSeedModels

extension Train {
  /// `strata --model word-language`: the language of a word from its letters, on Debian's word
  /// lists (``StrataData/WordLanguages``), characters vectorized as Keras' `TextVectorization(
  /// split="character")` does. Validates on 10% of the training words (after a seeded shuffle) and
  /// reports the test accuracy.
  func trainOnWords(_ communicator: any Communicator) throws {
    let network =
      try resume.map { try loadModel(from: URL(fileURLWithPath: $0)) } ?? makeModel()
    network.kernels = try Registries.shared.kernels.make(backend)
    network.communicator = communicator
    let (train, test) = try WordLanguages.load(from: URL(fileURLWithPath: words))
    let vectorize = try TextVectorization(
      maxTokens: SeedModel.characterVocabulary, standardize: nil, split: "character",
      outputSequenceLength: SeedModel.wordLength)
    try vectorize.adapt(train.words)
    var order = Array(train.words.indices)
    var generator = SeededGenerator(seed: seed)
    order.shuffle(using: &generator)
    if let limit { order = Array(order.prefix(limit)) }
    let x = try vectorize(order.map { train.words[$0] })
    let y = try Tensor(shape: [order.count], scalars: order.map { Float(train.labels[$0]) })
    let testX = try vectorize(test.words)
    let testY = try Tensor(shape: [test.words.count], scalars: test.labels.map(Float.init))
    let names = WordLanguages.languages.map(\.name)
    Console.line(
      "Found \(train.words.count + test.words.count) words of \(names.count) languages \(names): \(order.count) for training, \(test.words.count) for testing; \(vectorize.vocabularySize) characters"
    )
    network.summary()
    let tutorial = SeedModel(rawValue: model) ?? .wordLanguage
    if resume == nil || network.optimizer == nil {
      try tutorial.compile(
        network, optimizer: optimizer ?? "adam", learningRate: learningRate, loss: loss)
    }
    let verbosity = verbose.map { Verbosity(integerLiteral: $0) } ?? .auto
    let epochs = self.epochs ?? tutorial.epochs, batchSize = self.batchSize ?? tutorial.batchSize
    let start = ContinuousClock.now
    let history = try network.fit(
      x, y, batchSize: batchSize, epochs: epochs, verbose: verbosity,
      validationSplit: noValidation ? 0 : (validationSplit ?? 0.1),
      callbacks: tensorboard.map { [TensorBoard($0)] } ?? [])
    let elapsed = ContinuousClock.now - start
    let logs = try network.evaluate(testX, testY, verbose: verbosity)
    Console.line(
      String(
        format: "Test accuracy: %.4f  Test loss: %.4f", logs["accuracy"] ?? 0, logs["loss"] ?? 0))
    let samples = Array(test.words.indices.filter { $0 % 997 == 0 }.prefix(5))
    let probabilities = try network.predict(try vectorize(samples.map { test.words[$0] }))
    for (row, index) in samples.enumerated() {
      Console.line(
        "Test word '\(test.words[index])': predicted \(names[predictedClass(probabilities, row: row)]), actually \(names[test.labels[index]])"
      )
    }
    let trained = history.epochs.count
    let training =
      order.count - Int(Float(order.count) * (noValidation ? 0 : (validationSplit ?? 0.1)))
    let steps = trained * ((training + batchSize - 1) / batchSize)
    let seconds =
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    if trained > 0 {
      Console.line(
        String(
          format: "Training: %.1f s for %d epochs, %.3f ms/step (validation included)", seconds,
          trained, seconds * 1000 / Double(max(steps, 1))))
    }
    if let save, communicator.rank == 0 {
      try network.save(to: URL(fileURLWithPath: save))
      Console.line("Saved the model to \(save)")
    }
  }
}
