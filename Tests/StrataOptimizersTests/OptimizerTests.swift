import Foundation
import Strata
import StrataTesting
import Testing

let optimizerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(forResource: "optimizers", withExtension: "json", subdirectory: "Fixtures")!)

@Test(arguments: optimizerFixture.cases)
func optimizerMatchesKeras(_ fixture: KerasCase) throws {
  let name = try #require(fixture["optimizer"]?.stringValue)
  let optimizer = try Registries.shared.optimizers.make(name, config: fixture["config"]?.objectValue ?? [:])
  let parameter = Parameter(name: "w", value: try fixture.tensor("w0"))
  let expected = try fixture.tensors("weights_after_each_step")
  for (step, gradient) in try fixture.tensors("grads").enumerated() {
    parameter.gradient = gradient
    optimizer.apply(to: [parameter])
    #expect(isClose(parameter.value, expected[step]), "\(name) \(fixture["config"]!) step \(step + 1): \(closeness(parameter.value, expected[step]))")
  }
  #expect(optimizer.iterations == 4)
}

@Test func defaultsMatchKeras() throws {
  for fixture in optimizerFixture.cases {
    let name = fixture["optimizer"]!.stringValue!
    let optimizer = try Registries.shared.optimizers.make(name, config: fixture["config"]?.objectValue ?? [:])
    let defaults = try #require(fixture["resolved_defaults"]?.objectValue)
    #expect(abs(Double(optimizer.learningRate) - defaults["learning_rate"]!.doubleValue!) < 1e-9)
  }
  #expect(try Registries.shared.optimizers.make("adam").identifier == "Adam")
  #expect(try Registries.shared.optimizers.make("ADAMW").identifier == "AdamW")
  #expect(try Registries.shared.optimizers.make("rmsprop").identifier == "RMSprop")
  #expect(try Registries.shared.optimizers.make("sgd").identifier == "SGD")
}

/// Every optimizer fed the gradient of `f(w) = Σ aᵢ (wᵢ - cᵢ)²` drives `f` down, and feeding it
/// central-difference gradients instead gives (nearly) the same trajectory.
@Test(arguments: ["SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW", "Adamax", "Nadam"])
func optimizerGradientCheck(_ name: String) throws {
  let a: [Float] = [1, 2, 0.5, 3, 1.5], c: [Float] = [0.3, -0.7, 1.2, 0.1, -0.4]
  func f(_ w: [Float]) -> Double { zip(zip(w, a), c).reduce(0) { $0 + Double($1.0.1) * Double(($1.0.0 - $1.1) * ($1.0.0 - $1.1)) } }
  let learningRate: Float = name == "Adadelta" ? 1 : name == "SGD" ? 0.05 : 0.05
  func run(numeric: Bool) throws -> (start: Double, end: Double, weights: [Float]) {
    let optimizer = try Registries.shared.optimizers.make(name, config: ["learning_rate": .double(Double(learningRate))])
    let parameter = Parameter(name: "w", value: Tensor([0, 0, 0, 0, 0]))
    let start = f(parameter.value.scalars)
    for _ in 0..<200 {
      let w = parameter.value.scalars
      var g = [Float](repeating: 0, count: 5)
      for i in 0..<5 {
        if numeric {
          var plus = w, minus = w
          plus[i] += 1e-2
          minus[i] -= 1e-2
          g[i] = Float((f(plus) - f(minus)) / 2e-2)
        } else {
          g[i] = 2 * a[i] * (w[i] - c[i])
        }
      }
      parameter.gradient = Tensor(g)
      optimizer.apply(to: [parameter])
    }
    return (start, f(parameter.value.scalars), parameter.value.scalars)
  }
  let analytic = try run(numeric: false), numeric = try run(numeric: true)
  #expect(analytic.end < 0.5 * analytic.start, "\(name): \(analytic.start) → \(analytic.end)")
  for (x, y) in zip(analytic.weights, numeric.weights) { #expect(abs(x - y) < 1e-3, "\(name)") }
}

@Test func clippingAndInvalidArguments() throws {
  let sgd = try Registries.shared.optimizers.make("sgd", config: ["learning_rate": 1, "clipnorm": 1])
  let parameter = Parameter(name: "w", value: Tensor([0, 0]))
  parameter.gradient = Tensor([3, 4])
  sgd.apply(to: [parameter])
  #expect(parameter.value.scalars.map { ($0 * 1e5).rounded() / 1e5 } == [-0.6, -0.8])
  let clipped = try Registries.shared.optimizers.make("sgd", config: ["learning_rate": 1, "clipvalue": 0.5])
  parameter.gradient = Tensor([3, -0.25])
  clipped.apply(to: [parameter])
  #expect(parameter.value.scalars.map { ($0 * 1e5).rounded() / 1e5 } == [-1.1, -0.55])
  #expect(throws: StrataError.self) { try Registries.shared.optimizers.make("adam", config: ["learning_rate": -1]) }
  #expect(throws: StrataError.self) { try Registries.shared.optimizers.make("sgd", config: ["momentum": 1.5]) }
  #expect(throws: StrataError.unknownArgument(owner: "Adam", argument: "beta1x", suggestions: ["beta_1", "beta_2"])) {
    try Registries.shared.optimizers.make("adam", config: ["beta1x": 0.9])
  }
}
