import Foundation
import Strata
import StrataSeedModels
import Testing

/// Every tutorial model builds from its seed with Keras' parameter count, twice alike, and compiles
/// with its tutorial's optimizer settings.
@Test func seedModelsBuildAsKerasCountsThem() throws {
  // Keras' counts: Dense 784·128 + 128 and 128·10 + 10; LSTM 4·128·(28 + 128 + 1) and Dense 128·10 + 10;
  // the word transformer's embedding 64·32, Conv1D 3·32·32 + 32, attention 4·(32·2·16 + 32), two
  // LayerNormalizations of 64, Dense 32·64 + 64, 64·32 + 32 and 32·5 + 5.
  let kerasCounts: [SeedModel: Int] = [
    .mlp: 101_770, .sequentialMNIST: 81_674, .wordTransformer: 13_861,
  ]
  for seedModel in SeedModel.allCases {
    let model = try seedModel.make(seed: 7)
    if let expected = kerasCounts[seedModel] {
      #expect(model.parameterCount == expected, "\(seedModel)")
    }
    let again = try seedModel.make(seed: 7)
    #expect(
      zip(model.parameters, again.parameters).allSatisfy { $0.value == $1.value }, "\(seedModel)")
    try seedModel.compile(model)
    let rate = try #require(model.optimizer?.learningRate)
    #expect(rate == (seedModel.learningRate ?? 0.001), "\(seedModel)")
    #expect(seedModel.batchSize == (seedModel == .deepMNIST ? 50 : 32))
  }
  // A learning rate given at compile time wins over the tutorial's.
  let model = try SeedModel.deepMNIST.make(seed: 1)
  try SeedModel.deepMNIST.compile(model, optimizer: "sgd", learningRate: 0.05)
  #expect(model.optimizer?.learningRate == 0.05)
  #expect(model.optimizer?.identifier == "SGD")
}
