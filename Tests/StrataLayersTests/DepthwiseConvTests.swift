import Foundation
import StrataCore
import StrataLayers
import StrataCPU
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
