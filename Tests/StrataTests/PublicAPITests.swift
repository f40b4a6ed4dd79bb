import Foundation
import Strata
import StrataCommandLine
import StrataData
import StrataSeedModels
import Testing

/// The public conveniences no other test reached (coverage said which), each with a value to check.
@Test func typedConstructorsMatchTheirIdentifiers() throws {
  // Optimizers by type, with the arguments given.
  func check(_ optimizer: any Optimizer, _ identifier: String, _ rate: Float) {
    #expect(optimizer.identifier == identifier && optimizer.learningRate == rate)
  }
  let adamW = try AdamW(learningRate: 0.002)
  check(adamW, "AdamW", 0.002)
  check(try Adamax(learningRate: 0.003), "Adamax", 0.003)
  check(try Nadam(learningRate: 0.004), "Nadam", 0.004)
  let rmsprop = try RMSprop(learningRate: 0.005, centered: true)
  check(rmsprop, "RMSprop", 0.005)
  check(try Adagrad(learningRate: 0.006), "Adagrad", 0.006)
  check(try Adadelta(learningRate: 0.007), "Adadelta", 0.007)
  let weightDecay = adamW.configDictionary["weight_decay"]?.doubleValue ?? 0
  #expect(abs(weightDecay - 0.004) < 1e-7)
  #expect(rmsprop.configDictionary["centered"] == true)
}

@Test func lossesMetricsInitializersByType() throws {
  // Losses from logits equal the same losses on the probabilities.
  let logits = try Tensor([[2, -1, 0.5]]), target = try Tensor([[0, 1, 0]])
  let softmax = Softmax()
  let probabilities = softmax(logits)
  let logitsLoss = CategoricalCrossentropy(fromLogits: true),
    probabilityLoss = CategoricalCrossentropy()
  let fromLogits = try logitsLoss(target, logits)
  let fromProbabilities = try probabilityLoss(target, probabilities)
  #expect(abs(fromLogits - fromProbabilities) < 1e-5)
  let binaryLogits = try Tensor([[0.3], [-2]]), binaryTarget = try Tensor([[1], [0]])
  let sigmoidActivation = try Registries.shared.activations.make("sigmoid")
  let sigmoid = sigmoidActivation(binaryLogits)
  let binaryLogitsLoss = BinaryCrossentropy(fromLogits: true), binaryLoss = BinaryCrossentropy()
  let binaryFromLogits = try binaryLogitsLoss(binaryTarget, binaryLogits)
  let binaryFromProbabilities = try binaryLoss(binaryTarget, sigmoid)
  #expect(abs(binaryFromLogits - binaryFromProbabilities) < 1e-5)
  // Huber with delta 2 on errors 1 and 3: (0.5 · 1 + 2 · (3 − 1)) / 2 = 2.25.
  let huberLoss = try Huber(config: .init(delta: 2))
  let huber = try huberLoss(Tensor([[0, 0]]), Tensor([[1, 3]]))
  #expect(abs(huber - 2.25) < 1e-6)
}

@Test func metricsInitializersByType() throws {
  // Metrics' configs: top-2 of [0.1, 0.5, 0.4] with label 2 is a hit, top-1 a miss; 0.7 passes a 0.6 threshold.
  let topTwo = try TopKCategoricalAccuracy(config: .init(k: 2)),
    topOne = try TopKCategoricalAccuracy(config: .init(k: 1))
  for metric in [topTwo, topOne] {
    try metric.update(prediction: Tensor([[0.1, 0.5, 0.4]]), target: Tensor([[0, 0, 1]]))
  }
  #expect(topTwo.result == 1 && topOne.result == 0)
  let binary = BinaryAccuracy(config: .init(threshold: 0.6))
  try binary.update(prediction: Tensor([[0.7], [0.65], [0.2]]), target: Tensor([[1], [0], [0]]))
  #expect(abs(binary.result - 2.0 / 3) < 1e-6)
}

@Test func initializersByType() throws {
  // Initializers and activations by their configs.
  var generator = SeededGenerator(seed: 1)
  let constant = try Constant(config: .init(value: 2.5)).make(shape: [3], generator: &generator)
  #expect(constant.scalars == [2.5, 2.5, 2.5])
  let seeded = try VarianceScaling(preset: "HeNormal", seed: 7)
  #expect(
    try seeded
      == VarianceScaling(scale: 2, mode: "fan_in", distribution: "truncated_normal", seed: 7))
  #expect(throws: StrataError.self) { try VarianceScaling(preset: "he_norml") }
  let leaky = try LeakyReLUActivation(config: .init(negativeSlope: 0.25))(Tensor([-4, 2]))
  #expect(leaky.scalars == [-1, 2])
}

/// A plugin written the simplest way: an element-wise activation (generic loops), registered by a
/// plugin type in one call, usable by name in a layer.
struct Cube: ElementwiseActivation {
  static let identifier = "cube"
  init(config: NoConfig = NoConfig()) {}
  func callAsFunction(_ x: Float) -> Float { x * x * x }
  func derivative(_ x: Float) -> Float { 3 * x * x }
}

