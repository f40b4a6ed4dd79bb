import CStrataKernels
import StrataCore

/// `max(x, 0)`. Keras: `"relu"`. The derivative at 0 is taken as 0, as in TensorFlow.
///
/// The most used activation runs in C built for AVX2 and the baseline at once, the loader picking the
/// one the CPU runs (Swift itself compiles for 4-lane SSE unless told otherwise).
public struct ReLU: Activation {
  public static let identifier = "relu"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    strata_relu_forward(x.baseAddress, y.baseAddress, min(x.count, y.count))
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    strata_relu_backward(
      x.baseAddress, dy.baseAddress, dx.baseAddress, min(x.count, dy.count, dx.count))
  }
}

/// `min(max(x, 0), 6)`. Keras: `"relu6"`.
public struct ReLU6: VectorActivation {
  public static let identifier = "relu6"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { SIMDMath.clamp(x, 0, 6) }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    dy.replacing(with: 0, where: (x .<= 0) .| (x .>= 6))
  }
}

/// `x` for `x > 0`, `negativeSlope · x` otherwise. Keras: `"leaky_relu"` (the function; default slope 0.2).
public struct LeakyReLUActivation: VectorActivation, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `negative_slope`.
  public var negativeSlope: Float = 0.2
  public static let identifier = "leaky_relu"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkArgument(
      negativeSlope.isFinite,
      owner: "leaky_relu", argument: "negative_slope", value: "\(negativeSlope)",
      expected: "a finite number")
  }
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> {
    x.replacing(with: x * negativeSlope, where: x .<= 0)
  }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    dy.replacing(with: dy * negativeSlope, where: x .<= 0)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(negativeSlope: Float = LeakyReLUActivation().negativeSlope) throws {
    self.negativeSlope = negativeSlope
    try validate()
  }
}

/// `x` for `x > 0`, `e^x - 1` otherwise. Keras: `"elu"` (alpha 1).
public struct ELU: VectorActivation {
  public static let identifier = "elu"
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> {
    x.replacing(with: SIMDMath.exp(x) - 1, where: x .<= 0)
  }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    dy.replacing(with: dy * SIMDMath.exp(x), where: x .<= 0)
  }
}

/// `scale · elu_alpha(x)` with Keras' constants `alpha = 1.67326324`, `scale = 1.05070098`. Keras: `"selu"`.
public struct SELU: VectorActivation {
  public static let identifier = "selu"
  static let alpha: Float = 1.673_263_2
  static let scale: Float = 1.050_701
  public init(config: NoConfig = NoConfig()) {}
  /// `f(x)`, sixteen lanes at a time.
  public func value(_ x: SIMD16<Float>) -> SIMD16<Float> {
    SELU.scale * x.replacing(with: SELU.alpha * (SIMDMath.exp(x) - 1), where: x .<= 0)
  }
  /// `dy · f'(x)` from the input `x`.
  public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
    SELU.scale * dy.replacing(with: dy * SELU.alpha * SIMDMath.exp(x), where: x .<= 0)
  }
}

/// `x`. Keras: `"linear"` (also what `activation=None` means).
public struct Linear: Activation {
  public static let identifier = "linear"
  public init(config: NoConfig = NoConfig()) {}
  public var isIdentity: Bool { true }
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    if x.baseAddress != UnsafeBufferPointer(y).baseAddress { _ = y.initialize(from: x) }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    if dy.baseAddress != UnsafeBufferPointer(dx).baseAddress { _ = dx.initialize(from: dy) }
  }
}
