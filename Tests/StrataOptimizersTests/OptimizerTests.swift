import Foundation
import StrataCore
import StrataOptimizers
import StrataTesting
import Testing

/// The shared registries with the optimizers registered. These tests link StrataCore and the plugin, not
/// the `Strata` umbrella, so they register the plugin as a third-party plugin's tests would.
let registries: Registries = {
  do {
    try register(OptimizersPlugin.self)
  } catch {
    fatalError("the plugin did not register: \(error)")
  }
  return .shared
}()

let optimizerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "optimizers", withExtension: "json", subdirectory: "Fixtures")!)

@Test(arguments: optimizerFixture.cases)
func optimizerMatchesKeras(_ fixture: KerasCase) throws {
  let name = try #require(fixture["optimizer"]?.stringValue)
  let optimizer = try registries.optimizers.make(
    name, config: fixture["config"]?.objectValue ?? [:])
  let parameter = Parameter(name: "w", value: try fixture.tensor("w0"))
  let expected = try fixture.tensors("weights_after_each_step")
  for (step, gradient) in try fixture.tensors("grads").enumerated() {
    parameter.gradient = gradient
    optimizer.apply(to: [parameter])
    #expect(
      isClose(parameter.value, expected[step]),
      "\(name) \(fixture["config"]!) step \(step + 1): \(closeness(parameter.value, expected[step]))"
    )
  }
  #expect(optimizer.iterations == 4)
}

@Test func defaultsMatchKeras() throws {
  for fixture in optimizerFixture.cases {
    let name = fixture["optimizer"]!.stringValue!
    let optimizer = try registries.optimizers.make(
      name, config: fixture["config"]?.objectValue ?? [:])
    let defaults = try #require(fixture["resolved_defaults"]?.objectValue)
    #expect(abs(Double(optimizer.learningRate) - defaults["learning_rate"]!.doubleValue!) < 1e-9)
    // Every other resolved default Keras records (beta_1, rho, epsilon, momentum, nesterov, …) is the
    // config's; Keras' moving-average (EMA) options are not implemented and must be at their off default.
    let config = optimizer.configDictionary
    for (key, expected) in defaults where key != "learning_rate" {
      if key == "use_ema" || key == "ema_momentum" {
        #expect(config[key] == nil || config[key] == expected, "\(name) \(key)")
        continue
      }
      let actual = try #require(config[key], "\(name) has no \(key) in its config \(config)")
      if let number = expected.doubleValue {
        #expect(
          abs((actual.doubleValue ?? .nan) - number) <= 1e-7 * max(1, abs(number)),
          "\(name) \(key): \(actual) vs \(expected)")
      } else {
        #expect(actual == expected, "\(name) \(key): \(actual) vs \(expected)")
      }
    }
  }
  #expect(try registries.optimizers.make("adam").identifier == "Adam")
  #expect(try registries.optimizers.make("ADAMW").identifier == "AdamW")
  #expect(try registries.optimizers.make("rmsprop").identifier == "RMSprop")
  #expect(try registries.optimizers.make("sgd").identifier == "SGD")
}

