import Foundation
import Strata
import StrataTesting
import Testing

/// Keras' `Dense` written forward-only with ops: the tape gives its backward pass.
final class OpsDense: OpsLayer {
  struct Config: KerasConfig, Equatable {
    var units = 1
    var activation: Spec = "linear"
    init() {}
  }
  static let identifier = "tests>OpsDense"
  let config: Config
  var kernel: Parameter?
  var bias: Parameter?
  init(config: Config) throws { self.config = config }
  convenience init(_ units: Int, activation: Spec = "linear") throws {
    var config = Config()
    (config.units, config.activation) = (units, activation)
    try self.init(config: config)
  }
  var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let initializer = try Registries.shared.initializer("glorot_uniform")
    kernel = Parameter(
      name: "kernel",
      value: try initializer.make(shape: [inputShape[0], config.units], generator: &generator))
    bias = Parameter(name: "bias", value: Tensor(shape: [config.units]))
    return [config.units]
  }
  func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try Ops.activation(config.activation, Ops.matmul(x, kernel!.value) + bias!.value)
  }
}

/// Trains with a tape of its own: mean squared error and the compiled optimizer, as the built-in step
/// would, and reports the batch's loss and a step count.
final class TapeTrainedModel: Model {
  var steps = 0
  override func trainStep(_ batch: Batch) throws -> Logs {
    let weights = trainableParameters
    let tape = GradientTape()
    let loss = try tape.record(watching: weights) {
      try Ops.mean(Ops.square(self(batch.x[0], training: true) - batch.y[0]))
    }
    try optimizer!.apply(tape.gradients(of: loss, parameters: weights), to: weights)
    steps += 1
    return ["loss": loss.scalars[0], "steps": Float(steps)]
  }
}

/// Runs the built-in step and counts it: `super.trainStep` is Keras' `super().train_step(data)`.
final class CountingModel: Model {
  var steps = 0
  override func trainStep(_ batch: Batch) throws -> Logs {
    steps += 1
    return try super.trainStep(batch)
  }
}

@Suite struct OpsTrainingTests {
  let data: (x: Tensor, y: Tensor) = {
    var generator = SeededGenerator(seed: 21)
    let x = try! randomTensor([40, 6], using: &generator)
    let y = try! randomTensor([40, 3], using: &generator)
    return (x, y)
  }()

  /// Two models with the same weights, one of built-in Dense layers, one of forward-only ones.
  func pair(functional: Bool) throws -> (Model, Model) {
    let builtIn = try make(functional: functional) { try Dense($0, activation: $1) }
    let ops = try make(functional: functional) { try OpsDense($0, activation: $1) }
    try builtIn.build(inputShape: [6])
    try ops.build(inputShape: [6])
    try ops.setWeights(builtIn.weights)
    return (builtIn, ops)
  }

  func make<Dense: Layer>(functional: Bool, _ dense: (Int, Spec) throws -> Dense) throws -> Model {
    if functional {
      // The second layer is applied twice: its weights are shared and get both calls' gradients.
      let input = try Input(shape: [6])
      let shared = try dense(6, "tanh")
      let first = try dense(6, "relu").apply(
        to: [input.symbolicTensor], takesList: false, name: nil)
      let hidden = try shared.apply(to: [first], takesList: false, name: nil)
      let twice = try shared.apply(to: [hidden], takesList: false, name: nil)
      let output = try dense(3, "linear").apply(to: [twice], takesList: false, name: nil)
      return try Model(inputs: [input], outputs: [output], seed: 2)
    }
    let model = try Sequential(seed: 2)
    try model.add(InputLayer(config: .init(shape: [6])))
    try model.add(dense(8, "relu"))
    try model.add(Dropout(0.25))
    try model.add(dense(3, "softmax"))
    return model
  }

