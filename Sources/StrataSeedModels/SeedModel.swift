import Strata

/// The models of the tutorials Strata was started from, built from string identifiers as a Keras config
/// gives them, with each tutorial's training set-up. The `strata` command, `bench` and the tests share them.
public enum SeedModel: String, CaseIterable, Sendable {
  /// The beginner tutorial: `Flatten - Dense(128, relu) - Dropout(0.2) - Dense(10, softmax)`.
  case mlp
  /// The tutorial CNN: three 3x3 convolutions, two poolings, `Dense(64)`, then logits.
  case cnn
  /// "Deep MNIST for experts": two 5x5 `same` convolutions and poolings, `Dense(1024)`, `Dropout(0.5)`.
  case deepMNIST = "deep-mnist"
  /// The horses-or-humans CNN on 300x300 colour images (one sigmoid output).
  case horsesOrHumans = "horses-or-humans"
  /// A small residual CNN (functional): two residual blocks of 3x3 convolutions with identity
  /// shortcuts, poolings, then a softmax.
  case resnetSmall = "resnet-small"
  /// "Sequential MNIST": each image's 28 rows as 28 time steps of 28 pixels, `LSTM(128)`, then a
  /// softmax over the 10 classes (on Fashion-MNIST).
  case sequentialMNIST = "sequential-mnist"
  /// The language of a word (English, German, French, Spanish, Italian) from its letters:
  /// character ids (``wordLength`` of them, 0-padded) → `Embedding(64, 32, mask_zero=True)` →
  /// `LSTM(64)` → a softmax (on ``StrataData/WordLanguages``).
  case wordLanguage = "word-language"
  /// `word-language` with a Transformer encoder block (functional): character embeddings, a
  /// `Conv1D` (the order of letters), `MultiHeadAttention(2, 16)` and a feed-forward block, each
  /// added back and layer-normalized, then average pooling and a softmax.
  case wordTransformer = "word-transformer"

  /// The characters `word-language` reads of a word.
  public static let wordLength = 16
  /// The size of `word-language`'s character vocabulary (padding and out-of-vocabulary included).
  public static let characterVocabulary = 64

  /// A new model with weights drawn from `seed`: a `Sequential`, or for `resnet-small` a functional
  /// model.
  public func make(seed: UInt64) throws -> Model {
    if self == .resnetSmall { return try Model(config: SeedModel.resnetSmallConfig, seed: seed) }
    if self == .wordTransformer { return try SeedModel.wordTransformerModel(seed: seed) }
    let model = try Sequential(seed: seed)
    switch self {
    case .sequentialMNIST:
      try model.add("LSTM", ["units": 128, "input_shape": [28, 28]])
      try model.add("Dense", ["units": 10, "activation": "softmax"])
    case .wordLanguage:
      try model.add(Input(shape: [SeedModel.wordLength], dtype: "int32"))
      try model.add(
        "Embedding",
        ["input_dim": .int(SeedModel.characterVocabulary), "output_dim": 32, "mask_zero": true])
      try model.add("LSTM", ["units": 64])
      try model.add("Dense", ["units": 5, "activation": "softmax"])
    case .mlp:
      try model.add("Flatten", ["input_shape": [28, 28]])
      try model.add("Dense", ["units": 128, "activation": "relu"])
      try model.add("Dropout", ["rate": 0.2])
      try model.add("Dense", ["units": 10, "activation": "softmax"])
    case .cnn:
      try model.add(
        "Conv2D",
        ["filters": 32, "kernel_size": 3, "activation": "relu", "input_shape": [28, 28, 1]])
      try model.add("MaxPooling2D", ["pool_size": 2])
      try model.add("Conv2D", ["filters": 64, "kernel_size": 3, "activation": "relu"])
      try model.add("MaxPooling2D", ["pool_size": 2])
      try model.add("Conv2D", ["filters": 64, "kernel_size": 3, "activation": "relu"])
      try model.add("Flatten")
      try model.add("Dense", ["units": 64, "activation": "relu"])
      try model.add("Dense", ["units": 10])
    case .deepMNIST:
      try model.add(
        "Conv2D",
        [
          "filters": 32, "kernel_size": 5, "padding": "same", "activation": "relu",
          "input_shape": [28, 28, 1],
        ])
      try model.add("MaxPooling2D", ["pool_size": 2, "padding": "same"])
      try model.add(
        "Conv2D", ["filters": 64, "kernel_size": 5, "padding": "same", "activation": "relu"])
      try model.add("MaxPooling2D", ["pool_size": 2, "padding": "same"])
      try model.add("Flatten")
      try model.add("Dense", ["units": 1024, "activation": "relu"])
      try model.add("Dropout", ["rate": 0.5])
      try model.add("Dense", ["units": 10, "activation": "softmax"])
    case .horsesOrHumans:
      try model.add(
        "Conv2D",
        ["filters": 16, "kernel_size": 3, "activation": "relu", "input_shape": [300, 300, 3]])
      try model.add("MaxPooling2D", ["pool_size": 2])
      try model.add("Conv2D", ["filters": 32, "kernel_size": 3, "activation": "relu"])
      try model.add("MaxPooling2D", ["pool_size": 2])
      try model.add("Conv2D", ["filters": 64, "kernel_size": 3, "activation": "relu"])
      try model.add("MaxPooling2D", ["pool_size": 2])
      try model.add("Flatten")
      try model.add("Dense", ["units": 512, "activation": "relu"])
      try model.add("Dense", ["units": 1, "activation": "sigmoid"])
    case .resnetSmall, .wordTransformer:
      break
    }
    return model
  }

