import Foundation
import Strata
import StrataTesting
import Testing

// Layers inside models: each family trains, saves and loads in a `Sequential` or functional model,
// and a model refuses what its layers cannot take. The layers on their own are tested in
// StrataLayersTests, which links the plugin and not this umbrella.

@Suite struct ApplicationLayerInModels {
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
}

@Suite struct AttentionLayerInModels {
  /// A small Transformer encoder block (Keras' text classification example) learns whether a
  /// sequence holds more of token 1 than of token 2, saves and loads with the same predictions.
  @Test func transformerBlockTrainsSavesAndLoads() throws {
    let inputs = try Input(shape: [8], dtype: "int32")
    let embedded = try Embedding(6, 8)(inputs)
    let attended = try MultiHeadAttention(numHeads: 2, keyDim: 4)(embedded, embedded)
    let normalized = try LayerNormalization(epsilon: 1e-6)(try Add()([embedded, attended]))
    let pooled = try GlobalAveragePooling1D()(normalized)
    let outputs = try Dense(2, activation: "softmax")(pooled)
    let model = try Model(inputs: inputs, outputs: outputs, seed: 2)
    try model.compile(
      optimizer: Adam(learningRate: 0.01), loss: "sparse_categorical_crossentropy",
      metrics: ["accuracy"])
    // Label: whether token 1 occurs more often than token 2.
    var generator = SeededGenerator(seed: 5)
    var ids: [Float] = [], labels: [Float] = []
    for _ in 0..<128 {
      let row = (0..<8).map { _ in Float(1 + Int(generator.nextUniform() * 5) % 5) }
      ids += row
      labels.append(row.filter { $0 == 1 }.count > row.filter { $0 == 2 }.count ? 1 : 0)
    }
    let x = try Tensor(shape: [128, 8], scalars: ids)
    let y = try Tensor(shape: [128], scalars: labels)
    let history = try model.fit(x, y, batchSize: 16, epochs: 40, verbose: .silent)
    let accuracy = try #require(history.history["accuracy"]?.last)
    #expect(accuracy > 0.9, "accuracy \(accuracy)")
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("transformer-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    #expect(try loaded.predict(x) == model.predict(x))
  }

  /// Attention layers in a functional model written to a `.keras` file: MultiHeadAttention's key
  /// as its third argument and Attention's `[query, value, key]` list with its causal mask are
  /// written as Keras' calls, read back, and the loaded model predicts the same.
  @Test func attentionCallsSurviveKerasFiles() throws {
    let query = try Input(shape: [4, 6]), value = try Input(shape: [4, 6])
    let key = try Input(shape: [4, 6])
    let heads = try MultiHeadAttention(numHeads: 2, keyDim: 3)(query, value, key: key)
    let score = try Attention(useScale: true)
    score.useCausalMask = true
    let scored = try score([query, value, key])
    let model = try Model(
      inputs: [query, value, key], outputs: [try Add()([heads, scored])], seed: 4)
    var generator = SeededGenerator(seed: 9)
    let xs = try (0..<3).map { _ in try randomTensor([2, 4, 6], using: &generator) }
    let expected = try model.predict(xs)
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("attention-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    #expect(try loaded.predict(xs) == expected)
    let attention = try #require(loaded.layers.compactMap { $0 as? Attention }.first)
    #expect(attention.useCausalMask)
    // Without the causal mask the output differs: the flag was read, not defaulted.
    attention.useCausalMask = false
    #expect(try loaded.predict(xs) != expected)
  }
}

@Suite struct AugmentationInModels {
  @Test("identifiers, Keras configs and errors")
  func configsAndErrors() throws {
    let model = try Sequential(seed: 1)
    try model.add("Input", ["shape": [32, 32, 3]])
    try model.add("RandomFlip", ["mode": "horizontal"])
    try model.add("RandomContrast", ["factor": 0.2])
    try model.add("RandomBrightness", ["factor": [-0.1, 0.3], "value_range": [0, 1]])
    try model.add("Resizing", ["height": 16, "width": 16])
    try model.add("CenterCrop", ["height": 12, "width": 10])
    try model.add("RandomCrop", ["height": 8, "width": 8, "seed": 3])
    try model.add("RandomTranslation", ["height_factor": 0.1, "width_factor": [-0.2, 0.1]])
    try model.add("RandomZoom", ["height_factor": [-0.2, 0.3], "fill_mode": "nearest"])
    try model.add("RandomRotation", ["factor": 0.05, "interpolation": "nearest"])
    #expect(model.modelOutputShapes == [[8, 8, 3]])
    let rebuilt = try Sequential(config: model.config, seed: 1)
    #expect(rebuilt.config == model.config)
    #expect(throws: StrataError.self) { try RandomFlip("diagonal") }
    #expect(throws: StrataError.self) { try RandomContrast(1.5) }
    #expect(throws: StrataError.self) { try Resizing(0, 4) }
    #expect(throws: StrataError.self) { try RandomRotation(0.1, fillMode: "mirror") }
    #expect(throws: StrataError.self) { try RandomZoom(2) }
    #expect(throws: StrataError.self) {
      try Registries.shared.layers.make(
        "Resizing", config: ["height": 4, "width": 4, "antialias": true])
    }
    #expect(throws: StrataError.self) {
      try Registries.shared.layers.make(
        "RandomBrightness", config: ["factor": 0.1, "value_range": [1, 0]])
    }
  }
}

