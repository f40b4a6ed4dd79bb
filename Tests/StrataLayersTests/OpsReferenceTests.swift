import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

/// Every built-in layer's hand-written backward pass (and every built-in activation's) against the
/// tape's gradient of the same computation written with ops: the fast kernels keep a reference
/// beside them. The ops formulation runs on the reference backend (plain loops), the layer on the
/// default one (oneDNN, OpenBLAS, SIMD).
@Suite struct OpsReferenceTests {
  /// Compares a layer's training forward and backward with `formula(x, weights)`.
  func compare(
    _ layer: any Layer, inputShape: [Int], inputs: ClosedRange<Float> = -1...1,
    tolerance: Float = 1e-4, seed: UInt64 = 3,
    formula: (Tensor, [Tensor], Tensor) throws -> Tensor
  ) throws {
    var generator = SeededGenerator(seed: seed)
    _ = try layer.build(inputShape: Array(inputShape.dropFirst()), generator: &generator)
    let x = try randomTensor(inputShape, in: inputs, using: &generator)
    let context = Context(kernels: DefaultKernels(), isTraining: true)
    let y = try layer.forward(x, in: context)
    let seedGradient = try randomTensor(y.shape, in: -1...1, using: &generator)
    let dx = try layer.backward(seedGradient, in: context)
    let trainable = layer.parameters.filter(\.isTrainable)
    let tape = GradientTape()
    let input = tape.watch(x)
    let weights = trainable.map { tape.watch($0.value) }
    let reference = try Ops.withKernels(ReferenceKernels()) {
      try tape.record { try formula(input, weights, y) }
    }
    let name = layer.identifier
    #expect(isClose(y, reference, rtol: tolerance, atol: tolerance), "\(name) forward")
    let (inputGradient, weightGradients) = try Ops.withKernels(ReferenceKernels()) {
      let all = try tape.gradients(of: reference, seed: seedGradient, for: [input] + weights)
      return (all.tensors[0], Array(all.tensors.dropFirst()))
    }
    #expect(isClose(dx, inputGradient, rtol: tolerance, atol: tolerance), "\(name) input gradient")
    for (parameter, gradient) in zip(trainable, weightGradients) {
      #expect(
        isClose(parameter.gradient, gradient, rtol: tolerance, atol: tolerance),
        "\(name) \(parameter.name) gradient")
    }
  }

  func layer(_ identifier: String, _ config: ConfigDictionary = [:]) throws -> any Layer {
    try registries.layers.make(identifier, config: config)
  }

  @Test func denseAndConvolution() throws {
    try compare(layer("Dense", ["units": 5, "activation": "tanh"]), inputShape: [4, 6]) { x, w, _ in
      try Ops.tanh(Ops.matmul(x, w[0]) + w[1])
    }
    for (padding, strides, dilation) in [("valid", 1, 1), ("same", 2, 1), ("valid", 1, 2)] {
      let conv = try layer(
        "Conv2D",
        [
          "filters": 3, "kernel_size": 3, "padding": .string(padding), "strides": .int(strides),
          "dilation_rate": .int(dilation), "activation": "relu",
        ])
      try compare(conv, inputShape: [2, 7, 7, 2]) { x, w, _ in
        try Ops.relu(
          Ops.conv(
            x, w[0], strides: IntPair(integerLiteral: strides), padding: padding,
            dilationRate: IntPair(integerLiteral: dilation))
            + w[1])
      }
    }
  }

  @Test func poolingFlatteningAndShapes() throws {
    // Valid pooling with strides equal to the pool: windows are axes of a reshape.
    try compare(layer("MaxPooling2D", ["pool_size": 2]), inputShape: [2, 4, 6, 3]) { x, _, _ in
      try Ops.max(Ops.reshape(x, [2, 2, 2, 3, 2, 3]), axes: [2, 4])
    }
    try compare(layer("AveragePooling2D", ["pool_size": 2]), inputShape: [2, 4, 6, 3]) { x, _, _ in
      try Ops.mean(Ops.reshape(x, [2, 2, 2, 3, 2, 3]), axes: [2, 4])
    }
    for (name, strides, padding) in [
      ("MaxPooling2D", 1, "same"), ("AveragePooling2D", 2, "same"), ("MaxPooling2D", 2, "valid"),
    ] {
      let pool = try layer(
        name, ["pool_size": 3, "strides": .int(strides), "padding": .string(padding)])
      try compare(pool, inputShape: [2, 5, 5, 2]) { x, _, _ in
        name == "MaxPooling2D"
          ? try Ops.maxPool(
            x, poolSize: 3, strides: IntPair(integerLiteral: strides), padding: padding)
          : try Ops.averagePool(
            x, poolSize: 3, strides: IntPair(integerLiteral: strides), padding: padding)
      }
    }
    try compare(layer("GlobalAveragePooling2D"), inputShape: [2, 3, 4, 5]) { x, _, _ in
      try Ops.mean(x, axes: [1, 2])
    }
    try compare(layer("GlobalMaxPooling2D"), inputShape: [2, 3, 4, 5]) { x, _, _ in
      try Ops.max(x, axes: [1, 2])
    }
    try compare(InputLayer(config: .init(shape: [4])), inputShape: [2, 4]) { x, _, _ in x }
    try compare(layer("Flatten"), inputShape: [3, 2, 4]) { x, _, _ in try Ops.reshape(x, [3, 8]) }
    try compare(layer("Reshape", ["target_shape": [4, -1]]), inputShape: [3, 2, 4]) { x, _, _ in
      try Ops.reshape(x, [3, 4, 2])
    }
    try compare(layer("ZeroPadding2D", ["padding": [[1, 2], [0, 1]]]), inputShape: [2, 3, 3, 2]) {
      x, _, _ in
      let rows = try Ops.concatenate(
        [Tensor(shape: [2, 1, 3, 2]), x, Tensor(shape: [2, 2, 3, 2])], axis: 1)
      return try Ops.concatenate([rows, Tensor(shape: [2, 6, 1, 2])], axis: 2)
    }
    try compare(layer("CenterCrop", ["height": 2, "width": 3]), inputShape: [2, 4, 5, 1]) {
      x, _, _ in try Ops.slice(x, start: [0, 1, 1, 0], shape: [2, 2, 3, 1])
    }
    try compare(layer("Rescaling", ["scale": 0.5, "offset": -1]), inputShape: [2, 3]) { x, _, _ in
      try x * 0.5 - 1
    }
  }

  @Test func normalizationAndDropout() throws {
    let norm = try layer("BatchNormalization", ["epsilon": 0.01])
    try compare(norm, inputShape: [6, 2, 3]) { x, w, _ in
      let mean = try Ops.mean(x, axes: [0, 1])
      let variance = try Ops.mean(Ops.square(x - mean), axes: [0, 1])
      return try (x - mean) / Ops.sqrt(variance + 0.01) * w[0] + w[1]
    }
    // Dropout's mask is drawn by the layer; the formula takes it from the layer's output.
    try compare(layer("Dropout", ["rate": 0.4]), inputShape: [4, 10]) { x, _, y in
      let kept = try Ops.stopGradient(Ops.notEqual(y, Tensor(scalar: 0)))
      return try x * kept / 0.6
    }
    for activation in ["relu", "sigmoid", "softmax", "gelu"] {
      try compare(layer("Activation", ["activation": .string(activation)]), inputShape: [3, 5]) {
        x, _, _ in try formula(activation, x)
      }
    }
  }

  @Test func mergeLayers() throws {
    let cases: [(String, ConfigDictionary, ([Tensor]) throws -> Tensor)] = [
      ("Add", [:], { try $0[0] + $0[1] + $0[2] }),
      ("Subtract", [:], { try $0[0] - $0[1] }),
      ("Multiply", [:], { try $0[0] * $0[1] * $0[2] }),
      ("Average", [:], { try ($0[0] + $0[1] + $0[2]) / 3 }),
      ("Maximum", [:], { try Ops.maximum(Ops.maximum($0[0], $0[1]), $0[2]) }),
      ("Minimum", [:], { try Ops.minimum(Ops.minimum($0[0], $0[1]), $0[2]) }),
      ("Concatenate", ["axis": -1], { try Ops.concatenate($0, axis: -1) }),
    ]
    for (name, config, formula) in cases {
      let merge = try #require(try layer(name, config) as? any MergeLayer)
      let count = name == "Subtract" ? 2 : 3
      var generator = SeededGenerator(seed: 9)
      _ = try merge.build(
        inputShapes: [[2, 3]] + Array(repeating: [2, 3], count: count - 1), generator: &generator)
      let xs = try (0..<count).map { _ in try randomTensor([4, 2, 3], using: &generator) }
      let context = Context(kernels: DefaultKernels(), isTraining: true)
      let y = try merge.forward(xs, in: context)
      let seed = try randomTensor(y.shape, using: &generator)
      let dxs = try merge.backward(seed, in: context)
      let tape = GradientTape()
      let watched = xs.map { tape.watch($0) }
      let reference = try tape.record { try formula(watched) }
      #expect(isClose(y, reference), "\(name) forward")
      let gradients = try tape.gradients(of: reference, seed: seed, for: watched).tensors
      for (dx, gradient) in zip(dxs, gradients) {
        #expect(isClose(dx, gradient, rtol: 1e-5, atol: 1e-6), "\(name) input gradient")
      }
    }
  }

  /// Bilinear resizing as two interpolation matrices (half-pixel centres, as TensorFlow): each
  /// output row mixes two input rows.
  func interpolation(_ input: Int, _ output: Int) throws -> Tensor {
    var matrix = Tensor(shape: [output, input])
    for i in 0..<output {
      let position = max((Float(i) + 0.5) * Float(input) / Float(output) - 0.5, 0)
      let low = min(Int(position), input - 1), high = min(low + 1, input - 1)
      let fraction = position - Float(Int(position))
      matrix[i, low] += 1 - fraction
      matrix[i, high] += fraction
    }
    return matrix
  }

  @Test func resamplingLayers() throws {
    for (height, width) in [(5, 3), (2, 7)] {
      let rows = try interpolation(4, height), columns = try interpolation(6, width)
      try compare(
        layer("Resizing", ["height": .int(height), "width": .int(width)]), inputShape: [2, 4, 6, 3]
      ) { x, _, _ in
        try Ops.einsum("jw,biwc->bijc", columns, Ops.einsum("ih,bhwc->biwc", rows, x))
      }
    }
  }

  /// A random image layer in training, for one draw: the flips a `RandomFlip` drew are read from
  /// its output and applied with ops; the other geometric layers, linear in the image for a draw,
  /// must have as backward the transpose of their forward map: `Σ f(x)·dy = Σ x·f*(dy)`.
  @Test func randomImageLayers() throws {
    let flip = try layer("RandomFlip", ["mode": "horizontal", "seed": 4])
    try compare(flip, inputShape: [6, 3, 4, 2]) { x, _, y in
      let mirrored = try Ops.take(x, Tensor([3, 2, 1, 0]), axis: 2)
      let flipped = try Ops.stopGradient(
        Ops.equal(
          Ops.sum(Ops.abs(y - mirrored), axes: [1, 2, 3], keepDims: true), Tensor(scalar: 0)))
      return try Ops.where(flipped, mirrored, x)
    }
    let linear: [(String, ConfigDictionary)] = [
      ("RandomCrop", ["height": 3, "width": 4, "seed": 1]),
      ("RandomTranslation", ["height_factor": 0.3, "width_factor": 0.2, "seed": 2]),
      ("RandomZoom", ["height_factor": 0.3, "seed": 3]),
      ("RandomRotation", ["factor": 0.2, "seed": 5]),
    ]
    for (name, config) in linear {
      let augmentation = try layer(name, config)
      var generator = SeededGenerator(seed: 8)
      _ = try augmentation.build(inputShape: [5, 6, 2], generator: &generator)
      let x = try randomTensor([3, 5, 6, 2], using: &generator)
      let context = Context(kernels: DefaultKernels(), isTraining: true)
      let y = try augmentation.forward(x, in: context)
      let dy = try randomTensor(y.shape, using: &generator)
      let dx = try augmentation.backward(dy, in: context)
      let forward = try Ops.sum(y * dy).scalars[0], adjoint = try Ops.sum(x * dx).scalars[0]
      #expect(
        abs(forward - adjoint) <= 1e-4 * max(1, abs(forward)), "\(name): \(forward) vs \(adjoint)")
      #expect(y != x, "\(name) drew the identity; the check would be empty")
    }
    // Brightness adds a delta per image: the gradient passes unchanged where nothing clips (inputs
    // inside the value range, a small factor).
    let brightness = try layer(
      "RandomBrightness", ["factor": 0.1, "value_range": [0, 1], "seed": 6])
    try compare(brightness, inputShape: [3, 2, 2, 1], inputs: 0.3...0.7) { x, _, y in
      try x + Ops.stopGradient(y - x)
    }
    // Contrast scales each channel's deviation from its mean: y = (x - m) · f + m.
    let contrast = try layer("RandomContrast", ["factor": 0.3, "value_range": [0, 1], "seed": 7])
    try compare(contrast, inputShape: [3, 4, 4, 2], inputs: 0.3...0.7, tolerance: 2e-4) { x, _, y in
      let m = try Ops.mean(x, axes: [1, 2], keepDims: true)
      let deviation = try x - m
      let factor = try Ops.stopGradient(
        Ops.sum(
          (y - Ops.mean(y, axes: [1, 2], keepDims: true)) * deviation, axes: [1, 2], keepDims: true)
          / Ops.sum(Ops.square(deviation), axes: [1, 2], keepDims: true))
      return try deviation * factor + m
    }
  }

  /// Keras' definition of each built-in activation, in ops.
  func formula(_ name: String, _ x: Tensor) throws -> Tensor {
    switch name {
    case "relu": return Ops.relu(x)
    case "relu6": return try Ops.minimum(Ops.relu(x), Tensor(scalar: 6))
    case "leaky_relu": return try Ops.where(x .> 0, x, x * 0.2)
    case "elu": return try Ops.where(x .> 0, x, Ops.exp(x) - 1)
    case "selu":
      return try Ops.where(x .> 0, x, (Ops.exp(x) - 1) * 1.673_263_2) * 1.050_701
    case "linear": return x
    case "sigmoid": return Ops.sigmoid(x)
    case "tanh": return Ops.tanh(x)
    case "hard_sigmoid": return try Ops.clip((x + 3) / 6, 0, 1)
    case "hard_swish": return try x * Ops.clip((x + 3) / 6, 0, 1)
    case "swish": return try x * Ops.sigmoid(x)
    case "softplus": return try Ops.log(Ops.exp(x) + 1)
    case "softsign": return try x / (Ops.abs(x) + 1)
    case "exponential": return Ops.exp(x)
    case "mish": return try x * Ops.tanh(Ops.softplus(x))
    case "gelu": return try x * (Ops.erf(x / Float(2).squareRoot()) + 1) * 0.5
    case "softmax": return try Ops.exp(x) / Ops.sum(Ops.exp(x), axis: -1, keepDims: true)
    case "log_softmax": return try x - Ops.log(Ops.sum(Ops.exp(x), axis: -1, keepDims: true))
    default:
      throw StrataError.invalidArgument(
        owner: "test", argument: "activation", value: name, expected: "a formula")
    }
  }

  @Test func everyActivationMatchesItsFormula() throws {
    let names = registries.activations.identifiers.filter { !$0.contains(">") }
    #expect(names.count >= 18)
    var generator = SeededGenerator(seed: 12)
    let x = try randomTensor([3, 7], in: -3...3, using: &generator)
    let seed = try randomTensor([3, 7], using: &generator)
    for name in names {
      guard (try? formula(name, x)) != nil else {
        Issue.record("no ops formula for the built-in activation \(name)")
        continue
      }
      let function = try registries.activation(Spec(stringLiteral: name))
      let y = function(x)
      let dx = function.gradient(at: x, upstream: seed)
      let tape = GradientTape()
      let input = tape.watch(x)
      let reference = try tape.record { try formula(name, input) }
      #expect(isClose(y, reference, rtol: 1e-5, atol: 1e-5), "\(name) value")
      let gradient = try tape.gradients(of: reference, seed: seed, for: [input]).tensors[0]
      #expect(isClose(dx, gradient, rtol: 1e-4, atol: 1e-5), "\(name) gradient")
    }
  }
}

