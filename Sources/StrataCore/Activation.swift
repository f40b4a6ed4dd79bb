/// An activation function, applied to whole buffers so built-ins can run SIMD loops.
///
/// Element-wise activations treat the buffer as flat; row-wise ones (softmax, log_softmax) use
/// `rowLength`, the size of the last axis. `x` is the input, `y` the output, `dy` the upstream gradient.
public protocol Activation: Sendable, Registrable where Product == any Activation {
  /// `y = f(x)`.
  func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int)
  /// `dx = dy · f'(x)` (or the row-wise Jacobian-vector product).
  func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int)
  /// `true` for the identity, so layers can skip the activation pass and its buffers.
  var isIdentity: Bool { get }
}

extension Activation {
  public var isIdentity: Bool { false }
  public var identifier: String { Self.identifier }
}

/// The config of something that takes no arguments.
public struct NoConfig: Codable, Sendable, Equatable {
  /// The arguments given, Keras' defaults for the others.
  /// A new instance, with nothing cached yet.
  public init() {}
}

/// An activation defined by a scalar function and its derivative: the simplest way for a plugin to add
/// one. The loops are generic; built-ins override them with SIMD versions.
public protocol ElementwiseActivation: Activation {
  /// `f(x)`.
  func callAsFunction(_ x: Float) -> Float
  /// `f'(x)`.
  func derivative(_ x: Float) -> Float
}

extension ElementwiseActivation {
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    for i in 0..<x.count { y[i] = self(x[i]) }
  }

  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    for i in 0..<x.count { dx[i] = dy[i] * derivative(x[i]) }
  }
}

/// An element-wise activation written sixteen lanes at a time: give `value` and `gradient`, and the
/// buffer loops come with it. How every built-in element-wise activation is written.
///
/// ```swift
/// public struct Softsign: VectorActivation {
///   public static let identifier = "softsign"
///   public init(config: NoConfig = NoConfig()) {}
///   public func value(_ x: SIMD16<Float>) -> SIMD16<Float> { x / (1 + SIMDMath.abs(x)) }
///   public func gradient(_ x: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float> {
///     let d = 1 + SIMDMath.abs(x)
///     return dy / (d * d)
///   }
/// }
/// ```
public protocol VectorActivation: Activation {
  /// `f(x)`.
  func value(_ x: SIMD16<Float>) -> SIMD16<Float>
  /// `dy · f'(x)`, given `x`, or given `y = f(x)` when ``gradientFromOutput`` is `true`.
  func gradient(_ xOrY: SIMD16<Float>, _ dy: SIMD16<Float>) -> SIMD16<Float>
  /// Whether ``gradient(_:_:)`` takes the output (cheaper for sigmoid, tanh and exp); `false` by
  /// default.
  static var gradientFromOutput: Bool { get }
}

extension VectorActivation {
  /// The gradient is computed from the input.
  public static var gradientFromOutput: Bool { false }

  /// Applies the activation to `x`, writing `y`.
  @inlinable public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    simdMap(x, into: y) { value($0) }
  }

  /// Writes `dx = dy · f'(x)`.
  @inlinable public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    simdZip(Self.gradientFromOutput ? y : x, dy, into: dx) { gradient($0, $1) }
  }
}

extension Activation {
  /// Applies the activation to a tensor (a convenience for tests and one-off use).
  public func callAsFunction(_ x: Tensor) -> Tensor {
    var y = Tensor(shape: x.shape)
    let row = x.shape.last ?? 1
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { forward(xs, into: $0, rowLength: row) }
    }
    return y
  }

  /// The gradient with respect to `x` of `sum(f(x) * upstream)`.
  public func gradient(at x: Tensor, upstream: Tensor) -> Tensor {
    let y = self(x)
    var dx = Tensor(shape: x.shape)
    let row = x.shape.last ?? 1
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeBufferPointer { ys in
        upstream.withUnsafeBufferPointer { dys in
          dx.withUnsafeMutableBufferPointer {
            backward(input: xs, output: ys, outputGradient: dys, into: $0, rowLength: row)
          }
        }
      }
    }
    return dx
  }
}
