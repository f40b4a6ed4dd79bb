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

  /// A new model with weights drawn from `seed`.
  public func make(seed: UInt64) throws -> Sequential {
    let model = try Sequential(seed: seed)
    switch self {
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
    }
    return model
  }

  /// The tutorial's epochs and batch size.
  public var epochs: Int {
    switch self {
    case .mlp: 5
    case .cnn: 2
    case .deepMNIST: 1
    case .horsesOrHumans: 15
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
    _ model: Sequential, optimizer: String = "adam", learningRate: Float? = nil, loss: String? = nil
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