/// Ops on the backend kernels against the layers that use the same kernels, and tapes through
/// layers: the ops' side of the comparison above.
@Suite struct OpsThroughLayersTests {
  @Test func convolutionAndPoolingRunOnTheBackendKernels() throws {
    let images = awayFromZero([2, 5, 5, 2], seed: 30)
    let kernel = awayFromZero([3, 3, 2, 3], seed: 31)
    let kernels = DefaultKernels()
    for padding in ["valid", "same"] {
      let y = try Ops.withKernels(kernels) {
        try Ops.conv(images, kernel, strides: 2, padding: padding)
      }
      #expect(y.shape == (padding == "valid" ? [2, 2, 2, 3] : [2, 3, 3, 3]))
      // Against the layer the tests already compare with Keras.
      let layer = try Conv2D(3, 3, strides: 2, padding: padding, useBias: false)
      var generator = SeededGenerator(seed: 1)
      _ = try layer.build(inputShape: [5, 5, 2], generator: &generator)
      layer.parameters[0].value = kernel
      let expected = try layer.forward(images, in: Context(kernels: kernels))
      #expect(isClose(y, expected))
      let error = try maxGradientError(
        of: { try Ops.conv($0[0], $0[1], strides: 2, padding: padding) }, at: [images, kernel],
        kernels: kernels)
      #expect(error < 2e-3, "conv \(padding): \(error)")
    }
    let pooled = try Ops.maxPool(
      try Tensor(shape: [1, 2, 2, 1], scalars: [1, 4, 3, 2]), poolSize: 2)
    #expect(pooled.scalars == [4])
    let mean = try Ops.averagePool(
      try Tensor(shape: [1, 2, 2, 1], scalars: [1, 4, 3, 2]), poolSize: 2)
    #expect(mean.scalars == [2.5])
    for (name, op) in [
      ("max_pool", { try Ops.maxPool($0, poolSize: 2, padding: "same") }),
      ("average_pool", { try Ops.averagePool($0, poolSize: 2, strides: 1) }),
    ] as [(String, (Tensor) throws -> Tensor)] {
      for backend in [ReferenceKernels(), kernels] as [any Kernels] {
        let error = try maxGradientError(of: { try op($0[0]) }, at: [images], kernels: backend)
        #expect(error < 2e-3, "\(name) on \(backend): \(error)")
      }
    }
    #expect(refusal { try Ops.conv(images, awayFromZero([3, 3, 4, 1], seed: 1)) } != nil)
    #expect(refusal { try Ops.conv(images, kernel, padding: "full") } != nil)
  }

