import StrataCore

/// `l1 · Σ|x|`. Keras: `L1(l1=0.01)` (`"l1"`).
public struct L1: Regularizer {
  /// The Keras arguments, each with its default.
  @KerasConfig public struct Config: Equatable {
    /// Keras' `l1`.
    public var l1: Float = 0.01
  }
  /// The registry key: Keras' `L1`.
  public static let identifier = "L1"
  /// The Keras arguments.
  public let config: Config
  /// Made from Keras' arguments (a bad one is refused by name).
  public init(config: Config = Config()) throws {
    try checkFactor(config.l1, "l1", owner: "L1")
    self.config = config
  }
  /// The penalty of `values`.
  public func penalty(_ values: UnsafeBufferPointer<Float>) -> Double {
    Double(config.l1) * values.reduce(0.0) { $0 + Double(abs($1)) }
  }
  /// Adds `scale` times the penalty's gradient to `gradient`.
  public func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>
  ) {
    let factor = config.l1 * scale
    for i in values.indices where values[i] != 0 { gradient[i] += values[i] > 0 ? factor : -factor }
  }
}

/// `l2 · Σx²`. Keras: `L2(l2=0.01)` (`"l2"`).
public struct L2: Regularizer {
  /// The Keras arguments, each with its default.
  @KerasConfig public struct Config: Equatable {
    /// Keras' `l2`.
    public var l2: Float = 0.01
  }
  /// The registry key: Keras' `L2`.
  public static let identifier = "L2"
  /// The Keras arguments.
  public let config: Config
  /// Made from Keras' arguments (a bad one is refused by name).
  public init(config: Config = Config()) throws {
    try checkFactor(config.l2, "l2", owner: "L2")
    self.config = config
  }
  /// The penalty of `values`.
  public func penalty(_ values: UnsafeBufferPointer<Float>) -> Double {
    Double(config.l2) * values.reduce(0.0) { $0 + Double($1) * Double($1) }
  }
  /// Adds `scale` times the penalty's gradient to `gradient`.
  public func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>
  ) {
    let factor = 2 * config.l2 * scale
    for i in values.indices { gradient[i] += factor * values[i] }
  }
}

/// `l1 · Σ|x| + l2 · Σx²`. Keras: `L1L2(l1=0.0, l2=0.0)` (`"l1l2"`; Keras does not accept `"l1_l2"`).
public struct L1L2: Regularizer {
  /// The Keras arguments, each with its default.
  @KerasConfig public struct Config: Equatable {
    /// Keras' `l1`.
    public var l1: Float = 0
    /// Keras' `l2`.
    public var l2: Float = 0
  }
  /// The registry key: Keras' `L1L2`.
  public static let identifier = "L1L2"
  /// The Keras arguments.
  public let config: Config
  private let parts: (L1, L2)
  /// Made from Keras' arguments (a bad one is refused by name).
  public init(config: Config = Config()) throws {
    parts = (try L1(config: .init(l1: config.l1)), try L2(config: .init(l2: config.l2)))
    self.config = config
  }
  /// The penalty of `values`.
  public func penalty(_ values: UnsafeBufferPointer<Float>) -> Double {
    parts.0.penalty(values) + parts.1.penalty(values)
  }
  /// Adds `scale` times the penalty's gradient to `gradient`.
  public func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>
  ) {
    parts.0.addGradient(values, scale: scale, into: gradient)
    parts.1.addGradient(values, scale: scale, into: gradient)
  }
}

func checkFactor(_ value: Float, _ argument: String, owner: String) throws {
  guard value.isFinite, value >= 0 else {
    throw StrataError.invalidArgument(
      owner: owner, argument: argument, value: "\(value)", expected: "a finite number ≥ 0")
  }
}
