import Foundation
import Strata
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
      fixture, kernels: try Registries.shared.kernels.make(backend), rtol: 1e-4, atol: 1e-5)
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

/// An Xception-style block (SeparableConv2D, BatchNormalization, LayerNormalization after an
/// adapted Normalization) trains, saves to a `.keras` file and loads back with the same
/// predictions and the adapted statistics.
@Test func separableBlockTrainsSavesAndLoads() throws {
  let x = awayFromZero([16, 8, 8, 3], seed: 9)
  let normalization = try Normalization()
  try normalization.adapt(x)
  let model = try Sequential(seed: 3)
  try model.add(InputLayer(config: InputLayer.Config(shape: [8, 8, 3])))
  try model.add(normalization)
  try model.add(Rescaling(scale: [1, 0.5, 2]))
  try model.add(SeparableConv2D(6, 3, strides: 2, padding: "same", useBias: false))
  try model.add(BatchNormalization())
  try model.add(LayerNormalization(epsilon: 1e-6))
  try model.add(GlobalAveragePooling2D())
  try model.add(Dense(2, activation: "softmax"))
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  let pixels = x.scalars
  // Learnable labels: whether an image's first channel sums above zero.
  let sums: [Float] = (0..<16).map { image in
    stride(from: image * 192, to: (image + 1) * 192, by: 3).reduce(Float(0)) { $0 + pixels[$1] }
  }
  let labels = try Tensor(shape: [16], scalars: sums.map { $0 > 0 ? 1 : 0 })
  let history = try model.fit(x, labels, batchSize: 8, epochs: 10, verbose: 0)
  let losses = try #require(history["loss"])
  #expect(losses.allSatisfy { $0.isFinite } && losses.last! < losses.first!)
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("separable-\(UUID().uuidString).keras")
  defer { try? FileManager.default.removeItem(at: url) }
  try model.save(to: url)
  let loaded = try loadModel(from: url)
  #expect(loaded.layers.contains { $0 is SeparableConv2D })
  let adapted = try #require(loaded.layers.compactMap { $0 as? Normalization }.first)
  #expect(adapted.adaptedMean?.value == normalization.adaptedMean?.value)
  #expect(isClose(try loaded.predict(x), try model.predict(x), rtol: 1e-6, atol: 1e-7))
}
