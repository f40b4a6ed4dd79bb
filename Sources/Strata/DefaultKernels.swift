import StrataBLAS
import StrataCore
import StrataSIMD

/// The backend models use unless told otherwise: OpenBLAS for GEMM, SIMD loops for element-wise work.
///
/// Registered as `"cpu"`.
public struct DefaultKernels: Kernels {
  let blas = BLASKernels()
  let simd = SIMDKernels()

  public init() {}

  public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>
  ) {
    blas.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, b: b, beta: beta, c: c)
  }

  public func addBias(_ bias: UnsafeBufferPointer<Float>, to c: UnsafeMutableBufferPointer<Float>) {
    simd.addBias(bias, to: c)
  }

  public func sumRows(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) {
    simd.sumRows(x, into: y)
  }

  public func multiply(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>, into z: UnsafeMutableBufferPointer<Float>
  ) {
    simd.multiply(x, y, into: z)
  }

  public func axpy(alpha: Float, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>) {
    simd.axpy(alpha: alpha, x: x, y: y)
  }
}

/// Registers `"cpu"` (the default) and `"reference"`.
enum DefaultKernelsPlugin: Plugin {
  static let package = Registrar.builtInPackage
  static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: ReferenceKernels(), as: "reference")
    try registrar.register(kernels: DefaultKernels(), as: "cpu")
  }
}
