import StrataCore

/// A model used as a layer of another model (Keras: calling a model on a tensor, or a model in a
/// `Sequential`): one input, one output, its weights those of the model. Registered as `"Functional"`
/// and `"Sequential"`, so a Keras config with a nested model builds it.
public final class ModelLayer: LayerContainer {
  /// The nested model's Keras config.
  public typealias Config = ConfigValue
  /// Keras' class name of a nested functional model (`"Sequential"` is an alias).
  public static let identifier = "Functional"
  /// The model inside.
  public let model: Model
  private var inputShape: [Int] = []
  /// Keras' `training` argument fixed at the call (`base(inputs, training=False)`): `false` runs
  /// the model in inference mode (BatchNormalization on its moving statistics, no dropout) even
  /// while the outer model trains; `nil` follows the outer model. Saved as the call's `kwargs`.
  public var training: Bool?

  /// A layer running `model`.
  /// - Throws: for a model without exactly one input and one output.
  public init(_ model: Model) throws {
    self.model = model
    if let shapes = model.modelInputShapes, shapes.count != 1 {
      throw StrataError.invalidArgument(
        owner: model.name, argument: "inputs", value: "\(shapes.count)",
        expected: "one input (a model used as a layer takes one tensor)")
    }
    if !model.outputs.isEmpty && model.outputs.count != 1 {
      throw StrataError.invalidArgument(
        owner: model.name, argument: "outputs", value: "\(model.outputs.count)",
        expected: "one output (a model used as a layer gives one tensor)")
    }
  }

  /// The nested model's config: a functional one (with `input_layers`) or a `Sequential`'s layers.
  public convenience init(config: ConfigValue) throws {
    try self.init(try Model.make(config: config))
  }

  /// The nested model's Keras config (without its class name).
  public var config: ConfigValue {
    model.config.objectValue?["config"] ?? model.config
  }

  /// The model's weights.
  public var parameters: [Parameter] { model.parameters }
  /// The model's layers.
  public var sublayers: [any Layer] { model.layers }

  /// Builds the model for `inputShape` and returns its output shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let probe = Tensor(shape: [0] + inputShape)
    try model.prepare(for: [probe])
    guard let output = model.modelOutputShapes?.first, model.modelOutputShapes?.count == 1 else {
      throw StrataError.invalidArgument(
        owner: model.name, argument: "outputs", value: "\(model.modelOutputShapes?.count ?? 0)",
        expected: "one output")
    }
    self.inputShape = inputShape
    return output
  }

  /// Runs the model on a batch.
  public func forward(_ input: Tensor, in context: Context) throws -> Tensor {
    var context = context
    if let training { context.behavesAsTraining = training && context.isTraining }
    return try model.run([input], context: context)[0]
  }

  /// The input's gradient, through the model (its weights' gradients written on the way).
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try model.runBackward([outputGradient], inputGradients: true, context: context)[0]
  }
}

/// Registers ``ModelLayer`` (Keras' nested `Functional` and `Sequential` records).
public enum ModelsPlugin: BuiltInPlugin {
  /// Registers ``ModelLayer``.
  public static func register(in registrar: Registrar) throws {
    try registrar.register(ModelLayer.self, aliases: ["Sequential"])
  }
}

extension Model {
  /// Applies the model to a symbolic tensor as one layer of a bigger model:
  /// `let features = try encoder(inputs)`. Its weights stay the model's (shared by every call).
  public func callAsFunction(_ input: some SymbolicInput) throws -> SymbolicTensor {
    try asLayer()(input)
  }

  /// Applies the model with Keras' `training` argument fixed: `try base(inputs, training: false)`
  /// keeps a base model in inference mode inside a model that trains (transfer learning).
  public func callAsFunction(_ input: some SymbolicInput, training: Bool) throws -> SymbolicTensor {
    let layer = try asLayer()
    layer.training = training
    return try layer(input)
  }

  /// The one layer that stands for this model in other models.
  func asLayer() throws -> ModelLayer {
    if let layer = wrapper { return layer }
    let layer = try ModelLayer(self)
    if !trainable { layer.trainable = false }
    wrapper = layer
    return layer
  }
}

extension Sequential {
  /// Appends a whole model as one layer (Keras: a model inside a `Sequential`).
  public func add(_ model: Model, name: String? = nil) throws {
    try add(try model.asLayer(), name: name ?? model.name)
  }
}