enum CubePlugin: Plugin {
  static let package = "PublicAPITests"
  static func register(in registrar: Registrar) throws { try registrar.register(Cube.self) }
}

@Test func elementwiseActivationsFromAPluginWork() throws {
  try register(CubePlugin.self)
  try register(CubePlugin.self)  // a second call does nothing
  let cube = try Registries.shared.activations.make("PublicAPITests>cube")
  #expect(Cube().config == NoConfig())
  let x = try Tensor([[-2, 0.5, 3]])
  #expect(cube(x).scalars == [-8, 0.125, 27])
  let gradient = cube.gradient(at: x, upstream: try Tensor([[1, 2, 1]]))
  #expect(gradient.scalars == [12, 1.5, 27])
  let dense = try Dense(2, activation: "cube", inputShape: [3])
  #expect(dense.config.activation.description == "cube")
}

@Test func descriptionsAndSmallAccessors() throws {
  #expect(Tensor([1, 2.5]).description == "Tensor(shape: [2], [1, 2.5])")
  #expect(Tensor((0..<10).map(Float.init)).description.hasSuffix(", 7, …])"))
  let spec: Spec = .init("RandomNormal", config: ["stddev": 0.1])
  #expect(spec.description == #"RandomNormal{"stddev":0.1}"#)
  let input = try Input(shape: [3, 2])
  #expect(input.declaredInputShape == [3, 2])
  #expect(try input.backward(Tensor([1, 2]), in: Context()) == Tensor([1, 2]))
  #expect(try Dense(2).declaredInputShape == nil)
  #expect(
    missingForward("Conv2D")
      == .invalidState(
        "Conv2D: backward was called without a forward pass in training mode before it."))
  #expect(SeedModel.allCases.map(\.epochs) == [5, 2, 1, 15, 3, 2, 8, 8])
  let (train, _) = try FashionMNIST.load()
  let raw = train.prefix(2).rawImages(), normalized = train.prefix(2).normalizedImages()
  #expect(raw.shape == [2, 28, 28] && raw.scalars.map { $0 / 255 } == normalized.scalars)
  #expect(raw.scalars.contains { $0 > 1 })
}

/// Keras users' habits: `Conv2D(32, 3)` and paths as strings.
@Test func kerasHabits() throws {
  let conv = try Conv2D(8, 3, activation: "relu")
  #expect(conv.config.kernelSize == IntPair(3, 3) && conv.config.filters == 8)
  let model = try Sequential([Conv2D(2, 3, inputShape: [5, 5, 1]), Flatten(), Dense(2)], seed: 4)
  try model.build(inputShape: [5, 5, 1])
  let path = temporaryURL("habits.strata").path
  try model.save(path)
  let loaded = try Sequential.load(path)
  #expect(loaded.weights == model.weights)
  let weightsPath = temporaryURL("habits.weights.strata").path
  try model.saveWeights(weightsPath)
  let other = try Sequential([Conv2D(2, 3, inputShape: [5, 5, 1]), Flatten(), Dense(2)], seed: 5)
  try other.loadWeights(weightsPath)
  #expect(other.weights == model.weights)
}

/// The protocols' defaults for plugins that take no arguments, and the commands' own initializers.
@Test func defaultsForArgumentlessPlugins() throws {
  #expect(Zeros().config == NoConfig())
  #expect(MeanSquaredError().config == NoConfig())
  #expect(CategoricalAccuracy().config == NoConfig())
  _ = Train()
  _ = Predict()
  #expect(throws: (any Error).self) { try Predict.parse(["model.strata", "--count", "0"]) }
  _ = try Predict.parse(["model.strata", "--count", "3"])
}

@Test func toCategoricalAndArgmaxAreKerasHelpers() throws {
  let labels = try Tensor(shape: [4], scalars: [2, 0, 1, 2])
  let oneHot = try toCategorical(labels)
  #expect(oneHot.shape == [4, 3])
  #expect(oneHot.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1])
  #expect(
    try toCategorical(try Tensor(shape: [2, 1], scalars: [1, 0]), classes: 4).shape == [2, 4])
  #expect(try oneHot.argmax(axis: -1).scalars == [2, 0, 1, 2])
  #expect(try oneHot.argmax(axis: 0).scalars == [1, 2, 0])
  let ties = try Tensor(shape: [1, 3], scalars: [5, 5, .nan])
  #expect(try ties.argmax().scalars == [2])
  #expect(try Tensor(shape: [1, 3], scalars: [5, 5, 1]).argmax().scalars == [0])
  #expect(
    throws: StrataError.invalidArgument(
      owner: "toCategorical", argument: "labels", value: "holding 1.5",
      expected: "whole numbers ≥ 0")
  ) { try toCategorical(try Tensor(shape: [1], scalars: [1.5])) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "toCategorical", argument: "labels", value: "holding 3",
      expected: "labels below classes (3)")
  ) { try toCategorical(try Tensor(shape: [1], scalars: [3]), classes: 3) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "argmax", argument: "axis", value: "2", expected: "an axis of a tensor of rank 2")
  ) { try oneHot.argmax(axis: 2) }
}
