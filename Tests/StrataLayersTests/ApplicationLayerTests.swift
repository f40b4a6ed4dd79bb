import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

let applicationLayerFixtureURL = Bundle.module.url(
  forResource: "application_layers", withExtension: "json", subdirectory: "Fixtures")!
let applicationLayerFixture = try! KerasFixture(contentsOf: applicationLayerFixtureURL)

/// DepthwiseConv2D, SeparableConv2D, Normalization, LayerNormalization and per-channel Rescaling
/// made from Keras' configs with Keras' weights give Keras' output, input gradient and weight
/// gradients (generate_application_layers.py).
@Test(arguments: applicationLayerFixture.cases)
func applicationLayerMatchesKeras(_ fixture: KerasCase) throws {
  try checkAgainstKeras(fixture, kernels: ReferenceKernels(), rtol: 1e-4, atol: 1e-5)
}

@Test func applicationLayerFixtureCoversEachLayer() {
  for (layer, count) in [
    ("SeparableConv2D", 3), ("Normalization", 4), ("LayerNormalization", 4), ("Rescaling", 2),
  ] {
    #expect(applicationLayerFixture.cases(where: "layer", is: layer).count == count, "\(layer)")
  }
}

/// SeparableConv2D runs the pointwise step on each backend's convolution (oneDNN on "cpu").
@Test(arguments: convolutionBackends)
func separableConvMatchesKerasOnEveryBackend(_ backend: String) throws {
  for fixture in applicationLayerFixture.cases(where: "layer", is: "SeparableConv2D") {
    try checkAgainstKeras(
      fixture, kernels: try registries.kernels.make(backend), rtol: 1e-4, atol: 1e-5)
  }
}

/// `adapt` learns Keras' mean and variance, from one array and from the same data in batches.
@Test func normalizationAdaptsAsKeras() throws {
  let root = try ConfigValue(json: Data(contentsOf: applicationLayerFixtureURL)).objectValue
  let cases = (root?["adapt"]?.arrayValue ?? []).compactMap(\.objectValue)
  #expect(cases.count == 3)
  for adaptCase in cases {
    let batches = try (adaptCase["batches"]?.arrayValue ?? []).map(KerasCase.tensor(from:))
    let axis: Axes? =
      switch adaptCase["axis"] {
      case .int(let value)?: Axes(integerLiteral: value)
      case .array(let values)?: Axes(values.compactMap(\.intValue))
      default: nil
      }
    let layer = try Normalization(axis: axis)
    try layer.adapt(batches: batches)
    let mean = try KerasCase.tensor(from: try #require(adaptCase["mean"]))
    let variance = try KerasCase.tensor(from: try #require(adaptCase["variance"]))
    let learnt = try #require(layer.adaptedMean?.value)
    #expect(learnt.shape == mean.shape && isClose(learnt, mean, rtol: 1e-5, atol: 1e-5))
    #expect(isClose(try #require(layer.adaptedVariance?.value), variance, rtol: 1e-5, atol: 1e-5))
    // The adapted layer normalizes the data it learnt from to mean 0 and variance 1.
    let normalized = try layer.call(Ops.concatenate(batches, axis: 0), training: false)
    #expect(Swift.abs(try Ops.mean(normalized).scalars[0]) < 1e-4)
    #expect(Swift.abs(try Ops.mean(Ops.square(normalized)).scalars[0] - 1) < 1e-3)
  }
}

/// The tape's gradients of each new layer against finite differences.
@Test func applicationLayerGradientsMatchFiniteDifferences() throws {
  let layers: [(String, any Layer)] = [
    (
      "SeparableConv2D",
      try SeparableConv2D(4, 3, padding: "same", depthMultiplier: 2, activation: "tanh")
    ),
    ("LayerNormalization", try LayerNormalization()),
    ("LayerNormalization axes", try LayerNormalization(axis: [1, 2], center: false)),
    ("Normalization", try Normalization(mean: [0.1, 0.2, 0.3], variance: [1, 2, 3])),
    ("Rescaling", try Rescaling(scale: [0.5, 2, -1], offset: [1, 0, -1])),
  ]
  for (name, layer) in layers {
    let error = try maxGradientError(of: layer, inputShape: [2, 4, 3, 3])
    #expect(error < 1e-2, "\(name): \(error)")
  }
}

@Test func applicationLayersRefuseBadArguments() throws {
  func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
  var generator = SeededGenerator(seed: 1)
  let filters = message { try SeparableConv2D(0, 3) }
  #expect(
    filters.contains("SeparableConv2D") && filters.contains("filters") && filters.contains("0"))
  #expect(message { try SeparableConv2D(2, 3, depthMultiplier: -1) }.contains("depth_multiplier"))
  let small = message {
    try SeparableConv2D(2, 5).build(inputShape: [3, 3, 2], generator: &generator)
  }
  #expect(small.contains("SeparableConv2D") && small.contains("(None, 3, 3, 2)"))
  let alone = message { try Normalization(mean: 1) }
  #expect(alone.contains("Normalization") && alone.contains("variance"))
  #expect(message { try Normalization(mean: 0, variance: -1) }.contains("≥ 0"))
  let axis = message {
    try Normalization(axis: 4).build(inputShape: [2, 3], generator: &generator)
  }
  #expect(axis.contains("axis") && axis.contains("4"))
  let list = message {
    try Normalization(mean: [1, 2], variance: [1, 1]).build(
      inputShape: [4, 3], generator: &generator)
  }
  #expect(list.contains("mean") && list.contains("2 values") && list.contains("(None, 4, 3)"))
  #expect(
    message { try Normalization(mean: 0, variance: 1).adapt(Tensor(shape: [2, 3])) }
      .contains("adapt"))
  let batch = message {
    try LayerNormalization(axis: 0).build(inputShape: [3], generator: &generator)
  }
  #expect(batch.contains("LayerNormalization") && batch.contains("batch axis"))
  #expect(message { try LayerNormalization(epsilon: -1) }.contains("epsilon"))
  let channels = message {
    try Rescaling(scale: [1, 2]).build(inputShape: [4, 4, 3], generator: &generator)
  }
  #expect(
    channels.contains("Rescaling") && channels.contains("scale") && channels.contains("2 values"))
  #expect(message { try Rescaling(scale: [.nan]) }.contains("scale"))
}
