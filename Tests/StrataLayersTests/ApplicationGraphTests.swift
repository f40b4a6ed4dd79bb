import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

/// The layers Keras application graphs hold besides the classic ones (operation nodes, grouped
/// convolutions, LayerScale, Cropping2D, broadcasting merges, CustomScaleLayer, Dropout's noise
/// shape): gradients against finite differences and the tape, and their refusals. Their Keras
/// values are checked through `tiny_mobile.keras` and `tiny_convnext.keras` (KerasFileTests).
@Suite("Keras application graph layers")
struct ApplicationGraphTests {
  @Test func singleInputLayersPassTheGradientCheck() throws {
    let grouped = { (groups: Int, filters: Int) in
      try Conv2D(
        config: Conv2D.Config(
          filters: filters, kernelSize: 3, padding: "same", activation: "tanh", groups: groups),
        inputShape: nil)
    }
    let layers: [(String, any Layer)] = [
      ("Cropping2D", try Cropping2D(cropping: ImageMargins(top: 1, bottom: 0, left: 0, right: 2))),
      ("3 - x", try ScalarOperation("Subtract", 3, constantFirst: true)),
      ("x / 2", try ScalarOperation("TrueDivide", 2)),
      ("x * 0.25", try ScalarOperation("Multiply", 0.25)),
      (
        "LayerScale",
        try LayerScale(
          config: {
            var c = LayerScale.Config(); c.initValues = 0.7; c.projectionDim = 4; return c
          }())
      ),
      ("Conv2D groups=4 (depthwise)", try grouped(4, 8)),
      ("Conv2D groups=2", try grouped(2, 6)),
    ]
    for (name, layer) in layers {
      let error = try maxGradientError(of: layer, inputShape: [2, 5, 4, 4])
      #expect(error < 1e-2, "\(name): \(error)")
    }
  }

  /// A grouped Conv2D computes one convolution per group of channels: the same as separate
  /// Conv2Ds on each group's channels with that group's filters.
  @Test func groupedConvolutionIsOneConvolutionPerGroup() throws {
    var generator = SeededGenerator(seed: 4)
    let layer = try Conv2D(
      config: Conv2D.Config(filters: 6, kernelSize: 3, groups: 2), inputShape: nil)
    _ = try layer.build(inputShape: [5, 5, 4], generator: &generator)
    let kernel = try #require(layer.kernel), bias = try #require(layer.bias)
    #expect(kernel.shape == [3, 3, 2, 6])
    bias.value = try Tensor(shape: [6], scalars: [0.1, -0.2, 0.3, 0, 0.5, -0.6])
    let x = awayFromZero([2, 5, 5, 4], seed: 5)
    let y = try layer.forward(x, in: Context(kernels: ReferenceKernels(), isTraining: false))
    let halves = try Ops.split(x, sections: 2, axis: 3)
    let kernels = try Ops.split(kernel.value, sections: 2, axis: 3)
    let expected =
      try Ops.concatenate(
        [
          Ops.conv(halves[0], kernels[0]), Ops.conv(halves[1], kernels[1]),
        ], axis: 3) + bias.value
    #expect(isClose(y, expected, rtol: 1e-5, atol: 1e-6))
  }

