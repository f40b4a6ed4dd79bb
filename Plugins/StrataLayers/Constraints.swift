import StrataCore

/// Scales `value` by `desired(norm) / (1e-7 + norm)` over `axes`.
func rescale(_ value: inout Tensor, axes: [Int], desired: (Float) -> Float) {
  let norm = norms(of: value, over: axes)
  value.withUnsafeMutableBufferPointer { w in
    for i in w.indices {
      let n = norm(i)
      w[i] *= desired(n) / (1e-7 + n)
    }
  }
}

/// Norms over `axis` at most `maxValue`. Keras: `MaxNorm(max_value=2, axis=0)` (`"max_norm"`).
public struct MaxNorm: Constraint, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `max_value`.
  public var maxValue: Float = 2
  /// Keras' `axis`.
  public var axis: Axes = 0
  /// The registry key: Keras' `MaxNorm`.
  public static let identifier = "MaxNorm"
  /// Projects `value` in place.
  public func apply(to value: inout Tensor) {
    let limit = maxValue
    rescale(&value, axes: axis.values) { min(max($0, 0), limit) }
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(maxValue: Float = MaxNorm().maxValue, axis: Axes = MaxNorm().axis) {
    self.maxValue = maxValue
    self.axis = axis
  }
}

/// Norms over `axis` equal to 1. Keras: `UnitNorm(axis=0)` (`"unit_norm"`).
public struct UnitNorm: Constraint, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `axis`.
  public var axis: Axes = 0
  /// The registry key: Keras' `UnitNorm`.
  public static let identifier = "UnitNorm"
  /// Projects `value` in place.
  public func apply(to value: inout Tensor) { rescale(&value, axes: axis.values) { _ in 1 } }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(axis: Axes = UnitNorm().axis) {
    self.axis = axis
  }
}

/// Norms over `axis` moved into `[minValue, maxValue]` at `rate`. Keras: `MinMaxNorm(min_value=0.0,
/// max_value=1.0, rate=1.0, axis=0)` (`"min_max_norm"`).
public struct MinMaxNorm: Constraint, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `min_value`.
  public var minValue: Float = 0
  /// Keras' `max_value`.
  public var maxValue: Float = 1
  /// Keras' `rate`.
  public var rate: Float = 1
  /// Keras' `axis`.
  public var axis: Axes = 0
  /// The registry key: Keras' `MinMaxNorm`.
  public static let identifier = "MinMaxNorm"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkArgument(
      minValue <= maxValue,
      owner: "MinMaxNorm", argument: "min_value", value: "\(minValue)",
      expected: "at most max_value (\(maxValue))")
  }
  /// Projects `value` in place.
  public func apply(to value: inout Tensor) {
    let (low, high, rate) = (minValue, maxValue, rate)
    rescale(&value, axes: axis.values) { rate * min(max($0, low), high) + (1 - rate) * $0 }
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    minValue: Float = MinMaxNorm().minValue, maxValue: Float = MinMaxNorm().maxValue,
    rate: Float = MinMaxNorm().rate, axis: Axes = MinMaxNorm().axis
  ) throws {
    self.minValue = minValue
    self.maxValue = maxValue
    self.rate = rate
    self.axis = axis
    try validate()
  }
}

/// Negative weights set to 0. Keras: `NonNeg()` (`"non_neg"`).
public struct NonNeg: Constraint {
  /// The registry key: Keras' `NonNeg`.
  public static let identifier = "NonNeg"
  /// No arguments.
  public let config = NoConfig()
  /// Made from Keras' arguments.
  public init(config: NoConfig = NoConfig()) {}
  /// Projects `value` in place.
  public func apply(to value: inout Tensor) {
    value.withUnsafeMutableBufferPointer { w in
      for i in w.indices where w[i] < 0 { w[i] = 0 }
    }
  }
}
