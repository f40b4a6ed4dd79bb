import StrataCore

/// `1 / (1 + e^-x)`. Keras: `"sigmoid"`.
public struct Sigmoid: VectorActivation {
  public static let identifier = "sigmoid"
  /// The derivative is cheapest from the output.
  public static let gradientFromOutput = true
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMDMath.sigmoid(x) }
  /// `dy · f'(x)` from the output `y`.
  public func gradient(_ y: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    dy * y * (1 - y)
  }
}

/// `tanh(x)`. Keras: `"tanh"`.
public struct Tanh: VectorActivation {
  public static let identifier = "tanh"
  /// The derivative is cheapest from the output.
  public static let gradientFromOutput = true
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMDMath.tanh(x) }
  /// `dy · f'(x)` from the output `y`.
  public func gradient(_ y: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    dy * (1 - y * y)
  }
}

/// `relu6(x + 3) / 6`, Keras 3's definition. Keras: `"hard_sigmoid"`.
public struct HardSigmoid: VectorActivation {
  public static let identifier = "hard_sigmoid"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMDMath.clamp(x + 3, 0, 6) / 6 }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    (dy / 6).replacing(with: 0, where: (x .<= -3) .| (x .>= 3))
  }
}

/// `x · relu6(x + 3) / 6`. Keras: `"hard_swish"`, also `"hard_silu"`.
public struct HardSwish: VectorActivation {
  public static let identifier = "hard_swish"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { x * SIMDMath.clamp(x + 3, 0, 6) / 6 }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    var d = (2 * x + 3) / 6
    d.replace(with: 0, where: x .<= -3)
    d.replace(with: 1, where: x .>= 3)
    return dy * d
  }
}

/// `x · sigmoid(x)`. Keras: `"swish"`, also `"silu"`.
public struct Swish: VectorActivation {
  public static let identifier = "swish"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { x * SIMDMath.sigmoid(x) }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    let s = SIMDMath.sigmoid(x)
    return dy * (s + x * s * (1 - s))
  }
}

/// `log(1 + e^x)`, computed stably. Keras: `"softplus"`.
public struct Softplus: VectorActivation {
  public static let identifier = "softplus"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMDMath.softplus(x) }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    dy * SIMDMath.sigmoid(x)
  }
}

/// `x / (1 + |x|)`. Keras: `"softsign"`.
public struct Softsign: VectorActivation {
  public static let identifier = "softsign"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { x / (1 + SIMDMath.abs(x)) }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    let d = 1 + SIMDMath.abs(x)
    return dy / (d * d)
  }
}

/// `e^x`. Keras: `"exponential"`.
public struct Exponential: VectorActivation {
  public static let identifier = "exponential"
  /// The derivative is cheapest from the output.
  public static let gradientFromOutput = true
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMDMath.exp(x) }
  /// `dy · f'(x)` from the output `y`.
  public func gradient(_ y: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> { dy * y }
}

/// `x · tanh(softplus(x))`. Keras: `"mish"`.
public struct Mish: VectorActivation {
  public static let identifier = "mish"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { x * SIMDMath.tanh(SIMDMath.softplus(x)) }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    let t = SIMDMath.tanh(SIMDMath.softplus(x))
    return dy * (t + x * (1 - t * t) * SIMDMath.sigmoid(x))
  }
}