  @Test func tapesGiveParameterGradientsThroughLayersAndModels() throws {
    let dense = try Dense(2, activation: "tanh")
    var generator = SeededGenerator(seed: 3)
    _ = try dense.build(inputShape: [3], generator: &generator)
    let x = awayFromZero([4, 3], seed: 40)
    let tape = GradientTape()
    let loss = try tape.record(watching: dense.parameters) {
      try Ops.sum(Ops.square(dense(x, training: true)))
    }
    let gradients = try tape.gradients(of: loss, parameters: dense.parameters)
    // The same through the layer's own backward pass.
    let context = Context(kernels: ReferenceKernels(), isTraining: true)
    let y = try dense.forward(x, in: context)
    _ = try dense.backward(try y * 2, in: context)
    for (gradient, parameter) in zip(gradients, dense.parameters) {
      #expect(isClose(gradient, parameter.gradient, rtol: 1e-4, atol: 1e-5))
    }
    // A weight used both inside a layer and by ops directly gets both contributions.
    let both = GradientTape()
    let kernel = dense.parameters[0]
    let total = try both.record(watching: [kernel]) {
      try Ops.sum(dense(x)) + Ops.sum(kernel.value)
    }
    let g = try both.gradients(of: total, parameters: [kernel])[0]
    let throughLayer = GradientTape()
    let layerOnly = try throughLayer.record(watching: [kernel]) { try Ops.sum(dense(x)) }
    let expected = try throughLayer.gradients(of: layerOnly, parameters: [kernel])[0] + 1
    #expect(isClose(g, expected))
  }
}
