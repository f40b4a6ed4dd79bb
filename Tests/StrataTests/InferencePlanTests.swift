import Foundation
import StrataTesting
import Testing

@testable import Strata

/// Every chain the inference plan fuses, and the ways a chain ends: BatchNormalization folded into
/// the convolution, a residual Add (whose input is also read elsewhere, or is the convolution's own
/// input), relu, relu6 and swish as post-ops, a convolution with its own activation, and one alone.
private func residualModel() throws -> Model {
  setRandomSeed(11)
  let input = try Input(shape: [9, 9, 4])
  var x = try Conv2D(4, 3, padding: "same")(input)
  x = try BatchNormalization()(x)
  let stem = try ActivationLayer("relu")(x)
  // A residual read by two layers: its buffer cannot become the sum's.
  var branch = try Conv2D(4, 1)(stem)
  branch = try BatchNormalization()(branch)
  var y = try Add()([stem, branch])
  y = try ReLULayer(maxValue: 6)(y)
  let side = try Conv2D(4, 1, activation: "relu")(stem)
  // The convolution's input is the residual too.
  var z = try Conv2D(4, 3, padding: "same")(y)
  z = try BatchNormalization()(z)
  z = try Add()([y, z])
  z = try ActivationLayer("swish")(z)
  // A batch normalization no convolution precedes, and its activation: one pass.
  let merged = try ActivationLayer("relu")(try BatchNormalization()(try Add()([z, side])))
  var w = try Conv2D(6, 3, strides: 2)(merged)
  w = try BatchNormalization()(w)
  let pooled = try GlobalAveragePooling2D()(w)
  return try Model(inputs: [input], outputs: [try Dense(3, activation: "softmax")(pooled)])
}

/// Moving statistics, scales and offsets away from their initial values, so folding shows.
private func randomizeNormalization(_ model: Model, seed: UInt64) throws {
  var generator = SeededGenerator(seed: seed)
  for layer in model.layers.compactMap({ $0 as? BatchNormalization }) {
    let channels = try #require(layer.movingMean?.shape[0])
    layer.movingMean?.value = try randomTensor([channels], using: &generator)
    layer.movingVariance?.value = try randomTensor([channels], in: 0.2...2, using: &generator)
    layer.gamma?.value = try randomTensor([channels], in: 0.5...1.5, using: &generator)
    layer.beta?.value = try randomTensor([channels], using: &generator)
  }
}

private func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
  zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
}

@Test func inferenceFusesConvolutionChainsWithTheUnfusedNumbers() throws {
  let model = try residualModel()
  try randomizeNormalization(model, seed: 3)
  var generator = SeededGenerator(seed: 4)
  let x = try randomTensor([5, 9, 9, 4], in: -2...2, using: &generator)
  let fused = try model.predict(x, batchSize: 2)
  let plan = model.inferencePlan
  // Five convolutions, each the head of a chain: conv+BN+relu, conv+BN+Add+relu6, conv(relu) alone,
  // conv+BN+Add+swish, conv+BN; and BN+relu.
  #expect(plan.fused.count == 6)
  let chains = plan.fused.values.map(\.nodes.count).sorted()
  #expect(chains == [1, 2, 2, 3, 4, 4])
  #expect(plan.skipped.filter { $0 }.count == chains.reduce(0) { $0 + $1 - 1 })
  model.fusesInference = false
  let unfused = try model.predict(x, batchSize: 2)
  #expect(fused.shape == [5, 3])
  #expect(maxDifference(fused, unfused) < 1e-6)
  // The plain-loop backend's epilogue (the default of every backend) gives the same numbers.
  model.fusesInference = true
  model.kernels = ReferenceKernels()
  #expect(maxDifference(try model.predict(x, batchSize: 5), unfused) < 1e-6)
}

@Test func changedWeightsAreFoldedAgain() throws {
  let model = try residualModel()
  try randomizeNormalization(model, seed: 5)
  var generator = SeededGenerator(seed: 6)
  let x = try randomTensor([3, 9, 9, 4], using: &generator)
  let before = try model.predict(x)
  // New statistics and a new kernel: the folded weights must follow.
  try randomizeNormalization(model, seed: 7)
  let convolution = try #require(model.layers.compactMap { $0 as? Conv2D }.first)
  convolution.kernel?.value.withUnsafeMutableBufferPointer { k in
    for i in k.indices { k[i] *= -0.5 }
  }
  let after = try model.predict(x)
  model.fusesInference = false
  let reference = try model.predict(x)
  #expect(maxDifference(before, reference) > 1e-3, "the change shows in the outputs")
  #expect(maxDifference(after, reference) < 1e-6)
}

