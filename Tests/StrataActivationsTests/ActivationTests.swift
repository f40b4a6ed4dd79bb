import Foundation
import StrataActivations
import StrataCore
import StrataTesting
import Testing

// This plugin's tests link only StrataCore, the plugin and StrataTesting (no OpenBLAS, no oneDNN): the
// plugin is registered here, as a third-party plugin's tests would register theirs.

/// The activation identifiers, once the plugin is registered.
let activationIdentifiers: [String] = {
  registerActivations()
  return Registries.shared.activations.identifiers
}()

func registerActivations() {
  do { try register(ActivationsPlugin.self) } catch {
    fatalError("the activations plugin did not register: \(error)")
  }
}

let activationFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "activations", withExtension: "json", subdirectory: "Fixtures")!)

@Test(arguments: activationFixture.cases)
func activationMatchesKeras(_ fixture: KerasCase) throws {
  registerActivations()
  let name = try #require(fixture["activation"]?.stringValue)
  let activation = try Registries.shared.activations.make(name)
  let x = try fixture.tensor("x")
  let y = activation(x)
  let expectedY = try fixture.tensor("y"), expectedDx = try fixture.tensor("dx")
  #expect(isClose(y, expectedY), "\(name) forward: \(closeness(y, expectedY))")
  let dx = activation.gradient(at: x, upstream: try fixture.tensor("upstream"))
  #expect(isClose(dx, expectedDx), "\(name) gradient: \(closeness(dx, expectedDx))")
}

@Test func everySeedActivationIsCovered() {
  registerActivations()
  let fromFixture = Set(activationFixture.cases.compactMap { $0["activation"]?.stringValue })
  for name in [
    "softmax", "elu", "selu", "softplus", "softsign", "relu", "tanh", "sigmoid", "hard_sigmoid",
    "linear",
    "exponential", "swish", "gelu", "relu6", "mish", "log_softmax", "hard_swish",
  ] {
    #expect(fromFixture.contains(name), "no Keras reference for \(name)")
    #expect(Registries.shared.activations.contains(name))
  }
  #expect(Registries.shared.activations.contains("silu"))
  #expect(Registries.shared.activations.contains("hard_silu"))
}

@Test(arguments: activationIdentifiers)
func activationGradientCheck(_ name: String) throws {
  let activation = try Registries.shared.activations.make(name)
  // Odd widths exercise the SIMD tail; rows exercise row-wise activations.
  for shape in [[1, 1], [3, 7], [2, 33]] {
    let error = maxGradientError(of: activation, shape: shape)
    #expect(error < 1e-3, "\(name) \(shape): \(error)")
  }
}

/// SIMD loops against `Foundation` on a wide range, including the padded tail of a vector.
@Test func simdMathMatchesScalar() {
  var x = [Float]()
  var value: Float = -90
  while value < 90 { x.append(value); value += 0.37 }
  x.append(contentsOf: [0, -0, 1e-6, -1e-6, 88.7, -87.3])
  var exp = [Float](repeating: 0, count: x.count), tanh = exp
  x.withUnsafeBufferPointer { xs in
    exp.withUnsafeMutableBufferPointer { simdMap(xs, into: $0) { SIMDMath.exp($0) } }
    tanh.withUnsafeMutableBufferPointer { simdMap(xs, into: $0) { SIMDMath.tanh($0) } }
  }
  for i in x.indices {
    let expected = Foundation.exp(x[i])
    if expected.isFinite && expected > 1e-37 {
      #expect(
        abs(exp[i] - expected) <= 3e-7 * expected, "exp(\(x[i])) = \(exp[i]), expected \(expected)")
    }
    #expect(abs(tanh[i] - Foundation.tanh(x[i])) <= 2e-7, "tanh(\(x[i]))")
  }
}

@Test func softmaxIsStableForHugeLogits() {
  let softmax = Softmax()
  let y = softmax(try! Tensor([[1000, 1001, 1002], [-1000, -1000, -1000]]))
  #expect(y.scalars.allSatisfy { $0.isFinite })
  #expect(abs(y[0, 2] - 0.665_240_9) < 1e-6)
  #expect(abs(y[1, 0] - 1.0 / 3) < 1e-6)
  let logSoftmax = LogSoftmax()(try! Tensor([[1000, 0]]))
  #expect(abs(logSoftmax[0, 1] + 1000) < 1e-3 && logSoftmax[0, 0] == 0)
}