@Suite struct ConvolutionInModels {
  @Test func badImageInputGetsClearErrors() throws {
    #expect(
      throws: StrataError.invalidArgument(
        owner: "Conv2D", argument: "filters", value: "0", expected: "a positive integer")
    ) {
      try Conv2D(0, kernelSize: 3)
    }
    #expect(
      throws: StrataError.invalidArgument(
        owner: "Conv2D", argument: "kernel_size", value: "(0, 0)",
        expected: "positive integers up to 1048576")
    ) { try Conv2D(4, kernelSize: 0) }
    #expect(
      throws: StrataError.invalidArgument(
        owner: "Conv2D", argument: "padding", value: "\'full\'", expected: "\'valid\' or \'same\'")
    ) { try Conv2D(4, kernelSize: 3, padding: "full") }
    #expect(
      throws: StrataError.invalidArgument(
        owner: "Conv2D", argument: "strides", value: "(2, 2) with dilation_rate (2, 2)",
        expected: "strides of 1 when dilation_rate is above 1, as in Keras")
    ) { try Conv2D(4, kernelSize: 3, strides: 2, dilationRate: 2) }
    var generator = SeededGenerator(seed: 1)
    // A kernel larger than the (unpadded) input.
    #expect(
      throws: StrataError.shapeMismatch(
        layer: "Conv2D", received: "(None, 2, 2, 1)",
        expected: "images of at least 3x3 for a kernel of (3, 3) with padding 'valid'")
    ) {
      try Conv2D(4, kernelSize: 3).build(inputShape: [2, 2, 1], generator: &generator)
    }
    // A non-4-D input: gray images without their channel axis.
    do {
      _ = try Sequential([Input(shape: [28, 28]), Conv2D(32, kernelSize: 3)])
      Issue.record("a 3-D input was accepted")
    } catch let error as StrataError {
      #expect("\(error)".contains("conv2d (Conv2D)") && "\(error)".contains("4-D input"))
    }
    #expect(
      throws: StrataError.shapeMismatch(
        layer: "MaxPooling2D", received: "(None, 1, 1, 3)",
        expected: "images of at least 2x2 for padding \'valid\'")
    ) { try MaxPooling2D().build(inputShape: [1, 1, 3], generator: &generator) }
    #expect(
      throws: StrataError.invalidArgument(
        owner: "ZeroPadding2D", argument: "padding", value: "[1,2,3]",
        expected: "an integer, (height, width) or ((top, bottom), (left, right)); received [1,2,3]")
    ) { try Registries.shared.layers.make("ZeroPadding2D", config: ["padding": [1, 2, 3]]) }
    #expect(
      throws: StrataError.invalidArgument(
        owner: "BatchNormalization", argument: "axis", value: "1",
        expected: "-1 (the channels of channels-last data), or 3 for this input")
    ) {
      try Registries.shared.layers.make("BatchNormalization", config: ["axis": 1]).build(
        inputShape: [3, 3, 2], generator: &generator)
    }
  }
}

