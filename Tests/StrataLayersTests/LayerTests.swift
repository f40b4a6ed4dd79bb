import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

@Test(arguments: ["linear", "tanh", "sigmoid", "softmax", "elu"], [false, true])
func denseGradientCheck(activation: String, useBias: Bool) throws {
  let layer = try Dense(5, activation: Spec(activation), useBias: useBias)
  #expect(try maxGradientError(of: layer, inputShape: [3, 7]) < 1e-3)
  let rank3 = try Dense(4, activation: Spec(activation), useBias: useBias)
  #expect(try maxGradientError(of: rank3, inputShape: [2, 3, 6]) < 1e-3)
}

@Test func denseGradientCheckOnTheCPUBackend() throws {
  let layer = try Dense(6, activation: "tanh")
  #expect(try maxGradientError(of: layer, inputShape: [4, 9], kernels: DefaultKernels()) < 1e-3)
}

@Test func shapeLayersGradientCheck() throws {
  #expect(try maxGradientError(of: Flatten(), inputShape: [2, 3, 4, 2]) < 1e-3)
  #expect(try maxGradientError(of: Reshape([-1, 2]), inputShape: [2, 3, 4]) < 1e-3)
  #expect(try maxGradientError(of: ActivationLayer("softplus"), inputShape: [2, 5]) < 1e-3)
  #expect(try maxGradientError(of: ActivationLayer("softmax"), inputShape: [3, 4]) < 1e-3)
  #expect(try maxGradientError(of: Identity(), inputShape: [2, 3, 2]) < 1e-3)
}

/// Keras' `Identity`: made from its name and Keras' config, the input and its mask pass through.
@Test func identityPassesInputAndMask() throws {
  let layer = try registries.layers.make(
    "Identity", config: ["name": "identity", "trainable": true, "dtype": "float32"])
  var generator = SeededGenerator(seed: 1)
  #expect(try layer.build(inputShape: [4, 3], generator: &generator) == [4, 3])
  let x = try randomTensor([2, 4, 3], using: &generator)
  let mask = try Tensor(shape: [2, 4], scalars: [1, 1, 0, 0, 1, 1, 1, 0])
  let (y, passed) = try layer.forward(x, mask: mask, in: Context(isTraining: true))
  #expect(y == x && passed == mask)
  #expect(try layer.backward(x, in: Context(isTraining: true)) == x)
  #expect(refusal { try registries.layers.make("Identity", config: ["units": 3]) } != nil)
}

/// Dropout is `y = m ⊙ x` for a mask `m` fixed within a step, so its input gradient must be `m ⊙ dy`,
/// with `m` read off the forward pass as `y / x`.
@Test func dropoutTrainingAndInference() throws {
  let layer = try Dropout(0.25, seed: 3)
  var generator = SeededGenerator(seed: 0)
  _ = try layer.build(inputShape: [1000], generator: &generator)
  let x = Tensor(shape: [4, 1000], repeating: 2)
  #expect(try layer.forward(x, in: Context(isTraining: false)) == x)
  let training = Context(isTraining: true)
  let y = try layer.forward(x, in: training)
  let kept = y.scalars.filter { $0 != 0 }
  #expect(kept.allSatisfy { abs($0 - 2 / 0.75) < 1e-6 })
  let keptFraction = Double(kept.count) / 4000
  #expect(abs(keptFraction - 0.75) < 0.03, "kept \(keptFraction)")
  let dy = Tensor(shape: [4, 1000], repeating: 3)
  let dx = try layer.backward(dy, in: training)
  #expect(dx.scalars == y.scalars.map { $0 / 2 * 3 })
  // The same seed drops the same units.
  let again = try Dropout(0.25, seed: 3)
  _ = try again.build(inputShape: [1000], generator: &generator)
  #expect(try again.forward(x, in: training) == y)
}

@Test func layersConform() throws {
  let cases: [(any Layer, [Int], Int, [Int])] = [
    (try Dense(4, activation: "relu"), [6], 28, [4]),
    (try Dense(3, useBias: false), [2, 5], 15, [2, 3]),
    (Flatten(), [3, 4, 2], 0, [24]),
    (try Reshape([4, -1]), [2, 6], 0, [4, 3]),
    (try Dropout(0.5), [7], 0, [7]),
    (try ActivationLayer("tanh"), [5], 0, [5]),
    (try Input(shape: [3, 2]), [3, 2], 0, [3, 2]),
    (Identity(), [5, 2], 0, [5, 2]),
  ]
  for (layer, inputShape, count, outputShape) in cases {
    let report = checkLayer(
      layer, inputShape: inputShape, parameterCount: count, outputShape: outputShape)
    #expect(report.passed, "\(report)")
  }
}

