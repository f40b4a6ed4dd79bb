import StrataCore

/// An arithmetic operation between a tensor and a number, as a Keras functional model records
/// `x + 3.0` or `x * (1 / 6)` (MobileNetV3's hard sigmoid): Keras' operation nodes `Add`,
/// `Subtract`, `Multiply`, `Divide` and `TrueDivide` of `keras.src.ops.numpy` with one constant,
/// and the comparisons `Equal` and `NotEqual` (1 or 0: the mask Keras records as `x != 0` when an
/// `Embedding(mask_zero=True)` feeds a layer in a functional model).
///
/// Loading a Keras file makes one for each such node; saving writes the node back as Keras wrote
/// it. Operation nodes between two tensors load as the merge layers `Add`, `Subtract`, `Multiply`,
/// `Maximum` and `Minimum`.
public final class ScalarOperation: ShapePreservingLayer, OpsLayer, KerasOperationNode {
  /// What the node computes.
  public struct Config: Equatable, KerasConfig {
    /// Keras' class name of the operation: `Add`, `Subtract`, `Multiply`, `Divide`, `TrueDivide`,
    /// `Equal`, `NotEqual`.
    public var operation: String = "Add"
    /// The number.
    public var constant: Double = 0
    /// Whether the number is the first operand (`3.0 - x`) rather than the second (`x - 3.0`).
    public var constantFirst: Bool = false
    /// The operation's module in Keras.
    public var module: String = "keras.src.ops.numpy"

    /// Keras' defaults.
    public init() {}
  }

  /// The operations this layer computes.
  public static let operations = [
    "Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Equal", "NotEqual",
  ]
  /// The registry key: Keras' `ScalarOperation`.
  public static let identifier = "ScalarOperation"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]? = nil

  /// `ScalarOperation("Multiply", 0.5)`: `x * 0.5`.
  public convenience init(_ operation: String, _ constant: Double, constantFirst: Bool = false)
    throws
  {
    var config = Config()
    (config.operation, config.constant, config.constantFirst) = (operation, constant, constantFirst)
    try self.init(config: config)
  }

  /// A node from its config.
  public init(config: Config) throws {
    guard Self.operations.contains(config.operation) else {
      throw StrataError.unknownIdentifier(
        kind: "operation", identifier: config.operation,
        suggestions: closestNames(to: config.operation, in: Self.operations))
    }
    try checkArgument(
      config.constant.isFinite, owner: config.operation, argument: "constant",
      value: "\(config.constant)", expected: "a finite number")
    self.config = config
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: config.operation)
    let c = Float(config.constant)
    switch (config.operation, config.constantFirst) {
    case ("Add", _): return try x + c
    case ("Subtract", false): return try x - c
    case ("Subtract", true): return try c - x
    case ("Multiply", _): return try x * c
    case ("Equal", _): return try Ops.stopGradient(x) .== c
    case ("NotEqual", _): return try Ops.stopGradient(x) .!= c
    case (_, false): return try x / c
    case (_, true): return try c / x
    }
  }

  /// Keras' record of this node.
  public func kerasRecord(name: String, tensors: [ConfigValue]) -> ConfigDictionary {
    let constant = ConfigValue.double(config.constant)
    let tensor = tensors.first ?? .null
    return [
      "module": .string(config.module), "class_name": .string(config.operation),
      "config": ["name": .string(name)], "registered_name": .string(config.operation),
      "name": .string(name),
      "inbound_nodes": [
        ["args": config.constantFirst ? [constant, tensor] : [tensor, constant], "kwargs": [:]]
      ],
    ]
  }
}