@Suite struct DecoderAndNoiseLayerInModels {
  /// `ActivityRegularization(l1:l2:)` after a layer trains exactly as that layer with
  /// `activity_regularizer=L1L2(l1, l2)` (Keras defines it so; regularizers.json checks the latter
  /// against Keras).
  @Test func activityRegularizationAddsTheL1L2Penalty() throws {
    var generator = SeededGenerator(seed: 31)
    let x = try randomTensor([24, 5], using: &generator)
    let y = try randomTensor([24, 2], using: &generator)
    let regularized = try Sequential(seed: 3)
    try regularized.add(
      "Dense",
      [
        "units": 4, "input_shape": [5],
        "activity_regularizer": ["class_name": "L1L2", "config": ["l1": 0.01, "l2": 0.02]],
      ])
    try regularized.add("Dense", ["units": 2])
    let layered = try Sequential(seed: 3)
    try layered.add("Dense", ["units": 4, "input_shape": [5]])
    try layered.add("ActivityRegularization", ["l1": 0.01, "l2": 0.02])
    try layered.add("Dense", ["units": 2])
    try layered.setWeights(regularized.weights)
    for model in [regularized, layered] { try model.compile(optimizer: "sgd", loss: "mse") }
    let expected = try regularized.fit(x, y, batchSize: 8, epochs: 3, verbose: 0, shuffle: false)
    let history = try layered.fit(x, y, batchSize: 8, epochs: 3, verbose: 0, shuffle: false)
    #expect(history["loss"]?.count == 3)
    for (a, b) in zip(history["loss"] ?? [], expected["loss"] ?? []) {
      #expect(Swift.abs(a - b) <= 1e-5 * Swift.max(1, Swift.abs(b)), "loss \(a) vs \(b)")
    }
    // The penalty is there: the same model without it reports a smaller loss.
    let plain = try Sequential(seed: 3)
    try plain.add("Dense", ["units": 4, "input_shape": [5]])
    try plain.add("Dense", ["units": 2])
    try plain.setWeights(regularized.weights)
    try plain.compile(optimizer: "sgd", loss: "mse")
    let penalized = try layered.evaluate(x, y, verbose: 0)["loss"] ?? 0
    #expect(penalized > (try plain.evaluate(x, y, verbose: 0)["loss"] ?? .infinity) + 1e-4)
  }

