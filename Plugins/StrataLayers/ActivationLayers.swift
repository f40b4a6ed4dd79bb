import StrataCore

/// The rectified linear unit as a layer, with Keras' options: `x` above `threshold` (clipped at
/// `maxValue` when given), `negativeSlope · (x − threshold)` at or below it.
///
/// Keras: `keras.layers.ReLU(max_value=None, negative_slope=0.0, threshold=0.0)` (registered as
/// `"ReLU"`; the Swift type has another name because the `relu` activation is `ReLU`). MobileNet's
/// `ReLU(6.0)` is `ReLULayer(maxValue: 6)`. Written forward-only with ops, as Keras writes it.
public final class ReLULayer: ShapePreservingLayer, OpsLayer {
  /// The Keras arguments, each with its Keras default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `max_value`: the largest output, or none.
    public var maxValue: Float?
    /// Keras' `negative_slope`.
    public var negativeSlope: Float = 0
    /// Keras' `threshold`.
    public var threshold: Float = 0

    /// Keras' defaults.
    public init() {}
  }

  public static let identifier = "ReLU"
  public let config: Config

  /// A layer from a config; Keras' own checks: `max_value`, `negative_slope` and `threshold` are not
  /// negative.
  public init(config: Config) throws {
    for (argument, value) in [
      ("max_value", config.maxValue), ("negative_slope", config.negativeSlope),
      ("threshold", config.threshold),
    ] {
      guard let value else { continue }
      try checkArgument(
        value >= 0 && value.isFinite, owner: "ReLU", argument: argument, value: "\(value)",
        expected: "a finite number ≥ 0")
    }
    self.config = config
  }

  /// `ReLULayer(maxValue: 6)`, Keras' `ReLU(max_value=6.0)`.
  public convenience init(maxValue: Float? = nil, negativeSlope: Float = 0, threshold: Float = 0)
    throws
  {
    var config = Config()
    config.maxValue = maxValue
    config.negativeSlope = negativeSlope
    config.threshold = threshold
    try self.init(config: config)
  }

  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "ReLU")
    // ReLU6 and its kin in one pass.
    if config.threshold == 0, config.negativeSlope == 0, let maxValue = config.maxValue {
      return try Ops.clip(x, 0, maxValue)
    }
    var y = config.threshold == 0 ? Ops.relu(x) : try x * (x .> config.threshold)
    if let maxValue = config.maxValue { y = try Ops.clip(y, 0, maxValue) }
    if config.negativeSlope != 0 {
      y = try y - config.negativeSlope * Ops.relu(config.threshold - x)
    }
    return y
  }
}

/// Softmax as a layer: `exp(x) / Σ exp(x)` along `axis` (the last by default).
///
/// Keras: `keras.layers.Softmax(axis=-1)` (registered as `"Softmax"`; the `softmax` activation is
/// `Softmax`). The axis counts the batch axis, as in Keras.
public final class SoftmaxLayer: ShapePreservingLayer, OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `axis`.
    public var axis: Int = -1

    /// Keras' defaults.
    public init() {}
  }

  public static let identifier = "Softmax"
  public let config: Config

  public init(config: Config) throws { self.config = config }

  /// `SoftmaxLayer(axis: 1)`, Keras' `Softmax(axis=1)`.
  public convenience init(axis: Int = -1) throws {
    var config = Config()
    config.axis = axis
    try self.init(config: config)
  }

  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let rank = inputShape.count + 1
    try checkArgument(
      config.axis >= -rank && config.axis < rank, owner: "Softmax", argument: "axis",
      value: "\(config.axis)", expected: "an axis of inputs of rank \(rank) (batch included)")
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "Softmax")
    return try Ops.softmax(x, axis: config.axis)
  }
}

/// The exponential linear unit as a layer: `x` for `x > 0`, `alpha · (eˣ − 1)` otherwise.
///
/// Keras: `keras.layers.ELU(alpha=1.0)` (registered as `"ELU"`; the `elu` activation is `ELU`).
public final class ELULayer: ShapePreservingLayer, OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `alpha`.
    public var alpha: Float = 1

    /// Keras' defaults.
    public init() {}
  }

  public static let identifier = "ELU"
  public let config: Config

  public init(config: Config) throws {
    try checkArgument(
      config.alpha.isFinite, owner: "ELU", argument: "alpha", value: "\(config.alpha)",
      expected: "a finite number")
    self.config = config
  }

  /// `ELULayer(alpha: 0.5)`, Keras' `ELU(alpha=0.5)`.
  public convenience init(alpha: Float = 1) throws {
    var config = Config()
    config.alpha = alpha
    try self.init(config: config)
  }

  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "ELU")
    let negative = try config.alpha * (Ops.exp(Ops.minimum(x, Tensor(scalar: 0))) - 1)
    return try Ops.where(x .> 0, x, negative)
  }
}
