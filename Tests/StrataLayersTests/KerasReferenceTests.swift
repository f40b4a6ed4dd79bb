import Foundation
import StrataCore
import StrataLayers
import StrataActivations
import StrataBLAS
import StrataCPU
import StrataDNNL
import StrataInitializers
import StrataSIMD
import StrataTesting
import Testing

/// The shared registries with the plugins these tests use. They link StrataCore and the plugins, not
/// the `Strata` umbrella, so they register them as a third-party plugin's tests would: the kernels
/// backends first, then the activations and initializers the layers look up, then the layers.
let registries: Registries = {
  let plugins: [any Plugin.Type] = [
    SIMDPlugin.self, BLASPlugin.self, DNNLPlugin.self, CPUPlugin.self, ActivationsPlugin.self,
    InitializersPlugin.self, LayersPlugin.self,
  ]
  for plugin in plugins {
    do { try register(plugin) } catch { fatalError("\(plugin) did not register: \(error)") }
  }
  return .shared
}()

/// The backends convolution and pooling are checked on: every registered one.
let convolutionBackends = registries.kernels.identifiers

/// The "dnnl" and "cpu" cases above compare oneDNN with Keras only if oneDNN runs here; if it did not
/// start, they would silently test the reference loops twice.
@Test func oneDNNRunsForTheConvolutionCases() {
  #expect(DNNLKernels.isAvailable, "oneDNN did not start on this machine")
}

let layerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "layers", withExtension: "json", subdirectory: "Fixtures")!)

/// Builds the layer a fixture case describes from its Keras config, loads the Keras weights, and
/// compares the output, the input gradient and the weight gradients with Keras'.
func checkAgainstKeras(
  _ fixture: KerasCase, kernels: any Kernels, rtol: Float = 1e-5, atol: Float = 1e-6
) throws {
  let identifier = try #require(fixture["layer"]?.stringValue)
  let layer = try registries.layers.make(
    identifier, config: try #require(fixture["config"]?.objectValue))
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
  #expect(
    isClose(inference, y, rtol: rtol, atol: atol),
    "\(fixture) y: \(closeness(inference, y, rtol: rtol, atol: atol))")
  let training = Context(kernels: kernels, isTraining: true)
  _ = try layer.forward(x, in: training)
  let dx = try layer.backward(try fixture.tensor("upstream"), in: training)
  #expect(
    isClose(dx, expectedDx, rtol: rtol, atol: atol),
    "\(fixture) dx: \(closeness(dx, expectedDx, rtol: rtol, atol: atol))")
  for (parameter, expected) in zip(layer.parameters, try fixture.tensors("d_weights")) {
    #expect(
      isClose(parameter.gradient, expected, rtol: rtol, atol: atol),
      "\(fixture) d\(parameter.name): \(closeness(parameter.gradient, expected, rtol: rtol, atol: atol))"
    )
  }
}

/// Every case of the fixture on every registered backend, with the tolerance the case gives (Keras'
/// summation order differs from oneDNN's for convolutions and pooling: atol 1e-4 there).
@Test(arguments: layerFixture.cases, convolutionBackends)
func layerMatchesKeras(_ fixture: KerasCase, backend: String) throws {
  let tolerance = fixture["tolerance"]?.objectValue
  try checkAgainstKeras(
    fixture, kernels: try registries.kernels.make(backend),
    rtol: Float(tolerance?["rtol"]?.doubleValue ?? 1e-5),
    atol: Float(tolerance?["atol"]?.doubleValue ?? 1e-6))
}

@Test func fixtureHasTheMLPLayers() {
  #expect(layerFixture.cases(where: "layer", is: "Dense").count == 2)
  #expect(layerFixture.cases(where: "layer", is: "Flatten").count == 1)
}