/// Every optimizer, fed finite-difference gradients of `f(w) = Σ aᵢ (wᵢ - cᵢ)²`, moves against the
/// gradient on its first step (each coordinate, from zero state) and ends near the minimizer `c`, which
/// the test knows independently of any optimizer. (The exact update rules are pinned by the Keras
/// trajectories in `optimizerMatchesKeras`.)
@Test(arguments: registries.optimizers.identifiers)
func optimizerGradientCheck(_ name: String) throws {
  let a: [Double] = [1, 2, 0.5, 3, 1.5], c: [Double] = [0.3, -0.7, 1.2, 0.1, -0.4]
  func f(_ w: [Double]) -> Double {
    var sum = 0.0
    for i in 0..<5 { sum += a[i] * (w[i] - c[i]) * (w[i] - c[i]) }
    return sum
  }
  let learningRate = name == "Adadelta" ? 1.0 : name == "SGD" ? 0.1 : 0.02
  let optimizer = try registries.optimizers.make(
    name, config: ["learning_rate": .double(learningRate)])
  let parameter = Parameter(name: "w", value: Tensor([0, 0, 0, 0, 0]))
  let steps = name == "Adadelta" ? 3000 : name == "Adagrad" ? 3000 : 1500
  for step in 0..<steps {
    let w = parameter.value.scalars.map(Double.init)
    let g = (0..<5).map { i -> Float in
      var plus = w, minus = w
      plus[i] += 1e-3
      minus[i] -= 1e-3
      return Float((f(plus) - f(minus)) / 2e-3)
    }
    parameter.gradient = Tensor(g)
    optimizer.apply(to: [parameter])
    if step == 0 {
      for i in 0..<5 {
        #expect(
          parameter.value[i] * g[i] < 0, "\(name): the first step of w\(i) follows the gradient")
      }
    }
  }
  let distance = zip(parameter.value.scalars, c).map { abs(Double($0) - $1) }.max()!
  #expect(distance < 0.05, "\(name) ends at \(parameter.value.scalars), minimizer \(c)")
}

@Test func clippingAndInvalidArguments() throws {
  let sgd = try registries.optimizers.make(
    "sgd", config: ["learning_rate": 1, "clipnorm": 1])
  let parameter = Parameter(name: "w", value: Tensor([0, 0]))
  parameter.gradient = Tensor([3, 4])
  sgd.apply(to: [parameter])
  #expect(parameter.value.scalars.map { ($0 * 1e5).rounded() / 1e5 } == [-0.6, -0.8])
  let clipped = try registries.optimizers.make(
    "sgd", config: ["learning_rate": 1, "clipvalue": 0.5])
  parameter.gradient = Tensor([3, -0.25])
  clipped.apply(to: [parameter])
  #expect(parameter.value.scalars.map { ($0 * 1e5).rounded() / 1e5 } == [-1.1, -0.55])
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Adam", argument: "learning_rate", value: "-1.0", expected: "a number ≥ 0")
  ) { try registries.optimizers.make("adam", config: ["learning_rate": -1]) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "SGD", argument: "momentum", value: "1.5", expected: "a number in [0, 1)")
  ) { try registries.optimizers.make("sgd", config: ["momentum": 1.5]) }
  #expect(
    throws: StrataError.unknownArgument(
      owner: "Adam", argument: "beta1x", suggestions: ["beta_1", "beta_2"])
  ) {
    try registries.optimizers.make("adam", config: ["beta1x": 0.9])
  }
}

/// `global_clipnorm` scales every gradient by `limit / ‖all gradients‖` when that norm is above the
/// limit (Keras): gradients [3, 4] and [12] have the global norm 13.
@Test func globalClipnormScalesAllGradientsTogether() throws {
  let sgd = try registries.optimizers.make(
    "sgd", config: ["learning_rate": 1, "global_clipnorm": 1])
  let a = Parameter(name: "a", value: Tensor([0, 0])), b = Parameter(name: "b", value: Tensor([0]))
  a.gradient = Tensor([3, 4])
  b.gradient = Tensor([12])
  sgd.apply(to: [a, b])
  #expect(
    abs(a.value[0] + 3.0 / 13) < 1e-6 && abs(a.value[1] + 4.0 / 13) < 1e-6
      && abs(b.value[0] + 12.0 / 13) < 1e-6)
  // Below the limit, gradients pass unchanged.
  let loose = try registries.optimizers.make(
    "sgd", config: ["learning_rate": 1, "global_clipnorm": 100])
  a.gradient = Tensor([3, 4])
  b.gradient = Tensor([12])
  loose.apply(to: [a, b])
  #expect(abs(a.value[0] + 3.0 / 13 + 3) < 1e-5 && abs(b.value[0] + 12.0 / 13 + 12) < 1e-5)
}
