import Foundation
import Strata
import StrataTesting
import Testing

let constraints = kerasFixture("constraints")

/// Keras' constrained layers: two SGD steps with Keras' gradients, the weights after each step equal
/// `constraint(w - lr · g)` as Keras computed them (never constrained at build time).
@Test(arguments: constraints.cases.indices)
func constraintMatchesKeras(_ index: Int) throws {
  let reference = constraints.cases[index]
  let name = try #require(reference["layer"]?.stringValue)
  let layer = try Registries.shared.layers.make(
    name, config: try #require(reference["config"]?.objectValue))
  let initial = try reference.tensors("w0")
  let kernelShape = initial[0].shape
  var generator = SeededGenerator(seed: 1)
  _ = try layer.build(inputShape: Array(kernelShape.dropLast()), generator: &generator)
  let parameters = layer.parameters
  for (parameter, value) in zip(parameters, initial) { parameter.value = value }
  let rate = try #require(reference["optimizer_config"]?.objectValue?["learning_rate"]?.doubleValue)
  let optimizer = try SGD(learningRate: Float(rate))
  let grads = try #require(reference["grads"]?.arrayValue)
  let after = try #require(reference["weights_after_each_step"]?.arrayValue)
  for (step, (stepGrads, expected)) in zip(grads, after).enumerated() {
    for (parameter, gradient) in zip(
      parameters, try #require(stepGrads.arrayValue).map { try KerasCase.tensor(from: $0) })
    {
      parameter.gradient = gradient
    }
    optimizer.apply(to: parameters)
    let weights = try #require(expected.arrayValue).map { try KerasCase.tensor(from: $0) }
    for (parameter, keras) in zip(parameters, weights) {
      #expect(
        isClose(parameter.value, keras, rtol: 1e-5, atol: 1e-6),
        "case \(index) step \(step) \(parameter.name): \(closeness(parameter.value, keras))")
    }
  }
  // The constraint is part of the layer's config.
  let config = layer.configDictionary
  #expect((config["kernel_constraint"] != nil) == (reference["kernel_constraint"] != .null))
}

/// Constraints by their function names; `max_norm` keeps every unit's incoming norm at most 2.
@Test func constraintsByIdentifier() throws {
  let made = try ["max_norm", "unit_norm", "min_max_norm", "non_neg"].map {
    try Registries.shared.constraint(Spec($0))
  }
  #expect(made.map { type(of: $0).identifier } == ["MaxNorm", "UnitNorm", "MinMaxNorm", "NonNeg"])
  var config = Dense.Config(units: 3)
  config.weights.kernelConstraint = "max_norm"
  let dense = try Dense(config: config)
  var generator = SeededGenerator(seed: 1)
  _ = try dense.build(inputShape: [4], generator: &generator)
  let kernel = try #require(dense.kernel)
  kernel.value = Tensor(shape: [4, 3], repeating: 5)
  kernel.gradient = Tensor(shape: [4, 3])
  try SGD(learningRate: 0.1).apply(to: dense.parameters)
  // Each column: norm 10 → 2, so every entry 5 · 2 / (10 + 1e-7).
  for value in kernel.value.scalars { #expect(abs(value - 1) < 1e-5) }
  #expect(dense.configDictionary["kernel_constraint"] == "max_norm")
  #expect(throws: StrataError.self) {
    try Registries.shared.constraint(Spec("max_nrom"))
  }
}