@Test func activationConfigsAndErrors() throws {
  registerActivations()
  let leaky = try Registries.shared.activations.make("leaky_relu", config: ["negative_slope": 0.1])
  #expect(leaky(Tensor([-2, 3])).scalars == [-0.2, 3])
  #expect(
    throws: StrataError.unknownArgument(owner: "leaky_relu", argument: "slope", suggestions: [])
  ) { try Registries.shared.activations.make("leaky_relu", config: ["slope": 0.1]) }
  do {
    _ = try Registries.shared.activations.make("sigmoide")
    Issue.record("an unknown activation was accepted")
  } catch let error as StrataError {
    guard case .unknownIdentifier(_, _, let suggestions) = error else {
      Issue.record("\(error)"); return
    }
    #expect(suggestions.first == "sigmoid")
  }
}

/// NaN propagates through every activation, as in Keras 3 (TensorFlow's and JAX's relu of NaN is NaN):
/// a NaN input must never come out as a finite number that hides it.
@Test(arguments: activationIdentifiers)
func activationsPropagateNaN(_ name: String) throws {
  let activation = try Registries.shared.activations.make(name)
  let x = try Tensor([[.nan, 1, -1]])
  let y = activation(x)
  #expect(y[0, 0].isNaN, "\(name)(NaN) = \(y[0, 0])")
  if !["softmax", "log_softmax"].contains(name) {
    // Element-wise: the other elements stay finite.
    #expect(y[0, 1].isFinite && y[0, 2].isFinite, "\(name) of finite values \(y.scalars)")
  }
}

/// A plugin's activation written with ops (Keras' `x * sigmoid(x)`), for the test below.
private struct OpsSwish: OpsActivation {
  static let identifier = "ops_swish_test"
  init(config: NoConfig = NoConfig()) {}
  func call(_ x: Tensor) throws -> Tensor { try x * Ops.sigmoid(x) }
}

/// An activation written forward-only computes and differentiates as the built-in it restates, and
/// passes the finite-difference check. (Registering it would put it among the identifiers the
/// activation tests iterate; `Examples/CustomLayers` trains its `LeakyReLU` activation in a layer.)
@Test func opsActivationsMatchTheBuiltInTheyRestate() throws {
  registerActivations()
  let builtIn = try Registries.shared.activations.make("swish")
  let written = OpsSwish()
  var generator = SeededGenerator(seed: 41)
  let x = try randomTensor([6, 5], in: -3...3, using: &generator)
  let dy = try randomTensor([6, 5], using: &generator)
  func run(_ activation: any Activation) -> (Tensor, Tensor) {
    var y = Tensor(shape: x.shape), dx = Tensor(shape: x.shape)
    x.withUnsafeBufferPointer { input in
      y.withUnsafeMutableBufferPointer { activation.forward(input, into: $0, rowLength: 5) }
      y.withUnsafeBufferPointer { output in
        dy.withUnsafeBufferPointer { gradient in
          dx.withUnsafeMutableBufferPointer {
            activation.backward(
              input: input, output: output, outputGradient: gradient, into: $0, rowLength: 5)
          }
        }
      }
    }
    return (y, dx)
  }
  let (y, dx) = run(written), (yReference, dxReference) = run(builtIn)
  #expect(zip(y.scalars, yReference.scalars).map { abs($0 - $1) }.max()! < 1e-5)
  #expect(zip(dx.scalars, dxReference.scalars).map { abs($0 - $1) }.max()! < 1e-5)
  #expect(maxGradientError(of: written, shape: [3, 4]) < 2e-3)
}

/// Activations used as ops (`Ops.activation`) differentiate through the tape within finite
/// differences.
@Test func activationsAsOpsPassTheGradientCheck() throws {
  registerActivations()
  let x = awayFromZero([2, 3], seed: 1)
  for name in ["gelu", "selu"] {
    let error = try maxGradientError(of: { try Ops.activation(Spec(name), $0[0]) }, at: [x])
    #expect(error < 2e-3, "\(name): \(error)")
  }
}