  /// A small decoder of the new layers trains, saves to `.keras` and loads with the same
  /// predictions.
  @Test func decoderTrainsSavesAndLoads() throws {
    let model = try Sequential(seed: 11)
    try model.add(InputLayer(config: InputLayer.Config(shape: [6])))
    try model.add(RepeatVector(4))
    try model.add(Permute([2, 1]))
    try model.add(Reshape([3, 2, 4]))
    try model.add(Conv2DTranspose(5, 3, strides: 2, padding: "same", activation: "relu"))
    try model.add(SpatialDropout2D(0.1))
    try model.add(GaussianNoise(0.05))
    try model.add(UpSampling2D(size: 2, interpolation: "bilinear"))
    try model.add(GaussianDropout(0.1))
    try model.add(Conv2DTranspose(1, 2, outputPadding: 0))
    try model.add(ActivityRegularization(l2: 1e-3))
    try model.compile(optimizer: "adam", loss: "mse")
    let x = awayFromZero([16, 6], seed: 12)
    let target = awayFromZero([16, 13, 9, 1], seed: 13)
    #expect(try model.predict(x).shape == [16, 13, 9, 1])
    let history = try model.fit(x, target, batchSize: 8, epochs: 8, verbose: 0)
    let losses = try #require(history["loss"])
    #expect(losses.allSatisfy(\.isFinite) && losses.last! < losses.first!)
    // Keras' SpatialDropout2D takes no `trainable` argument: its saved config leaves it out.
    let records = (model.config.objectValue?["config"]?.objectValue?["layers"]?.arrayValue ?? [])
      .compactMap(\.objectValue)
    func savedConfig(_ name: String) -> ConfigDictionary? {
      records.first { $0["class_name"] == .string(name) }?["config"]?.objectValue
    }
    #expect(savedConfig("SpatialDropout2D")?["rate"] != nil)
    #expect(savedConfig("SpatialDropout2D")?["trainable"] == nil)
    #expect(savedConfig("Conv2DTranspose")?["trainable"] == .bool(true))
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("decoder-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    #expect(loaded.layers.map(\.identifier) == model.layers.map(\.identifier))
    #expect(isClose(try loaded.predict(x), try model.predict(x), rtol: 1e-6, atol: 1e-7))
  }
}

@Suite struct DepthwiseConvInModels {
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
}

@Suite struct SequenceLayerInModels {
  @Test func refusalsNameTheLayerAndValue() throws {
    func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
    var generator = SeededGenerator(seed: 1)
    let embedding = try Embedding(5, 2)
    _ = try embedding.build(inputShape: [2], generator: &generator)
    let outside = message {
      try embedding.forward(try Tensor(shape: [1, 2], scalars: [1, 5]), in: Context())
    }
    #expect(outside.contains("Embedding") && outside.contains("5") && outside.contains("input_dim"))
    #expect(
      message {
        try embedding.forward(try Tensor(shape: [1, 2], scalars: [1, 0.5]), in: Context())
      }
      .contains("0.5"))
    #expect(message { try Embedding(0, 2) }.contains("input_dim"))
    #expect(message { try LSTM(0) }.contains("units"))
    #expect(message { try EinsumDense("ab,bc", outputShape: [3]) }.contains("equation"))
    #expect(message { try EinsumDense("ab,bc->ad", outputShape: [3]) }.contains("'d'"))
    #expect(
      message { try EinsumDense("ab,bc->ac", outputShape: [3], biasAxes: "x") }.contains(
        "bias_axes"))
    #expect(message { try EinsumDense("ab,bc->ac", outputShape: [-1]) }.contains("output_shape"))
    #expect(
      message {
        var generator = SeededGenerator(seed: 1)
        _ = try EinsumDense("abc,cd->abd", outputShape: [nil, 4]).build(
          inputShape: [5], generator: &generator)
      }.contains("EinsumDense"))
    #expect(
      message {
        var generator = SeededGenerator(seed: 1)
        _ = try EinsumDense("abc,cd->abd", outputShape: [6, 4]).build(
          inputShape: [5, 3], generator: &generator)
      }.contains("same size"))
    #expect(
      message { try GRU(3, inputShape: nil).build(inputShape: [4], generator: &generator) }
        .contains("(None, 4)"))
    #expect(message { try LSTM(2, dropout: 1) }.contains("dropout"))
    let states = message {
      try LSTM(2).build(inputShapes: [[3, 2], [2]], generator: &generator)
    }
    #expect(states.contains("LSTM") && states.contains("initial_state") && states.contains("2"))
    let stateShape = message {
      try GRU(2).build(inputShapes: [[3, 2], [3]], generator: &generator)
    }
    #expect(stateShape.contains("GRU") && stateShape.contains("(None, 3)"))
    #expect(message { try Bidirectional(LSTM(2, returnState: true)) }.contains("return_state"))
    let chained = message {
      try Sequential([try Input(shape: [3, 2]), try LSTM(2, returnState: true)]).build(
        inputShape: [3, 2])
    }
    #expect(chained.contains("return_state") && chained.contains("Sequential"))
    #expect(message { try Embedding(3, -1) }.contains("output_dim"))
    let padding = message { try Conv1D(2, 3, padding: "full") }
    #expect(padding.contains("Conv1D") && padding.contains("causal"))
    #expect(message { try Conv1D(2, 3, strides: 2, dilationRate: 2) }.contains("dilation_rate"))
    let images = message {
      try Conv1D(2, 3).build(inputShape: [4, 4, 3], generator: &generator)
    }
    #expect(images.contains("Conv1D") && images.contains("(None, 4, 4, 3)"))
    let short = message { try Conv1D(2, 5).build(inputShape: [3, 2], generator: &generator) }
    #expect(short.contains("(None, 3, 2)"))
    #expect(message { try MaxPooling1D(0) }.contains("pool_size"))
    #expect(message { try UpSampling1D(size: 0) }.contains("size"))
    let crop = message {
      try Cropping1D(cropping: 3).build(inputShape: [5, 2], generator: &generator)
    }
    #expect(crop.contains("Cropping1D") && crop.contains("(3, 3)") && crop.contains("(None, 5, 2)"))
    #expect(message { try ZeroPadding1D(padding: -1) }.contains("padding"))
    let flat = message {
      try GlobalAveragePooling1D().build(inputShape: [5], generator: &generator)
    }
    #expect(flat.contains("GlobalAveragePooling1D") && flat.contains("(None, 5)"))
    let dtype = message { try Input(shape: [3], dtype: "string") }
    #expect(dtype.contains("dtype") && dtype.contains("int32"))
    let merge = message { try Bidirectional(LSTM(2), mergeMode: "max") }
    #expect(
      merge.contains("Bidirectional") && merge.contains("merge_mode") && merge.contains("max"))
    let wrapped = message { try Bidirectional(Dense(2)) }
    #expect(wrapped.contains("Bidirectional") && wrapped.contains("Dense"))
    let sameWay = message { try Bidirectional(LSTM(2), backwardLayer: LSTM(2)) }
    #expect(sameWay.contains("go_backwards"))
    let unknown = message {
      try Registries.shared.layers.make(
        "TimeDistributed", config: ["layer": ["class_name": "Dense2", "config": ["units": 2]]])
    }
    #expect(unknown.contains("TimeDistributed") && unknown.contains("Dense2"))
    let flatSteps = message {
      try TimeDistributed(Dense(2)).build(inputShape: [5], generator: &generator)
    }
    #expect(flatSteps.contains("TimeDistributed") && flatSteps.contains("(None, 5)"))
  }

  /// A text classifier of token ids: Input(dtype: "int32"), Embedding, Conv1D, pooling, trains and
  /// saves with its integer input.
  @Test func textClassifierTrainsSavesAndLoads() throws {
    let model = try Sequential(seed: 4)
    try model.add(Input(shape: [12], dtype: "int32"))
    try model.add(Embedding(20, 8))
    try model.add(Conv1D(8, 3, padding: "causal", activation: "relu"))
    try model.add(MaxPooling1D(2))
    try model.add(GlobalMaxPooling1D())
    try model.add(Dense(2, activation: "softmax"))
    try model.compile(
      optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    // Label: whether id 7 occurs in the sequence.
    var generator = SeededGenerator(seed: 9)
    var ids: [Float] = [], labels: [Float] = []
    for _ in 0..<64 {
      let row = (0..<12).map { _ in Float(Int(generator.nextUniform() * 20) % 20) }
      ids += row
      labels.append(row.contains(7) ? 1 : 0)
    }
    let x = try Tensor(shape: [64, 12], scalars: ids)
    let y = try Tensor(shape: [64], scalars: labels)
    let history = try model.fit(x, y, batchSize: 16, epochs: 15, verbose: 0)
    let losses = try #require(history["loss"])
    #expect(losses.last! < losses.first! * 0.9, "\(losses)")
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("text-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    #expect((loaded as? Sequential)?.inputDType == "int32")
    #expect(isClose(try loaded.predict(x), try model.predict(x), rtol: 1e-6, atol: 1e-7))
  }

  /// A stacked recurrent model with dropout learns which half of a sequence holds a spike, and
  /// saves and loads with the same predictions (the weights in Keras' `cell` groups).
  @Test func recurrentModelTrainsSavesAndLoads() throws {
    let model = try Sequential(seed: 6)
    try model.add(Input(shape: [8, 2]))
    try model.add(GRU(6, returnSequences: true))
    try model.add(LSTM(5, dropout: 0.1, recurrentDropout: 0.1))
    try model.add(Dense(2, activation: "softmax"))
    try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
    var generator = SeededGenerator(seed: 3)
    var values: [Float] = [], labels: [Float] = []
    for sample in 0..<48 {
      var row = (0..<16).map { _ in generator.nextUniform() * 0.2 }
      let spike = (sample % 2 == 0 ? 0 : 4) + Int(generator.nextUniform() * 4) % 4
      row[spike * 2] = 1
      values += row
      labels.append(Float(sample % 2))
    }
    let x = try Tensor(shape: [48, 8, 2], scalars: values)
    let y = try Tensor(shape: [48], scalars: labels)
    let history = try model.fit(x, y, batchSize: 16, epochs: 12, verbose: 0)
    let losses = try #require(history["loss"])
    #expect(losses.allSatisfy(\.isFinite) && losses.last! < losses.first!, "\(losses)")
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("recurrent-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    #expect(isClose(try loaded.predict(x), try model.predict(x), rtol: 1e-6, atol: 1e-7))
  }

  /// Masks as Keras carries them: Embedding(mask_zero) marks id 0, an LSTM keeps its state over
  /// masked steps (so trailing padding changes nothing), Dropout passes the mask on,
  /// GlobalAveragePooling1D averages the unmasked steps, and the gradients of a masked LSTM match
  /// finite differences.
  @Test func masksSkipPadding() throws {
    func model(length: Int) throws -> Sequential {
      let model = try Sequential(seed: 2)
      try model.add(Input(shape: [length], dtype: "int32"))
      try model.add(Embedding(9, 4, maskZero: true))
      try model.add(Dropout(0.2))
      try model.add(LSTM(3, returnSequences: true))
      try model.add(GlobalAveragePooling1D())
      return model
    }
    let padded = try model(length: 6)
    let y = try padded.predict(
      try Tensor(shape: [2, 6], scalars: [3, 1, 4, 0, 0, 0, 5, 2, 0, 0, 0, 0]))
    // The same sequences without their padding, in models of their length with the same weights.
    for (row, ids) in [(0, [Float(3), 1, 4]), (1, [5, 2])] {
      let short = try model(length: ids.count)
      try short.setWeights(padded.weights)
      let expected = try short.predict(try Tensor(shape: [1, ids.count], scalars: ids))
      let got = try Ops.slice(y, start: [row, 0], shape: [1, 3])
      #expect(
        isClose(got, expected, rtol: 1e-5, atol: 1e-6),
        "row \(row): \(got.scalars) vs \(expected.scalars)")
    }
    // A mask reaches a recurrent layer through Masking too, and its gradients are right.
    let masked = try LSTM(2, goBackwards: true)
    var generator = SeededGenerator(seed: 1)
    _ = try masked.build(inputShape: [5, 3], generator: &generator)
    masked.inputMask = try Tensor(shape: [2, 5], scalars: [1, 1, 1, 0, 0, 1, 0, 1, 1, 0])
    let error = try maxGradientError(of: masked, inputShape: [2, 5, 3], build: false)
    #expect(error < 1e-2, "masked LSTM: \(error)")
    let masking = try Masking()
    _ = try masking.build(inputShape: [3, 2], generator: &generator)
    let x = try Tensor(shape: [1, 3, 2], scalars: [1, 0, 0, 0, 0, 2])
    #expect(try masking.outputMask(for: x, inputMask: nil)?.scalars == [1, 0, 1])
  }

  /// An encoder's final states start a decoder: it learns to repeat the first token of the encoded
  /// sequence at every step, which only the states carry; saved as `.keras`, it predicts the same.
  @Test func encoderStatesStartADecoder() throws {
    let source = try Input(shape: [6], dtype: "int32")
    let target = try Input(shape: [4], dtype: "int32")
    let encoder = try LSTM(16, returnState: true)
    let encoded = try encoder.outputs(of: try Embedding(8, 8)(source))
    #expect(encoded.map(\.shape) == [[16], [16], [16]])
    let decoded = try LSTM(16, returnSequences: true)(
      try Embedding(8, 8)(target), initialState: [encoded[1], encoded[2]])
    let outputs = try Dense(8, activation: "softmax")(decoded)
    let model = try Model(inputs: [source, target], outputs: [outputs], seed: 3)
    // The layers drew their initial weights from the global generator, which tests running in
    // parallel share: the kernels are drawn again from this test's own (biases keep Keras' values).
    var initial = SeededGenerator(seed: 21)
    for parameter in model.parameters where parameter.shape.count == 2 {
      parameter.value = try randomTensor(parameter.shape, in: -0.3...0.3, using: &initial)
    }
    #expect(model.summaryText().contains("[(None, 16), (None, 16), (None, 16)]"))
    #expect(model.summaryText().contains("lstm[0][1], lstm[0][2]"))
    try model.compile(optimizer: Adam(learningRate: 0.02), loss: "sparse_categorical_crossentropy")
    var generator = SeededGenerator(seed: 8)
    var sources: [Float] = [], targets: [Float] = [], labels: [Float] = []
    for _ in 0..<96 {
      let row = (0..<6).map { _ in Float(1 + Int(generator.nextUniform() * 7) % 7) }
      sources += row
      targets += (0..<4).map { _ in Float(1 + Int(generator.nextUniform() * 7) % 7) }
      labels += Array(repeating: row[0], count: 4)
    }
    let x = [
      try Tensor(shape: [96, 6], scalars: sources), try Tensor(shape: [96, 4], scalars: targets),
    ]
    let y = try Tensor(shape: [96, 4], scalars: labels)
    let history = try model.fit(x, [y], batchSize: 16, epochs: 30, verbose: .silent)
    let losses = try #require(history.history["loss"])
    #expect(losses.last! < 0.3 * losses.first!, "\(losses)")
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("seq2seq-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    #expect(try loadModel(from: url).predict(x) == model.predict(x))
  }
}