  @Test(arguments: [false, true])
  func forwardOnlyLayersTrainAsBuiltIns(functional: Bool) throws {
    let (builtIn, ops) = try pair(functional: functional)
    for model in [builtIn, ops] {
      try model.compile(optimizer: "adam", loss: "mse")
    }
    let expected = try builtIn.fit(data.x, data.y, batchSize: 8, epochs: 3, verbose: 0)
    let history = try ops.fit(data.x, data.y, batchSize: 8, epochs: 3, verbose: 0)
    for (a, b) in zip(history["loss"] ?? [], expected["loss"] ?? []) {
      #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "loss \(a) vs \(b)")
    }
    #expect(history["loss"]?.count == 3)
    for (a, b) in zip(ops.weights, builtIn.weights) {
      #expect(isClose(a, b, rtol: 1e-4, atol: 1e-5))
    }
    #expect(isClose(try ops.predict(data.x), try builtIn.predict(data.x), rtol: 1e-4, atol: 1e-5))
  }

  @Test func forwardOnlyLayersTrainDistributedAsOneProcess() throws {
    let single = try pair(functional: false).1
    try single.compile(optimizer: "sgd", loss: "mse")
    try single.fit(data.x, data.y, batchSize: 8, epochs: 2, verbose: 0, shuffle: false)
    let weights = try ThreadGroup.run(size: 2) { communicator -> [Tensor] in
      let model = try pair(functional: false).1
      model.communicator = communicator
      try model.compile(optimizer: "sgd", loss: "mse")
      try model.fit(data.x, data.y, batchSize: 8, epochs: 2, verbose: 0, shuffle: false)
      return model.weights
    }
    for rank in weights {
      for (a, b) in zip(rank, single.weights) { #expect(isClose(a, b, rtol: 1e-4, atol: 1e-5)) }
    }
  }

  @Test func aCustomTrainStepKeepsFitsLoop() throws {
    let input = try Input(shape: [6])
    let output = try Dense(3)(try Dense(5, activation: "tanh")(input))
    let custom = try TapeTrainedModel(inputs: [input], outputs: [output], seed: 4)
    let reference = try Model(config: custom.config, seed: 4)
    try reference.setWeights(custom.weights)
    for model in [custom, reference] {
      try model.compile(optimizer: SGD(learningRate: 0.05), loss: "mse")
    }
    let history = try custom.fit(
      data.x, data.y, batchSize: 10, epochs: 2, verbose: 0, shuffle: false)
    try reference.fit(data.x, data.y, batchSize: 10, epochs: 2, verbose: 0, shuffle: false)
    // The same updates as fit's own step, and fit reports what the step returned.
    for (a, b) in zip(custom.weights, reference.weights) {
      #expect(isClose(a, b, rtol: 1e-4, atol: 1e-6))
    }
    #expect(custom.steps == 8)
    #expect(history["steps"] == [4, 8])
    let last = try Ops.mean(
      Ops.square(reference.predict(data.x.slice(rows: 30..<40)) - data.y.slice(rows: 30..<40)))
    #expect(history["loss"]?.count == 2)
    // The last batch's loss was computed before its update, so it is close to but above this one.
    #expect(abs((history["loss"]?[1] ?? 0) - last.scalars[0]) < 0.05)

    let counting = try CountingModel(inputs: [input], outputs: [output], seed: 4)
    try counting.compile(optimizer: "sgd", loss: "mse")
    let counted = try counting.fit(data.x, data.y, batchSize: 10, epochs: 1, verbose: 0)
    #expect(counting.steps == 4)
    #expect(counted["loss"]?.count == 1)
    #expect(throws: StrataError.self) { try counting.builtInStep(Batch(x: [data.x], y: [data.y])) }
  }

  @Test func aLossWrittenAsAFormulaTrainsLikeTheBuiltIn() throws {
    try? register(FormulaLossPlugin.self)
    let loss = try Registries.shared.losses.make("tests>formula_mse")
    var generator = SeededGenerator(seed: 5)
    let prediction = try randomTensor([4, 3], using: &generator)
    let target = try randomTensor([4, 3], using: &generator)
    let builtIn = try Registries.shared.losses.make("mse")
    #expect(abs(try loss(target, prediction) - builtIn(target, prediction)) < 1e-6)
    #expect(
      isClose(try loss.gradient(target, prediction), try builtIn.gradient(target, prediction)))
    // By its string, through compile and fit.
    let (a, b) = try pair(functional: false)
    try a.compile(optimizer: "sgd", loss: "mse", metrics: ["mae"])
    try b.compile(optimizer: "sgd", loss: "tests>formula_mse", metrics: ["formula_mae"])
    let expected = try a.fit(data.x, data.y, batchSize: 8, epochs: 2, verbose: 0, shuffle: false)
    let history = try b.fit(data.x, data.y, batchSize: 8, epochs: 2, verbose: 0, shuffle: false)
    for (x, y) in zip(history["loss"] ?? [], expected["loss"] ?? []) {
      #expect(abs(x - y) < 1e-5)
    }
    // A metric written as a formula, by string, reports what the built-in one does.
    #expect(history["formula_mae"]?.count == 2)
    for (x, y) in zip(history["formula_mae"] ?? [], expected["mae"] ?? []) {
      #expect(abs(x - y) < 1e-5)
    }
  }
}

