import Foundation
import Strata
import StrataTesting
import Testing

@Test func depthwiseFixtureCoversItsOptions() {
  let cases = applicationLayerFixture.cases(where: "layer", is: "DepthwiseConv2D")
  #expect(cases.count == 4)
  #expect(cases.contains { $0["config"]?.objectValue?["depth_multiplier"] == 2 })
}

/// The tape's gradients of the op, and of the layer with a bias and an activation, against finite
/// differences.
@Test func depthwiseConvGradientsMatchFiniteDifferences() throws {
  let x = awayFromZero([2, 5, 4, 3], seed: 3)
  for (multiplier, strides, padding, dilation) in [
    (1, IntPair(1), "valid", IntPair(1)), (2, IntPair(2), "same", IntPair(1)),
    (1, IntPair(1), "same", IntPair(2)),
  ] {
    let kernel = awayFromZero([3, 2, 3, multiplier], seed: 4)
    let error = try maxGradientError(
      of: {
        try Ops.depthwiseConv(
          $0[0], $0[1], strides: strides, padding: padding, dilationRate: dilation)
      }, at: [x, kernel])
    #expect(error < 1e-2, "multiplier \(multiplier), strides \(strides), \(padding): \(error)")
  }
  let layer = try DepthwiseConv2D(3, padding: "same", depthMultiplier: 2, activation: "tanh")
  let error = try maxGradientError(of: layer, inputShape: [2, 4, 4, 3])
  #expect(error < 1e-2, "DepthwiseConv2D: \(error)")
}

@Test func depthwiseConvRefusesBadArguments() throws {
  func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
  let multiplier = message { try DepthwiseConv2D(3, depthMultiplier: 0) }
  #expect(multiplier.contains("depth_multiplier") && multiplier.contains("0"))
  #expect(message { try DepthwiseConv2D(3, padding: "causal") }.contains("causal"))
  #expect(message { try DepthwiseConv2D(0) }.contains("kernel_size"))
  var generator = SeededGenerator(seed: 1)
  let small = message {
    try DepthwiseConv2D(5).build(inputShape: [3, 3, 2], generator: &generator)
  }
  #expect(small.contains("DepthwiseConv2D") && small.contains("(None, 3, 3, 2)"))
  let op = message {
    try Ops.depthwiseConv(Tensor(shape: [1, 4, 4, 3]), Tensor(shape: [3, 3, 2, 1]))
  }
  #expect(op.contains("ops.depthwise_conv") && op.contains("(1, 4, 4, 3)"))
}

/// MobileNet's block (depthwise 3x3, BatchNormalization, ReLU(6), pointwise Conv2D) trains, saves to a
/// `.keras` file and loads back with the same predictions.
@Test func mobileNetBlockTrainsSavesAndLoads() throws {
  let model = try Sequential(seed: 3)
  try model.add(InputLayer(config: InputLayer.Config(shape: [8, 8, 3])))
  try model.add(DepthwiseConv2D(3, strides: 2, padding: "same", useBias: false))
  try model.add(BatchNormalization())
  try model.add(ReLULayer(maxValue: 6))
  try model.add(Conv2D(4, 1))
  try model.add(GlobalAveragePooling2D())
  try model.add(Dense(2, activation: "softmax"))
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  let x = awayFromZero([16, 8, 8, 3], seed: 9)
  // Learnable labels: whether an image's first channel sums above zero.
  let pixels = x.scalars
  let labels = try Tensor(
    shape: [16],
    scalars: (0..<16).map { image in
      let sum = stride(from: image * 192, to: (image + 1) * 192, by: 3).reduce(0) {
        $0 + pixels[$1]
      }
      return sum > 0 ? 1 : 0
    })
  let history = try model.fit(x, labels, batchSize: 8, epochs: 10, verbose: 0)
  let losses = try #require(history["loss"])
  #expect(losses.allSatisfy { $0.isFinite } && losses.last! < losses.first!)
  let url = FileManager.default.temporaryDirectory
    .appendingPathComponent("depthwise-\(UUID().uuidString).keras")
  defer { try? FileManager.default.removeItem(at: url) }
  try model.save(to: url)
  let loaded = try loadModel(from: url)
  #expect(loaded.layers.contains { $0 is DepthwiseConv2D })
  #expect(isClose(try loaded.predict(x), try model.predict(x), rtol: 1e-6, atol: 1e-7))
}