@Test func invalidArgumentsThrowClearErrors() {
  #expect(
    refusal { try Dense(-3) }
      == .invalidArgument(
        owner: "Dense", argument: "units", value: "-3", expected: "a positive integer"))
  #expect(
    refusal { try registries.layers.make("Dense", config: ["units": 0]) }
      == .invalidArgument(
        owner: "Dense", argument: "units", value: "0", expected: "a positive integer"))
  #expect(
    refusal { try Dropout(1) }
      == .invalidArgument(
        owner: "Dropout", argument: "rate", value: "1.0", expected: "a number in [0, 1)"))
  #expect(
    refusal { try Dropout(-0.1) }
      == .invalidArgument(
        owner: "Dropout", argument: "rate", value: "-0.1", expected: "a number in [0, 1)"))
  #expect(
    refusal { try registries.layers.make("Dense", config: ["activation": "relu"]) }
      == .missingArgument(owner: "Dense", argument: "units"))
  #expect(
    refusal { try registries.layers.make("Dense", config: ["unit": 3]) }
      == .unknownArgument(owner: "Dense", argument: "unit", suggestions: ["units"]))
  #expect(
    refusal { try registries.layers.make("Dense", config: ["units": "many"]) }
      == .invalidArgument(
        owner: "Dense", argument: "units", value: "\"many\"", expected: "an integer"))
  #expect(
    refusal { try Reshape([0, 2]) }
      == .invalidArgument(
        owner: "Reshape", argument: "target_shape", value: "[0, 2]",
        expected: "positive sizes and at most one -1"))
  #expect(
    refusal { try Dense(3, activation: "relu7") }
      == .unknownIdentifier(
        kind: "activation", identifier: "relu7", suggestions: ["relu", "relu6"]))
  #expect(
    refusal { try Dense(3, kernelInitializer: "glorot") }
      == .unknownIdentifier(
        kind: "initializer", identifier: "glorot",
        suggestions: ["GlorotNormal", "GlorotUniform", "glorot_normal"]))
}

@Test func wrongInputShapesThrow() throws {
  let dense = try Dense(3)
  var generator = SeededGenerator(seed: 1)
  _ = try dense.build(inputShape: [4], generator: &generator)
  #expect(
    refusal { try dense.forward(Tensor(shape: [2, 5]), in: Context()) }
      == .shapeMismatch(
        layer: "Dense", received: "(None, 5)", expected: "a last axis of 4, like (None, 4)"))
  #expect(
    refusal { try dense.backward(Tensor(shape: [2, 3]), in: Context()) }
      == .shapeMismatch(layer: "Dense (backward)", received: "(2, 3)", expected: "(0,)"))
  let reshape = try Reshape([5])
  #expect(
    refusal { try reshape.build(inputShape: [2, 3], generator: &generator) }
      == .shapeMismatch(
        layer: "Reshape", received: "(None, 2, 3)",
        expected: "an input of the same size as the target shape (5,)"))
}

/// A layer that creates a weight in `build` and does not list it: the conformance check says so.
final class ForgetfulScale: Layer {
  typealias Config = NoConfig
  static let identifier = "ForgetfulScale"
  let config = NoConfig()
  private var scale: Parameter?
  init(config: NoConfig = NoConfig()) {}
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    scale = Parameter(name: "scale", value: Tensor(shape: [inputShape.last ?? 1], repeating: 2))
    return inputShape
  }
  func forward(_ x: Tensor, in context: Context) throws -> Tensor { x }
  func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor { outputGradient }
}

@Test func conformanceCatchesAForgottenWeight() {
  let report = checkLayer(ForgetfulScale(), inputShape: [4])
  #expect(
    report.problems.first
      == "ForgetfulScale: build created the weights [\"scale\"] but `parameters` does not list them; they would never be trained or saved"
  )
  // A layer that lists its weights passes that check.
  #expect(checkLayer(try! Dense(3), inputShape: [4], parameterCount: 15).passed)
}

@Test func layersDeclareNoInputShapeByDefault() {
  #expect(ForgetfulScale().declaredInputShape == nil)
}

/// A layer's activation may come from a `String` variable, as a `Spec`.
@Test func layersTakeAnActivationFromAStringVariable() throws {
  let name = "relu"
  let dense = try Dense(2, activation: "\(name)")
  #expect(dense.activation.identifier == "relu")
}
