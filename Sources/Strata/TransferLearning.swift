import StrataCore
import StrataLayers

/// How the pixels (0 to 255) are scaled before a base model: Keras' `preprocess_input` of each
/// `keras.applications` family, as layers of the model.
public enum ImagePreprocessing: String, Sendable, CaseIterable {
  /// Pixels as they are: EfficientNet, EfficientNetV2 and ConvNeXt hold their own scaling.
  case none
  /// To [-1, 1] (`x / 127.5 - 1`): MobileNet, MobileNetV2, MobileNetV3 (which also scale inside),
  /// Xception, InceptionV3, InceptionResNetV2, NASNet, ResNetV2.
  case tf
  /// To [0, 1], then ImageNet's channel means and standard deviations: DenseNet.
  case torch

  /// The layers that do it, in order.
  func layers() throws -> [any Layer] {
    switch self {
    case .none: return []
    case .tf: return [try Rescaling(1 / 127.5, offset: -1)]
    case .torch:
      let deviations: [Float] = [0.229, 0.224, 0.225]
      return [
        try Rescaling(1 / 255),
        try Normalization(
          mean: [0.485, 0.456, 0.406], variance: FloatValues(deviations.map { $0 * $0 })),
      ]
    }
  }
}

extension Model {
  /// A classifier on a frozen base model, as TensorFlow's "Transfer learning and fine-tuning"
  /// tutorial builds it: the images' preprocessing, `base` called with `training: false` (its
  /// BatchNormalization layers stay in inference mode, even when fine-tuned later), global average
  /// pooling when the base gives feature maps, `Dropout(dropout)` and a `Dense` layer: one sigmoid
  /// unit for two classes (loss `binary_crossentropy`), else `classes` softmax units
  /// (`sparse_categorical_crossentropy`). `base.trainable` is set to `false`.
  ///
  /// ```swift
  /// let base = try loadModel(from: "mobilenet_v2_notop.keras")  // include_top=False
  /// let model = try Model.classifier(on: base, classes: 2, preprocessing: .tf)
  /// try model.compile(optimizer: Adam(learningRate: 1e-4), loss: "binary_crossentropy",
  ///                   metrics: ["accuracy"])
  /// try model.fit(train, epochs: 10, validationData: validation)
  /// base.trainable = true                                        // fine-tune the top
  /// for layer in base.layers.prefix(100) { layer.trainable = false }
  /// ```
  /// - Throws: for a base without one image input, with an output that is neither feature maps nor
  ///   features, or for fewer than 2 classes.
  public static func classifier(
    on base: Model, classes: Int, preprocessing: ImagePreprocessing = .none,
    dropout: Float = 0.2, name: String = "transfer"
  ) throws -> Model {
    try checkArgument(
      classes >= 2, owner: "Model.classifier", argument: "classes", value: "\(classes)",
      expected: "2 classes or more")
    guard let shapes = base.modelInputShapes, shapes.count == 1, shapes[0].count == 3 else {
      throw StrataError.invalidArgument(
        owner: "Model.classifier", argument: "base",
        value:
          "a model taking \(base.modelInputShapes?.map { kerasShape($0) } ?? ["no fixed input"])",
        expected: "a model with one image input (height, width, channels)")
    }
    try base.build(inputShape: shapes[0])
    guard let outputs = base.modelOutputShapes, outputs.count == 1,
      outputs[0].count == 3 || outputs[0].count == 1
    else {
      throw StrataError.invalidArgument(
        owner: "Model.classifier", argument: "base",
        value: "a model giving \(base.modelOutputShapes?.map { kerasShape($0) } ?? ["nothing"])",
        expected:
          "one output of feature maps (height, width, channels) or features (a Keras application with include_top=False)"
      )
    }
    base.trainable = false
    let inputs = try Input(shape: shapes[0])
    var x = inputs.symbolicTensor
    for layer in try preprocessing.layers() { x = try layer(x) }
    x = try base(x, training: false)
    if outputs[0].count == 3 { x = try GlobalAveragePooling2D()(x) }
    x = try Dropout(dropout)(x)
    let head =
      classes == 2
      ? try Dense(1, activation: "sigmoid") : try Dense(classes, activation: "softmax")
    return try Model(inputs: inputs, outputs: try head(x), name: name)
  }
}