  /// `word-transformer`'s graph.
  static func wordTransformerModel(seed: UInt64) throws -> Model {
    try withSeededBuilds(seed: seed) {
      let inputs = try Input(shape: [wordLength], dtype: "int32")
      let embedded = try Embedding(characterVocabulary, 32)(inputs)
      let local = try Conv1D(32, 3, padding: "same", activation: "relu")(embedded)
      let attended = try MultiHeadAttention(numHeads: 2, keyDim: 16)(local, local)
      let x = try LayerNormalization(epsilon: 1e-6)(try Add()([local, attended]))
      let hidden = try Dense(64, activation: "relu")(x)
      let y = try LayerNormalization(epsilon: 1e-6)(try Add()([x, try Dense(32)(hidden)]))
      let pooled = try GlobalAveragePooling1D()(y)
      let outputs = try Dense(5, activation: "softmax")(pooled)
      return try Model(inputs: inputs, outputs: outputs, name: "word_transformer", seed: seed)
    }
  }

  /// `resnet-small` as the Keras functional config it is built from (also `Examples/models/resnet-small.json`):
  /// `x → Conv2D(16) → [Conv2D(16) → Conv2D(16)] + x → relu → MaxPool → Conv2D(32) → [Conv2D(32) →
  /// Conv2D(32)] + x → relu → MaxPool → Flatten → Dense(10, softmax)`, every convolution 3x3 `same`.
  public static var resnetSmallConfig: ConfigValue {
    var layers: [ConfigValue] = []
    func tensor(_ name: String) -> ConfigValue {
      ["class_name": "__keras_tensor__", "config": ["keras_history": [.string(name), 0, 0]]]
    }
    func add(_ name: String, _ type: String, _ config: ConfigDictionary, _ inputs: [String]) {
      var config = config
      config["name"] = .string(name)
      let args: [ConfigValue] =
        inputs.count == 1 ? [tensor(inputs[0])] : [.array(inputs.map(tensor))]
      layers.append([
        "class_name": .string(type), "name": .string(name), "config": .object(config),
        "inbound_nodes": inputs.isEmpty ? [] : [["args": .array(args), "kwargs": [:]]],
      ])
    }
    func conv(_ name: String, _ filters: Int, relu: Bool, _ input: String) {
      add(
        name, "Conv2D",
        [
          "filters": .int(filters), "kernel_size": 3, "padding": "same",
          "activation": relu ? "relu" : "linear",
        ], [input])
    }
    add("input_layer", "InputLayer", ["batch_shape": [.null, 28, 28, 1]], [])
    conv("stem", 16, relu: true, "input_layer")
    conv("block1_conv1", 16, relu: true, "stem")
    conv("block1_conv2", 16, relu: false, "block1_conv1")
    add("block1_add", "Add", [:], ["stem", "block1_conv2"])
    add("block1_relu", "Activation", ["activation": "relu"], ["block1_add"])
    add("pool1", "MaxPooling2D", ["pool_size": 2], ["block1_relu"])
    conv("widen", 32, relu: true, "pool1")
    conv("block2_conv1", 32, relu: true, "widen")
    conv("block2_conv2", 32, relu: false, "block2_conv1")
    add("block2_add", "Add", [:], ["widen", "block2_conv2"])
    add("block2_relu", "Activation", ["activation": "relu"], ["block2_add"])
    add("pool2", "MaxPooling2D", ["pool_size": 2], ["block2_relu"])
    add("flatten", "Flatten", [:], ["pool2"])
    add("predictions", "Dense", ["units": 10, "activation": "softmax"], ["flatten"])
    return [
      "class_name": "Functional",
      "config": [
        "name": "resnet_small", "layers": .array(layers), "input_layers": [["input_layer", 0, 0]],
        "output_layers": [["predictions", 0, 0]],
      ],
    ]
  }

  /// The tutorial's epochs and batch size.
  public var epochs: Int {
    switch self {
    case .mlp: 5
    case .cnn: 2
    case .deepMNIST: 1
    case .horsesOrHumans: 15
    case .resnetSmall: 3
    case .sequentialMNIST: 2
    case .wordLanguage, .wordTransformer: 8
    }
  }
  /// The tutorial's batch size.
  public var batchSize: Int { self == .deepMNIST ? 50 : 32 }
  /// The tutorial's learning rate, `nil` for the optimizer's Keras default.
  public var learningRate: Float? { self == .deepMNIST ? 1e-4 : nil }
  /// The tutorial's loss: the CNN's last layer gives logits.
  public var loss: any LossConvertible {
    switch self {
    case .cnn: SparseCategoricalCrossentropy(fromLogits: true)
    case .horsesOrHumans: "binary_crossentropy"
    default: "sparse_categorical_crossentropy"
    }
  }

  /// Compiles `model` as the tutorial does: Adam (with the tutorial's learning rate, or `learningRate`),
  /// the tutorial's loss, and accuracy.
  public func compile(
    _ model: Model, optimizer: String = "adam", learningRate: Float? = nil, loss: String? = nil
  ) throws {
    var config: ConfigDictionary = [:]
    if let rate = learningRate ?? self.learningRate {
      config["learning_rate"] = .double(Double(rate))
    }
    try model.compile(
      optimizer: try Registries.shared.optimizers.make(optimizer, config: config),
      loss: loss ?? self.loss, metrics: ["accuracy"])
  }
}
