import StrataCore

/// `1 / (1 + e^-x)`. Keras: `"sigmoid"`.
public struct Sigmoid: Activation {
  public static let identifier = "sigmoid"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { SIMDMath.sigmoid($0) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(y, dy, into: dx) { y, dy in dy * y * (1 - y) }
  }
}

/// `tanh(x)`. Keras: `"tanh"`.
public struct Tanh: Activation {
  public static let identifier = "tanh"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { SIMDMath.tanh($0) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(y, dy, into: dx) { y, dy in dy * (1 - y * y) }
  }
}

/// `relu6(x + 3) / 6`, Keras 3's definition. Keras: `"hard_sigmoid"`.
public struct HardSigmoid: Activation {
  public static let identifier = "hard_sigmoid"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { SIMDMath.clamp($0 + 3, 0, 6) / 6 }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(x, dy, into: dx) { x, dy in (dy / 6).replacing(with: 0, where: (x .<= -3) .| (x .>= 3))
    }
  }
}

/// `x · relu6(x + 3) / 6`. Keras: `"hard_swish"`, also `"hard_silu"`.
public struct HardSwish: Activation {
  public static let identifier = "hard_swish"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { $0 * SIMDMath.clamp($0 + 3, 0, 6) / 6 }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(x, dy, into: dx) { x, dy in
      var d = (2 * x + 3) / 6
      d.replace(with: 0, where: x .<= -3)
      d.replace(with: 1, where: x .>= 3)
      return dy * d
    }
  }
}

/// `x · sigmoid(x)`. Keras: `"swish"`, also `"silu"`.
public struct Swish: Activation {
  public static let identifier = "swish"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { $0 * SIMDMath.sigmoid($0) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(x, dy, into: dx) { x, dy in
      let s = SIMDMath.sigmoid(x)
      return dy * (s + x * s * (1 - s))
    }
  }
}

/// `log(1 + e^x)`, computed stably. Keras: `"softplus"`.
public struct Softplus: Activation {
  public static let identifier = "softplus"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { SIMDMath.softplus($0) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(x, dy, into: dx) { x, dy in dy * SIMDMath.sigmoid(x) }
  }
}

/// `x / (1 + |x|)`. Keras: `"softsign"`.
public struct Softsign: Activation {
  public static let identifier = "softsign"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { $0 / (1 + SIMDMath.abs($0)) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(x, dy, into: dx) { x, dy in
      let d = 1 + SIMDMath.abs(x)
      return dy / (d * d)
    }
  }
}

/// `e^x`. Keras: `"exponential"`.
public struct Exponential: Activation {
  public static let identifier = "exponential"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { SIMDMath.exp($0) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(y, dy, into: dx) { $1 * $0 }
  }
}

/// `x · tanh(softplus(x))`. Keras: `"mish"`.
public struct Mish: Activation {
  public static let identifier = "mish"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { $0 * SIMDMath.tanh(SIMDMath.softplus($0)) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(x, dy, into: dx) { x, dy in
      let t = SIMDMath.tanh(SIMDMath.softplus(x))
      return dy * (t + x * (1 - t * t) * SIMDMath.sigmoid(x))
    }
  }
}