  /// `Multiply()([x, s])` with `s` of shape (1, 1, C) per sample: the output and both gradients
  /// are the broadcast product's, as the tape computes them.
  @Test func mergeLayersBroadcast() throws {
    let x = awayFromZero([2, 3, 4, 5], seed: 1), s = awayFromZero([2, 1, 1, 5], seed: 2)
    let upstream = awayFromZero([2, 3, 4, 5], seed: 3)
    for (layer, op) in [
      (Multiply() as any MergeLayer, { try Ops.multiply($0, $1) }),
      (Add() as any MergeLayer, { try Ops.add($0, $1) }),
      (Subtract() as any MergeLayer, { try Ops.subtract($0, $1) }),
    ] as [(any MergeLayer, (Tensor, Tensor) throws -> Tensor)] {
      var generator = SeededGenerator(seed: 1)
      #expect(
        try layer.build(inputShapes: [[3, 4, 5], [1, 1, 5]], generator: &generator) == [3, 4, 5])
      let context = Context(kernels: ReferenceKernels(), isTraining: true)
      let y = try layer.forward([x, s], in: context)
      #expect(isClose(y, try op(x, s), rtol: 1e-6, atol: 1e-7), "\(layer.identifier)")
      let gradients = try layer.backward(upstream, in: context)
      let tape = GradientTape()
      let (tx, ts) = (tape.watch(x), tape.watch(s))
      let product = try tape.record { try Ops.sum(op(tx, ts) * upstream) }
      let expected = try tape.gradients(of: product, for: [tx, ts]).tensors
      #expect(gradients[1].shape == [2, 1, 1, 5], "\(layer.identifier)")
      for (got, want) in zip(gradients, expected) {
        #expect(isClose(got, want, rtol: 1e-5, atol: 1e-6), "\(layer.identifier)")
      }
    }
    var generator = SeededGenerator(seed: 1)
    let refused = refusal {
      try Add().build(inputShapes: [[3, 4, 5], [3, 5]], generator: &generator)
    }
    #expect(refused.map { "\($0)" }?.contains("(None, 3, 5)") == true)
  }

  @Test func customScaleLayerAddsTheScaledResidual() throws {
    let layer = try CustomScaleLayer(
      config: {
        var c = CustomScaleLayer.Config(); c.scale = 0.17; return c
      }())
    var generator = SeededGenerator(seed: 1)
    _ = try layer.build(inputShapes: [[2, 3], [2, 3]], generator: &generator)
    let a = awayFromZero([2, 2, 3], seed: 1), b = awayFromZero([2, 2, 3], seed: 2)
    let context = Context(kernels: ReferenceKernels(), isTraining: true)
    #expect(isClose(try layer.forward([a, b], in: context), try a + b * 0.17, rtol: 1e-6, atol: 0))
    let dy = awayFromZero([2, 2, 3], seed: 3)
    let gradients = try layer.backward(dy, in: context)
    let scaled = try dy * 0.17
    #expect(gradients[0] == dy && isClose(gradients[1], scaled, rtol: 1e-6, atol: 0))
    #expect(
      refusal { try layer.build(inputShapes: [[2, 3], [3, 2]], generator: &generator) } != nil)
  }

  /// `noise_shape=(None, 1, 1, 1)` drops whole samples: each sample is all kept (scaled) or all 0.
  @Test func dropoutNoiseShapeDropsWholeSlices() throws {
    var config = Dropout.Config(rate: 0.5, seed: 3)
    config.noiseShape = [nil, 1, 1, 1]
    let layer = try Dropout(config: config)
    var generator = SeededGenerator(seed: 1)
    _ = try layer.build(inputShape: [3, 3, 2], generator: &generator)
    let x = Tensor(shape: [16, 3, 3, 2], repeating: 1)
    let y = try layer.forward(x, in: Context(kernels: ReferenceKernels(), isTraining: true)).scalars
    let samples = stride(from: 0, to: y.count, by: 18).map { Set(y[$0..<$0 + 18]) }
    #expect(samples.allSatisfy { $0 == [0] || $0 == [2] })
    #expect(samples.contains([0]) && samples.contains([2]))
    config.noiseShape = [nil, 1, 1]
    let wrong = try Dropout(config: config)
    _ = try wrong.build(inputShape: [3, 3, 2], generator: &generator)
    let message =
      refusal {
        try wrong.forward(x, in: Context(kernels: ReferenceKernels(), isTraining: true))
      }.map { "\($0)" } ?? ""
    #expect(message.contains("noise_shape") && message.contains("(None, 1, 1)"))
  }

  @Test func refusalsNameTheArgument() throws {
    func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
    var generator = SeededGenerator(seed: 1)
    let groups = message {
      try Conv2D(config: Conv2D.Config(filters: 6, kernelSize: 3, groups: 4), inputShape: nil)
    }
    #expect(groups.contains("groups") && groups.contains("4"))
    let channels = message {
      try Conv2D(config: Conv2D.Config(filters: 6, kernelSize: 1, groups: 3), inputShape: nil)
        .build(inputShape: [4, 4, 4], generator: &generator)
    }
    #expect(channels.contains("divisible by groups"))
    let operation = message { try ScalarOperation("Ad", 1) }
    #expect(operation.contains("Ad") && operation.contains("Add"))
    let scale = message {
      try LayerScale(
        config: {
          var c = LayerScale.Config(); c.projectionDim = 4; return c
        }()
      )
      .build(inputShape: [2, 2, 3], generator: &generator)
    }
    #expect(scale.contains("LayerScale") && scale.contains("projection_dim"))
    let crop = message {
      try Cropping2D(cropping: ImageMargins(top: 2, bottom: 2, left: 0, right: 0))
        .build(inputShape: [4, 4, 1], generator: &generator)
    }
    #expect(crop.contains("Cropping2D") && crop.contains("(None, 4, 4, 1)"))
  }
}
