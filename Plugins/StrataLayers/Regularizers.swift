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
