import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

@Test(arguments: convolutionBackends)
func convolutionGradientCheck(backend: String) throws {
  let kernels = try registries.kernels.make(backend)
  let cases: [(Conv2D, [Int])] = [
    (try Conv2D(3, kernelSize: 3, activation: "tanh"), [2, 6, 5, 2]),
    (try Conv2D(2, kernelSize: [2, 3], strides: 2, padding: "same"), [1, 7, 6, 3]),
    (try Conv2D(2, kernelSize: 3, padding: "same", dilationRate: 2, useBias: false), [2, 7, 7, 1]),
    (try Conv2D(4, kernelSize: 1), [3, 2, 2, 3]),
  ]
  for (layer, shape) in cases {
    #expect(
      try maxGradientError(of: layer, inputShape: shape, kernels: kernels) < 1e-3,
      "\(layer.config) on \(backend)")
  }
}

/// Values 0.1 apart in a random order, so that a ±0.01 step never changes which one is a maximum.
func distinctInput(_ shape: [Int], seed: UInt64 = 3) -> Tensor {
  var tensor = Tensor(shape: shape)
  var order = Array(0..<tensor.count)
  var shuffler = SeededGenerator(seed: seed)
  order.shuffle(using: &shuffler)
  tensor.withUnsafeMutableBufferPointer {
    for i in $0.indices { $0[i] = Float(order[i]) * 0.1 - Float(order.count) * 0.05 }
  }
  return tensor
}

@Test(arguments: convolutionBackends)
func poolingGradientCheck(backend: String) throws {
  let kernels = try registries.kernels.make(backend)
  let layers: [(any Layer, [Int])] = [
    (try MaxPooling2D(poolSize: 2), [2, 6, 6, 2]),
    (try MaxPooling2D(poolSize: 3, strides: 2, padding: "same"), [1, 7, 5, 3]),
    (try AveragePooling2D(poolSize: 2, padding: "same"), [2, 5, 5, 2]),
    (try AveragePooling2D(poolSize: [3, 2], strides: 1), [1, 5, 4, 2]),
  ]
  for (layer, shape) in layers {
    #expect(
      try maxGradientError(
        of: layer, inputShape: shape, input: distinctInput(shape), kernels: kernels) < 1e-3,
      "\(layer.identifier) on \(backend)")
  }
}

@Test func otherImageLayersGradientCheck() throws {
  #expect(try maxGradientError(of: GlobalAveragePooling2D(), inputShape: [2, 3, 4, 5]) < 1e-3)
  let distinct = distinctInput([2, 3, 4, 5])
  #expect(
    try maxGradientError(of: GlobalMaxPooling2D(), inputShape: [2, 3, 4, 5], input: distinct) < 1e-3
  )
  #expect(
    try maxGradientError(of: MaxPooling2D(poolSize: 2), inputShape: [2, 3, 4, 5], input: distinct)
      < 1e-3)
  #expect(
    try maxGradientError(
      of: GlobalAveragePooling2D(config: .init(keepdims: true)), inputShape: [2, 3, 3, 2]) < 1e-3)
  #expect(
    try maxGradientError(
      of: ZeroPadding2D(config: .init(top: 1, bottom: 2, left: 0, right: 1)),
      inputShape: [2, 3, 4, 2]) < 1e-3)
  #expect(
    try maxGradientError(of: Rescaling(1.0 / 255, offset: -0.5), inputShape: [2, 3, 3, 1]) < 1e-3)
  // Batch normalization in training mode: the batch statistics depend on the input.
  #expect(try maxGradientError(of: BatchNormalization(), inputShape: [6, 4]) < 1e-3)
  #expect(try maxGradientError(of: BatchNormalization(), inputShape: [2, 3, 3, 2]) < 1e-3)
  let frozen = try BatchNormalization(center: false)
  frozen.isFrozen = true
  #expect(try maxGradientError(of: frozen, inputShape: [4, 3]) < 1e-3)
}

@Test func batchNormalizationUpdatesMovingStatistics() throws {
  let layer = try BatchNormalization(momentum: 0.9)
  var generator = SeededGenerator(seed: 1)
  _ = try layer.build(inputShape: [2], generator: &generator)
  let x = try Tensor([[1, 10], [3, 30]])
  let y = try layer.forward(x, in: Context(isTraining: true))
  // Batch mean (2, 20), biased variance (1, 100): y = ±1/sqrt(1 + ε), ±10/sqrt(100 + ε).
  #expect(abs(y[0, 0] + 1 / (1.001 as Float).squareRoot()) < 1e-6)
  #expect(
    abs(layer.movingMean!.value[0] - 0.2) < 1e-6 && abs(layer.movingMean!.value[1] - 2) < 1e-6)
  #expect(
    abs(layer.movingVariance!.value[0] - 1.0) < 1e-6
      && abs(layer.movingVariance!.value[1] - 10.9) < 1e-5)
  // Inference uses the moving statistics and changes nothing.
  let before = layer.movingMean!.value
  let z = try layer.forward(x, in: Context(isTraining: false))
  #expect(abs(z[0, 0] - (1 - 0.2) / (1.0 + 0.001 as Float).squareRoot()) < 1e-6)
  #expect(layer.movingMean!.value == before)
  #expect(
    layer.parameters.filter { !$0.isTrainable }.map(\.name) == ["moving_mean", "moving_variance"])
}

@Test func imageLayersConform() throws {
  let cases: [(any Layer, [Int], Int, [Int])] = [
    (try Conv2D(4, kernelSize: 3), [6, 6, 2], 76, [4, 4, 4]),
    (try Conv2D(2, kernelSize: 3, strides: 2, padding: "same"), [7, 7, 1], 20, [4, 4, 2]),
    (try MaxPooling2D(), [5, 5, 3], 0, [2, 2, 3]),
    (try AveragePooling2D(poolSize: 2, padding: "same"), [5, 5, 3], 0, [3, 3, 3]),
    (GlobalMaxPooling2D(), [3, 3, 4], 0, [4]),
    (try BatchNormalization(), [3, 3, 4], 16, [3, 3, 4]),
    (try ZeroPadding2D(padding: 2), [3, 3, 1], 0, [7, 7, 1]),
    (try Rescaling(0.5), [2, 2, 1], 0, [2, 2, 1]),
  ]
  for (layer, inputShape, count, outputShape) in cases {
    let report = checkLayer(
      layer, inputShape: inputShape, parameterCount: count, outputShape: outputShape)
    #expect(report.passed, "\(report)")
  }
}
