import Foundation
import Strata
import StrataTesting
import Testing

let layerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(forResource: "layers", withExtension: "json", subdirectory: "Fixtures")!)

/// Builds the layer a fixture case describes from its Keras config, loads the Keras weights, and
/// compares the output, the input gradient and the weight gradients with Keras'.
func checkAgainstKeras(_ fixture: KerasCase, kernels: any Kernels) throws {
  let identifier = try #require(fixture["layer"]?.stringValue)
  let layer = try Registries.shared.layers.make(identifier, config: try #require(fixture["config"]?.objectValue))
  let x = try fixture.tensor("x")
  var generator = SeededGenerator(seed: 1)
  _ = try layer.build(inputShape: Array(x.shape.dropFirst()), generator: &generator)
  let weights = try fixture.tensors("weights")
  let names = fixture["weight_names"]?.arrayValue?.compactMap(\.stringValue) ?? []
  #expect(layer.parameters.map(\.name) == names)
  for (parameter, value) in zip(layer.parameters, weights) {
    #expect(parameter.shape == value.shape)
    parameter.value = value
  }
  let inference = try layer.forward(x, in: Context(kernels: kernels, isTraining: false))
  let y = try fixture.tensor("y"), expectedDx = try fixture.tensor("dx")
  #expect(isClose(inference, y), "\(fixture) y: \(closeness(inference, y))")
  let training = Context(kernels: kernels, isTraining: true)
  _ = try layer.forward(x, in: training)
  let dx = try layer.backward(try fixture.tensor("upstream"), in: training)
  #expect(isClose(dx, expectedDx), "\(fixture) dx: \(closeness(dx, expectedDx))")
  for (parameter, expected) in zip(layer.parameters, try fixture.tensors("d_weights")) {
    #expect(isClose(parameter.gradient, expected), "\(fixture) d\(parameter.name): \(closeness(parameter.gradient, expected))")
  }
}

@Test(arguments: layerFixture.cases.filter { ["Dense", "Flatten"].contains($0["layer"]?.stringValue) }, ["reference", "cpu"])
func layerMatchesKeras(_ fixture: KerasCase, backend: String) throws {
  try checkAgainstKeras(fixture, kernels: try Registries.shared.kernels.make(backend))
}

@Test func fixtureHasTheMLPLayers() {
  #expect(layerFixture.cases(where: "layer", is: "Dense").count == 2)
  #expect(layerFixture.cases(where: "layer", is: "Flatten").count == 1)
}