@Test func trainingAfterPredictStillLearns() throws {
  // predict hands its buffers over; fit keeps its own again and the fused kernel follows the steps.
  let model = try residualModel()
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  var generator = SeededGenerator(seed: 8)
  let x = try randomTensor([8, 9, 9, 4], using: &generator)
  let y = try Tensor(shape: [8], scalars: (0..<8).map { Float($0 % 3) })
  let first = try model.predict(x)
  try model.fit(x, y, batchSize: 4, epochs: 2, verbose: 0)
  let second = try model.predict(x)
  model.fusesInference = false
  #expect(maxDifference(second, try model.predict(x)) < 1e-6)
  #expect(maxDifference(first, second) > 1e-4)
}

@Test func depthwiseAndGroupedConvolutionsFuseToo() throws {
  // MobileNet's and EfficientNet's blocks: a depthwise convolution (a multiplier of 2, strides 2,
  // "same") with BatchNormalization and relu6, one with its own swish, and a grouped Conv2D with
  // BatchNormalization, on oneDNN's grouped primitives and on the plain loops.
  setRandomSeed(12)
  let input = try Input(shape: [10, 10, 4])
  var x = try DepthwiseConv2D(3, strides: 2, padding: "same", depthMultiplier: 2)(input)
  x = try ReLULayer(maxValue: 6)(try BatchNormalization()(x))
  x = try DepthwiseConv2D(3, activation: "swish")(x)
  let grouped = try Conv2D(
    config: Conv2D.Config(filters: 6, kernelSize: 1, groups: 2), inputShape: nil)
  x = try BatchNormalization()(try grouped(x))
  let model = try Model(inputs: [input], outputs: [try GlobalAveragePooling2D()(x)])
  try randomizeNormalization(model, seed: 13)
  var generator = SeededGenerator(seed: 14)
  let images = try randomTensor([3, 10, 10, 4], in: -2...2, using: &generator)
  let fused = try model.predict(images)
  #expect(model.inferencePlan.fused.values.map(\.nodes.count).sorted() == [1, 2, 3])
  model.fusesInference = false
  let unfused = try model.predict(images)
  #expect(maxDifference(fused, unfused) < 1e-5)
  model.fusesInference = true
  model.kernels = ReferenceKernels()
  #expect(maxDifference(try model.predict(images), unfused) < 1e-5)
}

@Test func sequentialModelsRunThePlanToo() throws {
  // The tutorial CNN's shape with normalization: ZeroPadding2D → Conv2D → BatchNormalization →
  // relu as one convolution, Conv2D(relu) alone, a lone BatchNormalization with its activation;
  // a layer added after predict is part of the next plan.
  let model = try Sequential(
    [
      Input(shape: [12, 12, 3]), ZeroPadding2D(padding: 1), Conv2D(8, kernelSize: 3),
      BatchNormalization(), ActivationLayer("relu"), MaxPooling2D(),
      Conv2D(8, kernelSize: 3, activation: "relu"),
      Flatten(), BatchNormalization(), ActivationLayer("swish"), Dense(4, activation: "softmax"),
    ], seed: 15)
  for layer in model.layers.compactMap({ $0 as? BatchNormalization }) {
    var generator = SeededGenerator(seed: 16)
    let channels = try #require(layer.movingMean?.shape[0])
    layer.movingMean?.value = try randomTensor([channels], using: &generator)
    layer.movingVariance?.value = try randomTensor([channels], in: 0.2...2, using: &generator)
  }
  var generator = SeededGenerator(seed: 17)
  let x = try randomTensor([5, 12, 12, 3], in: -2...2, using: &generator)
  let fused = try model.predict(x, batchSize: 2)
  #expect(model.inferencePlan.fused.values.map(\.nodes.count).sorted() == [1, 2, 4])
  model.fusesInference = false
  let unfused = try model.predict(x, batchSize: 2)
  #expect(maxDifference(fused, unfused) < 1e-6)
  #expect(maxDifference(fused, try model.predict(x, batchSize: 5)) < 1e-6)
  try model.add(Dense(2))
  model.fusesInference = true
  let longer = try model.predict(x)
  #expect(longer.shape == [5, 2])
  model.fusesInference = false
  #expect(maxDifference(longer, try model.predict(x)) < 1e-6)
}

