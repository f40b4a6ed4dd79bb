import Foundation
import Strata
import StrataData
import StrataSeedModels
import StrataTesting
import Testing

func tutorialCNN() throws -> Sequential {
  try #require(try SeedModel.cnn.make(seed: 1) as? Sequential)
}

@Test(arguments: ["cnn", "deep_mnist", "horses_vs_humans"])
func seedCNNsMatchKerasSummaries(name: String) throws {
  let reference = try #require(summaries.cases(where: "model", is: name).first)
  let seed: SeedModel = name == "cnn" ? .cnn : name == "deep_mnist" ? .deepMNIST : .horsesOrHumans
  let model = try #require(try seed.make(seed: 1) as? Sequential)
  try expectLayers(of: model, match: reference, name)
}

/// Checks `model`'s layers against a Keras summary case: names, types, parameter counts, output
/// shapes and the total.
func expectLayers(
  of model: Sequential, match reference: KerasCase, _ name: String,
  sourceLocation: SourceLocation = #_sourceLocation
) throws {
  let layers = try #require(reference["layers"]?.arrayValue, sourceLocation: sourceLocation)
  #expect(model.layers.count == layers.count, sourceLocation: sourceLocation)
  for (index, expected) in layers.enumerated() {
    let object = try #require(expected.objectValue, sourceLocation: sourceLocation)
    let what = "\(name) \(model.layerNames[index])"
    #expect(model.layerNames[index] == object["name"]?.stringValue, sourceLocation: sourceLocation)
    #expect(
      model.layers[index].identifier == object["type"]?.stringValue, "\(what)",
      sourceLocation: sourceLocation)
    #expect(
      model.layers[index].parameterCount == object["params"]?.intValue, "\(what)",
      sourceLocation: sourceLocation)
    let shape = try #require(object["output_shape"]?.arrayValue).dropFirst().compactMap(\.intValue)
    #expect(model.outputShapes[index] == shape, "\(what)", sourceLocation: sourceLocation)
  }
  #expect(
    model.parameterCount == reference["total_params"]?.intValue, sourceLocation: sourceLocation)
}

/// A few steps of the tutorial CNN on real images: the loss falls, and oneDNN and the reference
/// backend train to the same weights.
@Test func tutorialCNNTrainsOnFashionMNISTSlice() throws {
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(32)
  let x = try data.normalizedImages().reshaped(to: [32, 28, 28, 1]), y = data.labelTensor()
  var results: [[Tensor]] = []
  var losses: [[Float]] = []
  for backend in ["cpu", "reference"] {
    let model = try tutorialCNN()
    model.kernels = try Registries.shared.kernels.make(backend)
    try model.compile(
      optimizer: "adam", loss: SparseCategoricalCrossentropy(fromLogits: true),
      metrics: ["accuracy"])
    let history = try model.fit(x, y, batchSize: 16, epochs: 2, verbose: 0, shuffle: false)
    results.append(model.weights)
    losses.append(history["loss"]!)
  }
  #expect(losses[0].last! < losses[0].first!)
  for (a, b) in zip(losses[0], losses[1]) { #expect(abs(a - b) < 1e-3 * abs(b)) }
  for (a, b) in zip(results[0], results[1]) { #expect(isClose(a, b, rtol: 1e-3, atol: 1e-4)) }
}
