import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

let schedules = kerasFixture("schedules")

/// Every schedule of Keras' file: the rate at steps 0…24 (float32, steps past `decay_steps`
/// included), and the config written back as Keras serializes it.
@Test(arguments: schedules.cases(where: "kind", is: "schedule").indices)
func scheduleMatchesKeras(_ index: Int) throws {
  let reference = schedules.cases(where: "kind", is: "schedule")[index]
  let serialized = try #require(reference["serialized"])
  let schedule = try Registries.shared.schedule(serialized)
  let steps = try #require(reference["steps"]?.arrayValue).compactMap(\.intValue)
  let rates = try #require(reference["learning_rates"]?.arrayValue).compactMap(\.doubleValue)
  #expect(steps.count == 25 && rates.count == 25)
  for (step, rate) in zip(steps, rates) {
    let value = Double(schedule.learningRate(at: step))
    #expect(abs(value - rate) <= 1e-5 * max(abs(rate), 1e-3), "step \(step): \(value) vs \(rate)")
  }
  let config = try #require(reference["config"]?.objectValue)
  let written = try #require(schedule.serialized.objectValue?["config"]?.objectValue)
  for (key, value) in config {
    let mine = try #require(written[key], "\(key)")
    if let number = value.doubleValue, let other = mine.doubleValue {
      #expect(abs(number - other) < 1e-12, "\(key)")
    } else if let numbers = value.arrayValue?.compactMap(\.doubleValue), !numbers.isEmpty {
      #expect(mine.arrayValue?.compactMap(\.doubleValue) == numbers, "\(key)")
    } else {
      #expect(mine == value, "\(key)")
    }
  }
  #expect(Set(written.keys) == Set(config.keys))
}

/// Keras' run with Adam on an `ExponentialDecay`: the rate of every step, the running loss, the final
/// weights, the step count; the schedule survives saving, and a resumed run follows it.
@Test func scheduledAdamTrainsAsKerasDoes() throws {
  let reference = try #require(schedules.cases(where: "kind", is: "training").first)
  let optimizerConfig = try #require(reference["optimizer_config"]?.objectValue)
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(256)
  func model() throws -> Sequential {
    let model = try Sequential([
      Flatten(inputShape: [28, 28]), Dense(32, activation: "relu"),
      Dense(10, activation: "softmax"),
    ])
    try model.setWeights(try reference.tensors("initial_weights"))
    try model.compile(
      optimizer: try Registries.shared.optimizers.make("adam", config: optimizerConfig),
      loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return model
  }
  final class RateRecorder: Callback {
    var rates: [Float] = []
    var losses: [Float] = []
    func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {
      rates.append(model.optimizer!.learningRate)
      losses.append(logs["loss"]!)
    }
  }
  let keras = try model()
  let recorder = RateRecorder()
  try keras.fit(
    data.normalizedImages(), data.labelTensor(), batchSize: 32, epochs: 2, verbose: 0,
    shuffle: false, callbacks: [recorder])
  let rates = try #require(reference["learning_rate_used_at_each_step"]?.arrayValue).compactMap(
    \.doubleValue)
  #expect(recorder.rates.count == rates.count)
  for (rate, keras) in zip(recorder.rates, rates) {
    #expect(abs(Double(rate) - keras) <= 1e-6 * keras, "\(rate) vs \(keras)")
  }
  let losses = try #require(reference["running_mean_loss_after_each_step"]?.arrayValue)
    .compactMap(\.doubleValue)
  for (actual, expected) in zip(recorder.losses, losses) {
    #expect(abs(Double(actual) - expected) <= 1e-4 * abs(expected))
  }
  // Ten times the plain Adam run's rate: float32 rounding differences grow with it (the worst element
  // measured 1.24 · (1e-5 + 1e-4 · |w|) off).
  for (actual, expected) in zip(keras.weights, try reference.tensors("final_weights")) {
    #expect(isClose(actual, expected, rtol: 2e-4, atol: 2e-5), "\(closeness(actual, expected))")
  }
  #expect(keras.optimizer?.iterations == reference["optimizer_iterations"]?.intValue)
  // Saved mid-run and resumed: the same rates and weights as the whole run.
  let first = try model()
  try first.fit(
    data.normalizedImages(), data.labelTensor(), batchSize: 32, epochs: 1, verbose: 0,
    shuffle: false)
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "schedule-\(UUID().uuidString).strata")
  defer { try? FileManager.default.removeItem(at: url) }
  try first.save(to: url)
  let resumed = try Sequential.load(from: url)
  try resumed.fit(
    data.normalizedImages(), data.labelTensor(), batchSize: 32, epochs: 2, verbose: 0,
    shuffle: false, initialEpoch: 1)
  #expect(resumed.weights == keras.weights)
}