/// How many batches the plan's chains ran fused.
private func fusedRuns(_ model: Model) -> Int {
  model.inferencePlan.fused.values.map(\.runs).reduce(0, +)
}

@Test func aFrozenBaseRunsFusedInTraining() throws {
  // Transfer learning: the base frozen, then its last block unfrozen (fine-tuning). The chains
  // before the first trained layer run fused in fit; the rest layer by layer; both give the
  // unfused run's weights.
  var generator = SeededGenerator(seed: 22)
  let x = try randomTensor([8, 9, 9, 4], in: -2...2, using: &generator)
  let y = try Tensor(shape: [8], scalars: (0..<8).map { Float($0 % 3) })
  for fineTuning in [false, true] {
    var trained: [[Float]] = []
    // The second model takes the first one's weights: a model built on the global seed may get
    // other initial weights when a test running beside this one draws in between.
    let first = try residualModel()
    try randomizeNormalization(first, seed: 23)
    let initial = first.parameters.map(\.value)
    for fuses in [true, false] {
      let model = fuses ? first : try residualModel()
      for (parameter, value) in zip(model.parameters, initial) { parameter.value = value }
      for layer in model.layers where !(layer is Dense) { layer.trainable = false }
      if fineTuning {
        // The last convolution and its normalization: trained, the normalization on batch
        // statistics.
        let last = try #require(model.layers.compactMap { $0 as? Conv2D }.last)
        last.trainable = true
        try #require(model.layers.compactMap { $0 as? BatchNormalization }.last).trainable = true
      }
      model.fusesInference = fuses
      // SGD: a step in proportion to the gradient (Adam's first steps move a weight by about the
      // learning rate whatever its gradient, so rounding in a gradient near zero would show whole).
      try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy")
      try model.fit(x, y, batchSize: 4, epochs: 2, verbose: 0, shuffle: false)
      if fuses {
        // Four batches; every chain but the last (fine-tuning: conv+BN, trained) fused in each.
        #expect(fusedRuns(model) == 4 * (fineTuning ? 5 : 6))
      }
      trained.append(model.trainableParameters.flatMap(\.value.scalars))
    }
    #expect(trained[0].count == trained[1].count)
    let worst = zip(trained[0], trained[1]).map { abs($0 - $1) }.max() ?? .infinity
    #expect(worst < 1e-5, "fine-tuning \(fineTuning): \(worst)")
  }
}