/// Mean squared error written with ops, registered by string.
struct FormulaMSE: OpsLoss {
  static let identifier = "formula_mse"
  init(config: NoConfig = NoConfig()) {}
  func call(_ target: Tensor, _ prediction: Tensor) throws -> Tensor {
    try Ops.mean(Ops.square(prediction - target), axis: -1)
  }
}

/// Mean absolute error written with ops, registered by string.
final class FormulaMAE: MeanMetricBase, OpsMetric {
  static let identifier = "formula_mae"
  let config = NoConfig()
  init(config: NoConfig) {}
  func call(_ target: Tensor, _ prediction: Tensor) throws -> Tensor {
    try Ops.mean(Ops.abs(prediction - target), axis: -1)
  }
}

enum FormulaLossPlugin: Plugin {
  static let package = "tests"
  static func register(in registrar: Registrar) throws {
    try registrar.register(FormulaMSE.self)
    try registrar.register(FormulaMAE.self)
  }
}

/// Keras' `ActivityRegularizationLayer` example: passes its input through and adds
/// `rate · Σ x² / batch` with `addLoss`, what `activity_regularizer=L2(rate)` adds.
final class ActivityPenalty: ShapePreservingLayer, OpsLayer {
  struct Config: KerasConfig, Equatable {
    var rate: Float = 0.01
    init() {}
  }
  static let identifier = "tests>ActivityPenalty"
  let config: Config
  init(config: Config) throws { self.config = config }
  func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try addLoss(Ops.sum(Ops.square(x)) * (config.rate / Float(x.shape[0])))
    return x
  }
}

@Suite struct AddLossTests {
  @Test func aLayersAddedLossTrainsAsAnActivityRegularizer() throws {
    var generator = SeededGenerator(seed: 31)
    let x = try randomTensor([24, 5], using: &generator)
    let y = try randomTensor([24, 2], using: &generator)
    let regularized = try Sequential(seed: 3)
    try regularized.add("Dense", ["units": 4, "input_shape": [5], "activity_regularizer": "l2"])
    try regularized.add("Dense", ["units": 2])
    let adding = try Sequential(seed: 3)
    try adding.add("Dense", ["units": 4, "input_shape": [5]])
    var config = ActivityPenalty.Config()
    config.rate = 0.01  // Keras' l2 default
    try adding.add(ActivityPenalty(config: config))
    try adding.add("Dense", ["units": 2])
    try adding.setWeights(regularized.weights)
    for model in [regularized, adding] { try model.compile(optimizer: "sgd", loss: "mse") }
    let expected = try regularized.fit(x, y, batchSize: 8, epochs: 3, verbose: 0, shuffle: false)
    let history = try adding.fit(x, y, batchSize: 8, epochs: 3, verbose: 0, shuffle: false)
    for (a, b) in zip(history["loss"] ?? [], expected["loss"] ?? []) {
      #expect(abs(a - b) <= 1e-5 * max(1, abs(b)), "loss \(a) vs \(b)")
    }
    #expect(history["loss"]?.count == 3)
    for (a, b) in zip(adding.weights, regularized.weights) {
      #expect(isClose(a, b, rtol: 1e-4, atol: 1e-6))
    }
    // evaluate reports the added term too, as Keras does.
    let evaluated = try adding.evaluate(x, y, verbose: 0)
    let reference = try regularized.evaluate(x, y, verbose: 0)
    #expect(abs((evaluated["loss"] ?? 0) - (reference["loss"] ?? 1)) < 1e-5)
  }