/// `LearningRateScheduler` sets each epoch's rate, and the history carries it as Keras 3's does.
@Test func learningRateSchedulerSetsAndLogsTheRate() throws {
  let (x, y) = tinyData(32)
  let model = try Sequential([Input(shape: [4]), Dense(3, activation: "softmax")], seed: 2)
  try model.compile(optimizer: try SGD(learningRate: 0.1), loss: "sparse_categorical_crossentropy")
  let history = try model.fit(
    x, y, batchSize: 16, epochs: 3, verbose: .silent,
    callbacks: [LearningRateScheduler { epoch, rate in epoch == 0 ? rate : rate / 2 }])
  #expect(history["learning_rate"] == [0.1, 0.05, 0.025])
  let plain = try model.fit(x, y, epochs: 1, verbose: .silent)
  #expect(plain["learning_rate"] == nil)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "PiecewiseConstantDecay", argument: "values", value: "of 2 entries",
      expected: "one more than the 2 boundaries")
  ) {
    try Registries.shared.schedules.make(
      "PiecewiseConstantDecay", config: ["boundaries": [1, 2], "values": [1, 0.5]])
  }
}

/// The Swift spelling of a schedule or an initializer makes what its Keras arguments make: each
/// memberwise init against the registry's decoding of the same arguments.
@Test func swiftInitsMakeWhatKerasArgumentsMake() throws {
  func decoded<T: SelfConfigured>(_ type: T.Type, _ arguments: ConfigDictionary) throws -> T {
    try T(config: ConfigCoding.decode(T.self, from: arguments, owner: T.identifier))
  }
  #expect(
    try ExponentialDecay(initialLearningRate: 0.1, decaySteps: 10, decayRate: 0.5, staircase: true)
      == decoded(
        ExponentialDecay.self,
        ["initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5, "staircase": true]))
  #expect(
    try InverseTimeDecay(initialLearningRate: 0.2, decaySteps: 4, decayRate: 1.5)
      == decoded(
        InverseTimeDecay.self, ["initial_learning_rate": 0.2, "decay_steps": 4, "decay_rate": 1.5]))
  #expect(
    try PolynomialDecay(initialLearningRate: 0.3, decaySteps: 8, power: 2, cycle: true)
      == decoded(
        PolynomialDecay.self,
        ["initial_learning_rate": 0.3, "decay_steps": 8, "power": 2, "cycle": true]))
  #expect(
    try CosineDecay(
      initialLearningRate: 0.1, decaySteps: 20, alpha: 0.1, warmupTarget: 0.2, warmupSteps: 5)
      == decoded(
        CosineDecay.self,
        [
          "initial_learning_rate": 0.1, "decay_steps": 20, "alpha": 0.1, "warmup_target": 0.2,
          "warmup_steps": 5,
        ]))
  #expect(
    try PiecewiseConstantDecay(boundaries: [10, 20], values: [1, 0.5, 0.1])
      == decoded(PiecewiseConstantDecay.self, ["boundaries": [10, 20], "values": [1, 0.5, 0.1]]))
  #expect(
    try RandomNormal(mean: 1, stddev: 0.5, seed: 3)
      == decoded(RandomNormal.self, ["mean": 1, "stddev": 0.5, "seed": 3]))
  #expect(
    try TruncatedNormal(mean: -1, stddev: 2, seed: 4)
      == decoded(TruncatedNormal.self, ["mean": -1, "stddev": 2, "seed": 4]))
  #expect(
    try RandomUniform(minval: -2, maxval: 2, seed: 5)
      == decoded(RandomUniform.self, ["minval": -2, "maxval": 2, "seed": 5]))
  #expect(try Constant(value: 2.5) == decoded(Constant.self, ["value": 2.5]))
  #expect(try Orthogonal(gain: 2, seed: 6) == decoded(Orthogonal.self, ["gain": 2, "seed": 6]))
  // And a bad argument is refused on both paths, by name.
  #expect(
    refusal { try ExponentialDecay(initialLearningRate: 0.1, decaySteps: 0, decayRate: 0.5) }?
      .description.contains("decay_steps") == true)
}
