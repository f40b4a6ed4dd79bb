import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

let activationLayerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "activation_layers", withExtension: "json", subdirectory: "Fixtures")!)

/// ReLU (every option), Softmax (two axes) and ELU, made from Keras' configs, give Keras' output and
/// input gradient (generate_activation_layers.py), and their tape gradients match finite differences.
@Test(arguments: activationLayerFixture.cases)
func activationLayerMatchesKeras(_ fixture: KerasCase) throws {
  try checkAgainstKeras(fixture, kernels: ReferenceKernels())
  let identifier = try #require(fixture["layer"]?.stringValue)
  let layer = try registries.layers.make(
    identifier, config: try #require(fixture["config"]?.objectValue))
  let x = try fixture.tensor("x")
  let error = try maxGradientError(
    of: layer, inputShape: x.shape, input: x, epsilon: 1e-3)
  #expect(error < 1e-2, "\(fixture): \(error)")
}

@Test func activationLayersCoverTheirOptions() {
  #expect(activationLayerFixture.cases(where: "layer", is: "ReLU").count == 5)
  #expect(activationLayerFixture.cases(where: "layer", is: "Softmax").count == 2)
  #expect(activationLayerFixture.cases(where: "layer", is: "ELU").count == 2)
}

/// The message of the error `body` throws, or `nil`.
private func refusalMessage<Result>(_ body: () throws -> Result) -> String? {
  refusal(body).map { "\($0)" }
}

@Test func activationLayersRefuseKerasInvalidArguments() throws {
  let negative = refusalMessage { try ReLULayer(maxValue: -1) }
  #expect(negative?.contains("ReLU") == true && negative?.contains("max_value") == true)
  #expect(refusalMessage { try ReLULayer(negativeSlope: -0.5) }?.contains("negative_slope") == true)
  #expect(refusalMessage { try ELULayer(alpha: .nan) }?.contains("alpha") == true)
  let softmax = try SoftmaxLayer(axis: 3)
  var generator = SeededGenerator(seed: 1)
  let axis = refusalMessage { _ = try softmax.build(inputShape: [4, 5], generator: &generator) }
  #expect(axis?.contains("axis") == true && axis?.contains("3") == true)
  // By Keras' name, with the option spelled as Keras spells it.
  let relu6 = try registries.layers.make("ReLU", config: ["max_value": 6.0])
  #expect(try relu6.build(inputShape: [3], generator: &generator) == [3])
  let out = try relu6.forward(
    Tensor([[-1, 3, 9]]), in: Context(kernels: ReferenceKernels(), isTraining: false))
  #expect(out.scalars == [0, 3, 6])
}
