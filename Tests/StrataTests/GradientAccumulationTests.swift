import Foundation
import Strata
import StrataTesting
import Testing

func accumulationModel(_ optimizer: any Optimizer) throws -> Sequential {
  let model = try Sequential(
    [Input(shape: [4]), Dense(6, activation: "tanh"), Dense(3, activation: "softmax")], seed: 3)
  try model.compile(optimizer: optimizer, loss: "sparse_categorical_crossentropy")
  return model
}

/// With SGD, two accumulated half batches are one whole batch: the mean of their gradients is the
/// whole batch's gradient, taken at the same weights.
@Test func accumulatedHalfBatchesMatchOneWholeBatch() throws {
  let (x, y) = tinyData(64)
  let whole = try accumulationModel(try SGD(learningRate: 0.1))
  try whole.fit(x, y, batchSize: 32, epochs: 2, verbose: .silent, shuffle: false)
  let optimizer = try Registries.shared.optimizers.make(
    "sgd", config: ["learning_rate": 0.1, "gradient_accumulation_steps": 2])
  let halves = try accumulationModel(optimizer)
  let before = halves.weights
  // One half batch changes nothing yet.
  try halves.fit(x.slice(rows: 0..<16), y.slice(rows: 0..<16), batchSize: 16, verbose: .silent)
  #expect(halves.weights == before)
  #expect(optimizer.iterations == 1)
  // The whole run from the start: 4 steps of 16 = 2 updates.
  let run = try accumulationModel(
    try Registries.shared.optimizers.make(
      "sgd", config: ["learning_rate": 0.1, "gradient_accumulation_steps": 2]))
  try run.fit(x, y, batchSize: 16, epochs: 2, verbose: .silent, shuffle: false)
  for (a, b) in zip(run.weights, whole.weights) {
    #expect(isClose(a, b, rtol: 1e-5, atol: 1e-6), "\(closeness(a, b))")
  }
  #expect(run.optimizer?.iterations == 8)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "SGD", argument: "gradient_accumulation_steps", value: "1",
      expected: "an integer ≥ 2")
  ) {
    try Registries.shared.optimizers.make("sgd", config: ["gradient_accumulation_steps": 1])
  }
}

/// The accumulated gradients are saved with the optimizer: a run saved between two updates and
/// resumed ends where an uninterrupted one does, for every optimizer.
@Test(arguments: ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam"])
func accumulationResumesExactly(_ name: String) throws {
  let (x, y) = tinyData(48)
  func optimizer() throws -> any Optimizer {
    try Registries.shared.optimizers.make(
      name, config: ["learning_rate": 0.01, "gradient_accumulation_steps": 3])
  }
  let uninterrupted = try accumulationModel(try optimizer())
  try uninterrupted.fit(x, y, batchSize: 16, epochs: 2, verbose: .silent, shuffle: false)
  let interrupted = try accumulationModel(try optimizer())
  // 4 of 6 steps: the accumulator holds one step's gradients when the file is written.
  try interrupted.fit(x, y, batchSize: 16, epochs: 1, verbose: .silent, shuffle: false)
  try interrupted.fit(
    x.slice(rows: 0..<16), y.slice(rows: 0..<16), batchSize: 16, verbose: .silent, shuffle: false)
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "accumulation-\(UUID().uuidString).strata")
  defer { try? FileManager.default.removeItem(at: url) }
  try interrupted.save(to: url)
  let resumed = try Sequential.load(from: url)
  try resumed.fit(
    x.slice(rows: 16..<48), y.slice(rows: 16..<48), batchSize: 16, verbose: .silent, shuffle: false)
  #expect(resumed.weights == uninterrupted.weights, "\(name)")
}