  @Test func addLossRefusesWhatItCannotAdd() throws {
    let layer = try ActivityPenalty(config: .init())
    #expect(throws: StrataError.self) { try layer.addLoss(Tensor(scalar: 1)) }
    #expect(
      throws: StrataError.invalidArgument(
        owner: "tests>ActivityPenalty", argument: "addLoss", value: "a tensor of shape [2]",
        expected: "a scalar (sum or average the terms first)")
    ) { try layer.addLoss(Tensor([1, 2])) }
  }
}

/// Adds a bias of the wrong length: its op's error must name the op, the shapes and the layer.
final class MisshapenBias: ShapePreservingLayer, OpsLayer {
  typealias Config = NoConfig
  static let identifier = "tests>MisshapenBias"
  let config = NoConfig()
  init(config: NoConfig) throws {}
  func call(_ x: Tensor, training: Bool) throws -> Tensor { try x + Tensor([1, 2]) }
}

/// `√|x|`: an infinite gradient at 0.
final class RootOfMagnitude: ShapePreservingLayer, OpsLayer {
  typealias Config = NoConfig
  static let identifier = "tests>RootOfMagnitude"
  let config = NoConfig()
  init(config: NoConfig) throws {}
  func call(_ x: Tensor, training: Bool) throws -> Tensor { Ops.sqrt(Ops.abs(x)) }
}

@Suite struct OpsRefusalTests {
  @Test func anOpsShapeErrorNamesTheOpTheShapesAndTheLayer() throws {
    let model = try Sequential()
    try model.add(Dense(3, inputShape: [4]))
    try model.add(MisshapenBias(config: NoConfig()))
    let error = refusal { try model.predict(Tensor(shape: [2, 4])) }
    #expect(
      error
        == .shapeMismatch(
          layer: "ops.add in misshapen_bias (tests>MisshapenBias)", received: "(2, 3) and (2,)",
          expected: "shapes that broadcast (equal or 1 on each axis)"))
    // Called outside a model, the layer's identifier.
    let direct = refusal { try MisshapenBias(config: NoConfig())(Tensor(shape: [2, 3])) }
    #expect(
      direct
        == .shapeMismatch(
          layer: "ops.add in layer tests>MisshapenBias", received: "(2, 3) and (2,)",
          expected: "shapes that broadcast (equal or 1 on each axis)"))
  }

  @Test func anInfiniteGradientEndsTrainingThroughTerminateOnNaN() throws {
    // Zero weights make the root's input 0, where its gradient is infinite: the first update
    // makes the weights NaN and the next batch's loss is NaN.
    let model = try Sequential(seed: 1)
    try model.add(Dense(3, kernelInitializer: "zeros", inputShape: [4]))
    try model.add(RootOfMagnitude(config: NoConfig()))
    try model.add(Dense(1))
    try model.compile(optimizer: "sgd", loss: "mse")
    var generator = SeededGenerator(seed: 2)
    let x = try randomTensor([32, 4], using: &generator)
    let y = try randomTensor([32, 1], using: &generator)
    let stop = TerminateOnNaN()
    try model.fit(x, y, batchSize: 8, epochs: 2, verbose: 0, callbacks: [stop])
    #expect(stop.terminatedAtBatch == 1)
    #expect(!model.completedTraining)
  }
}
