import StrataCore

/// `l1 · Σ|x|`. Keras: `L1(l1=0.01)` (`"l1"`).
public struct L1: Regularizer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `l1`.
  public var l1: Float = 0.01
  /// The registry key: Keras' `L1`.
  public static let identifier = "L1"
  /// Refuses a negative or non-finite factor.
  public func validate() throws { try checkFactor(l1, "l1", owner: "L1") }
  /// The penalty of `values`.
  public func penalty(_ values: UnsafeBufferPointer<Float>) -> Double { l1Penalty(values, l1) }
  /// Adds `scale` times the penalty's gradient to `gradient`.
  public func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>
  ) {
    addL1Gradient(values, l1 * scale, into: gradient)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(l1: Float = L1().l1) throws {
    self.l1 = l1
    try validate()
  }
}

/// `l2 · Σx²`. Keras: `L2(l2=0.01)` (`"l2"`).
public struct L2: Regularizer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `l2`.
  public var l2: Float = 0.01
  /// The registry key: Keras' `L2`.
  public static let identifier = "L2"
  /// Refuses a negative or non-finite factor.
  public func validate() throws { try checkFactor(l2, "l2", owner: "L2") }
  /// The penalty of `values`.
  public func penalty(_ values: UnsafeBufferPointer<Float>) -> Double { l2Penalty(values, l2) }
  /// Adds `scale` times the penalty's gradient to `gradient`.
  public func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>
  ) {
    addL2Gradient(values, 2 * l2 * scale, into: gradient)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(l2: Float = L2().l2) throws {
    self.l2 = l2
    try validate()
  }
}

/// `l1 · Σ|x| + l2 · Σx²`. Keras: `L1L2(l1=0.0, l2=0.0)` (`"l1l2"`; Keras does not accept `"l1_l2"`).
public struct L1L2: Regularizer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `l1`.
  public var l1: Float = 0
  /// Keras' `l2`.
  public var l2: Float = 0
  /// The registry key: Keras' `L1L2`.
  public static let identifier = "L1L2"
  /// Refuses a negative or non-finite factor.
  public func validate() throws {
    try checkFactor(l1, "l1", owner: "L1")
    try checkFactor(l2, "l2", owner: "L2")
  }
  /// The penalty of `values`.
  public func penalty(_ values: UnsafeBufferPointer<Float>) -> Double {
    l1Penalty(values, l1) + l2Penalty(values, l2)
  }
  /// Adds `scale` times the penalty's gradient to `gradient`.
  public func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>
  ) {
    addL1Gradient(values, l1 * scale, into: gradient)
    addL2Gradient(values, 2 * l2 * scale, into: gradient)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(l1: Float = L1L2().l1, l2: Float = L1L2().l2) throws {
    self.l1 = l1
    self.l2 = l2
    try validate()
  }
}

/// `l1 · Σ|x|`.
func l1Penalty(_ values: UnsafeBufferPointer<Float>, _ l1: Float) -> Double {
  Double(l1) * values.reduce(0.0) { $0 + Double(abs($1)) }
}
/// `l2 · Σx²`.
func l2Penalty(_ values: UnsafeBufferPointer<Float>, _ l2: Float) -> Double {
  Double(l2) * values.reduce(0.0) { $0 + Double($1) * Double($1) }
}
/// Adds `factor · sign(x)` to `gradient`.
func addL1Gradient(
  _ values: UnsafeBufferPointer<Float>, _ factor: Float,
  into gradient: UnsafeMutableBufferPointer<Float>
) {
  for i in values.indices where values[i] != 0 { gradient[i] += values[i] > 0 ? factor : -factor }
}
/// Adds `factor · x` to `gradient`.
func addL2Gradient(
  _ values: UnsafeBufferPointer<Float>, _ factor: Float,
  into gradient: UnsafeMutableBufferPointer<Float>
) {
  for i in values.indices { gradient[i] += factor * values[i] }
}

func checkFactor(_ value: Float, _ argument: String, owner: String) throws {
  try checkArgument(
    value.isFinite && value >= 0,
    owner: owner, argument: argument, value: "\(value)", expected: "a finite number ≥ 0")
}

/// Passes its input through unchanged and adds `l1 · Σ|x| + l2 · Σx²` of it (divided by the batch
/// size, as every activity regularizer) to the loss. Keras: `ActivityRegularization(l1=0.0,
/// l2=0.0)`.
public final class ActivityRegularization: ShapePreservingLayer, ActivityRegularized {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `l1`.
    public var l1: Float = 0
    /// Keras' `l2`.
    public var l2: Float = 0

    /// Keras' defaults.
    public init() {}
  }
  /// The registry key: Keras' `ActivityRegularization`.
  public static let identifier = "ActivityRegularization"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let regularizer: L1L2

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `ActivityRegularization(l1: 0.01)`, as in Keras.
  public convenience init(l1: Float = 0, l2: Float = 0, inputShape: [Int]? = nil) throws {
    var config = Config()
    (config.l1, config.l2) = (l1, l2)
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkFactor(config.l1, "l1", owner: "ActivityRegularization")
    try checkFactor(config.l2, "l2", owner: "ActivityRegularization")
    regularizer = try L1L2(l1: config.l1, l2: config.l2)
    self.config = config
    declaredInputShape = inputShape
  }

  /// The penalty on the layer's output.
  public var activityRegularizer: (any Regularizer)? { regularizer }

  /// The input, unchanged.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "ActivityRegularization")
    return x
  }

  /// The gradient, unchanged (the model adds the penalty's).
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    outputGradient
  }
}