@Test func aFrozenSequentialBaseRunsFusedInTraining() throws {
  var generator = SeededGenerator(seed: 24)
  let x = try randomTensor([6, 8, 8, 3], in: -2...2, using: &generator)
  let y = try Tensor(shape: [6], scalars: (0..<6).map { Float($0 % 2) })
  var trained: [[Float]] = []
  for fuses in [true, false] {
    let model = try Sequential(
      [
        Input(shape: [8, 8, 3]), Conv2D(4, kernelSize: 3), BatchNormalization(),
        ActivationLayer("relu"), Conv2D(4, kernelSize: 3, activation: "relu"), Flatten(),
        Dense(2, activation: "softmax"),
      ], seed: 25)
    for layer in model.layers.prefix(4) { layer.trainable = false }
    model.fusesInference = fuses
    try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy")
    try model.fit(x, y, batchSize: 3, epochs: 2, verbose: 0, shuffle: false)
    // Four batches, two chains each.
    if fuses { #expect(fusedRuns(model) == 8) }
    trained.append(model.trainableParameters.flatMap(\.value.scalars))
  }
  let worst = zip(trained[0], trained[1]).map { abs($0 - $1) }.max() ?? .infinity
  #expect(worst < 1e-5, "\(worst)")
}

@Test func denseAndBatchNormalizationFoldIntoOneProduct() throws {
  // An MLP with normalization: Dense → BatchNormalization → tanh as one product and activation,
  // Dense → BatchNormalization as one product; a Dense with its own activation stays apart.
  let model = try Sequential(
    [
      Input(shape: [6]), Dense(8), BatchNormalization(), ActivationLayer("tanh"), Dense(5),
      BatchNormalization(), Dense(4, activation: "relu"), Dense(3, activation: "softmax"),
    ], seed: 26)
  var generator = SeededGenerator(seed: 27)
  for layer in model.layers.compactMap({ $0 as? BatchNormalization }) {
    let channels = try #require(layer.movingMean?.shape[0])
    layer.movingMean?.value = try randomTensor([channels], using: &generator)
    layer.movingVariance?.value = try randomTensor([channels], in: 0.2...2, using: &generator)
    layer.gamma?.value = try randomTensor([channels], in: 0.5...1.5, using: &generator)
    layer.beta?.value = try randomTensor([channels], using: &generator)
  }
  let x = try randomTensor([7, 6], in: -2...2, using: &generator)
  let fused = try model.predict(x, batchSize: 4)
  #expect(model.inferencePlan.fused.values.map(\.nodes.count).sorted() == [2, 3])
  model.fusesInference = false
  let unfused = try model.predict(x, batchSize: 4)
  #expect(maxDifference(fused, unfused) < 1e-6)
  // New statistics are folded again.
  let normalization = try #require(model.layers.compactMap { $0 as? BatchNormalization }.first)
  normalization.movingMean?.value = try randomTensor([8], using: &generator)
  model.fusesInference = true
  let refolded = try model.predict(x)
  model.fusesInference = false
  let reference = try model.predict(x)
  #expect(maxDifference(unfused, reference) > 1e-3, "the change shows")
  #expect(maxDifference(refolded, reference) < 1e-6)
}

/// DenseNet's dense block, `x = Concatenate()([x, conv(relu(bn(x)))])` three times, then a
/// transition; a concatenation another kind of layer also reads ends its block.
private func denseBlockModel(alsoPooled: Bool) throws -> Model {
  setRandomSeed(31)
  let input = try Input(shape: [6, 6, 4])
  var x = try Conv2D(8, 3, padding: "same")(input)
  var pooled: [SymbolicTensor] = []
  for step in 0..<3 {
    var y = try ActivationLayer("relu")(try BatchNormalization()(x))
    y = try Conv2D(6, 1, useBias: false)(y)
    y = try ActivationLayer("relu")(try BatchNormalization()(y))
    y = try Conv2D(3, 3, padding: "same", useBias: false)(y)
    x = try Concatenate()([x, y])
    if alsoPooled && step == 1 { pooled.append(try GlobalAveragePooling2D()(x)) }
  }
  x = try ActivationLayer("relu")(try BatchNormalization()(x))
  x = try GlobalAveragePooling2D()(x)
  if let extra = pooled.first { x = try Concatenate()([x, extra]) }
  return try Model(inputs: [input], outputs: [try Dense(3)(x)])
}

@Test func denseBlocksConcatenateIntoOneBuffer() throws {
  for alsoPooled in [false, true] {
    let model = try denseBlockModel(alsoPooled: alsoPooled)
    try randomizeNormalization(model, seed: 32)
    var generator = SeededGenerator(seed: 33)
    let x = try randomTensor([5, 6, 6, 4], in: -2...2, using: &generator)
    let fused = try model.predict(x, batchSize: 3)
    let blocks = Set(model.inferencePlan.blocks.values.map { ObjectIdentifier($0.block) })
    let widths = model.inferencePlan.blocks.values.map(\.block.widths).first
    if alsoPooled {
      // A pooling layer reads the second concatenation whole: the block ends there (the buffer is
      // its value), and the third is left alone.
      #expect(
        blocks.count == 1 && widths == [11, 14], "\(model.inferencePlan.blocks.keys.sorted())")
    } else {
      #expect(blocks.count == 1 && widths == [11, 14, 17])
    }
    model.fusesInference = false
    let unfused = try model.predict(x, batchSize: 3)
    #expect(fused.shape == [5, 3])
    #expect(maxDifference(fused, unfused) < 1e-5, "alsoPooled: \(alsoPooled)")
  }
}