/// Inception-ResNet's residual scaling: `inputs[0] + inputs[1] · scale`. Keras:
/// `keras.applications.inception_resnet_v2.CustomScaleLayer(scale)`.
public final class CustomScaleLayer: MergeLayer, KerasModuleLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `scale`: the residual branch's factor.
    public var scale: Float = 1
    /// Keras' defaults.
    public init() {}
    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["scale"]
  }
  /// The registry key: Keras' `CustomScaleLayer`.
  public static let identifier = "CustomScaleLayer"
  /// The Python module of the Keras class.
  public static let kerasModule = "keras.src.applications.inception_resnet_v2"
  /// The arguments the layer was made with.
  public let config: Config
  private var shape: [Int] = []

  /// A layer from its config.
  public init(config: Config) throws {
    try checkArgument(
      config.scale.isFinite, owner: "CustomScaleLayer", argument: "scale",
      value: "\(config.scale)", expected: "a finite number")
    self.config = config
  }

  /// Checks the inputs' shapes and returns the output's.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShapes.count == 2, inputShapes[0] == inputShapes[1] else {
      throw StrataError.shapeMismatch(
        layer: "CustomScaleLayer",
        received: inputShapes.map { kerasShape($0) }.joined(separator: ", "),
        expected: "two inputs of one shape")
    }
    shape = inputShapes[0]
    return shape
  }

  /// The output for a batch of each input.
  public func forward(_ inputs: [Tensor], in context: Context) throws -> Tensor {
    try checkArgument(
      inputs.count == 2, owner: "CustomScaleLayer", argument: "inputs",
      value: "\(inputs.count) tensors", expected: "exactly 2")
    for input in inputs { try checkInput(input, layer: "CustomScaleLayer", expected: shape) }
    var output = Tensor(shape: inputs[0].shape)
    let scale = config.scale
    inputs[0].withUnsafeBufferPointer { a in
      inputs[1].withUnsafeBufferPointer { b in
        output.withUnsafeMutableBufferPointer { simdZip(a, b, into: $0) { $0 + $1 * scale } }
      }
    }
    return output
  }

  /// Each input's gradient from the output's.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> [Tensor] {
    var scaled = Tensor(shape: outputGradient.shape)
    let scale = config.scale
    outputGradient.withUnsafeBufferPointer { dy in
      scaled.withUnsafeMutableBufferPointer { simdMap(dy, into: $0) { $0 * scale } }
    }
    return [outputGradient, scaled]
  }
}

/// ConvNeXt's per-channel learnt scale of a residual branch: `x · gamma`, `gamma` of
/// `projectionDim` values starting at `initValues`. Keras:
/// `keras.applications.convnext.LayerScale(init_values, projection_dim)`.
public final class LayerScale: ShapePreservingLayer, OpsLayer, KerasModuleLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `init_values`: gamma's starting value.
    public var initValues: Float = 1e-6
    /// Keras' `projection_dim`: the channels.
    public var projectionDim: Int = 0
    /// Keras' defaults.
    public init() {}
    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["init_values", "projection_dim"]
  }
  /// The registry key: Keras' `LayerScale`.
  public static let identifier = "LayerScale"
  /// The Python module of the Keras class.
  public static let kerasModule = "keras.src.applications.convnext"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]? = nil
  /// `[projectionDim]`; `nil` until built.
  public private(set) var gamma: Parameter?

  /// A layer from its config.
  public init(config: Config) throws {
    try checkArgument(
      config.projectionDim > 0, owner: "LayerScale", argument: "projection_dim",
      value: "\(config.projectionDim)", expected: "a positive integer")
    try checkArgument(
      config.initValues.isFinite, owner: "LayerScale", argument: "init_values",
      value: "\(config.initValues)", expected: "a finite number")
    self.config = config
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { gamma.map { [$0] } ?? [] }

  /// Creates the weights for `inputShape` and returns the output shape.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape.last == config.projectionDim else {
      throw StrataError.shapeMismatch(
        layer: "LayerScale", received: kerasShape(inputShape),
        expected: "\(config.projectionDim) channels on the last axis (projection_dim)")
    }
    gamma = Parameter(
      name: "gamma", value: Tensor(shape: [config.projectionDim], repeating: config.initValues))
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let gamma else { throw StrataError.invalidState("LayerScale: called before build.") }
    try checkInput(x, layer: "LayerScale")
    return try x * gamma.value
  }
}
