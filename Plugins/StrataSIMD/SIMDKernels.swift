import StrataCore

/// Element-wise work, bias add and reductions as `SIMD16<Float>` loops; GEMM falls back to the reference.
///
/// Registered as `"simd"`. On its own it is the portable fast path for everything but matrix products.
public struct SIMDKernels: Kernels {
  /// A new instance, with nothing cached yet.
  public init() {}

  public func addBias(_ bias: UnsafeBufferPointer<Float>, to c: UnsafeMutableBufferPointer<Float>) {
    let n = bias.count
    guard n > 0 else { return }
    let rows = c.count / n
    for i in 0..<rows {
      let row = UnsafeMutableBufferPointer(rebasing: c[(i * n)..<((i + 1) * n)])
      simdZip(UnsafeBufferPointer(row), bias, into: row) { $0 + $1 }
    }
  }

  public func sumRows(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) {
    let n = y.count
    guard n > 0 else { return }
    let rows = x.count / n
    y.update(repeating: 0)
    for i in 0..<rows {
      let row = UnsafeBufferPointer(rebasing: x[(i * n)..<((i + 1) * n)])
      simdZip(UnsafeBufferPointer(y), row, into: y) { $0 + $1 }
    }
  }

  public func multiply(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
    into z: UnsafeMutableBufferPointer<Float>
  ) {
    simdZip(x, y, into: z) { $0 * $1 }
  }

  /// `y += alpha · x`, this backend's way.
  public func axpy(
    alpha: Float, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>
  ) {
    simdZip(x, UnsafeBufferPointer(y), into: y) { $1 + alpha * $0 }
  }
}

/// Registers the `"simd"` backend.
public enum SIMDPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: SIMDKernels(), as: "simd")
  }
}
