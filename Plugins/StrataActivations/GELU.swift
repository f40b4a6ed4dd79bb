import Foundation
import StrataCore

/// `x · Φ(x) = 0.5 · x · (1 + erf(x / √2))`, the exact form Keras uses for `"gelu"` by name.
/// `erf` has no SIMD form in the standard library, so this loop is scalar.
public struct GELU: Activation {
  public static let identifier = "gelu"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    for i in 0..<x.count {
      let v = Double(x[i])
      y[i] = Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
    }
  }
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    for i in 0..<x.count {
      let v = Double(x[i])
      let cdf = 0.5 * (1 + erf(v / 2.0.squareRoot()))
      let pdf = exp(-0.5 * v * v) / (2 * Double.pi).squareRoot()
      dx[i] = dy[i] * Float(cdf + v * pdf)
    }
  }
}
