import CBLAS
import StrataCore

/// GEMM through OpenBLAS' `cblas_sgemm`; everything else as the reference does.
///
/// Registered as `"blas"`. The default backend pairs it with ``SIMDKernels`` for element-wise work.
public struct BLASKernels: Kernels {
  public init() {}

  public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(a.count >= m * k && b.count >= k * n && c.count >= m * n, "gemm: buffers too small")
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      // BLAS leaves c alone for k = 0 only when beta is 1; be explicit.
      for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
      return
    }
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a.baseAddress, Int32(transposeA ? m : k),
      b.baseAddress, Int32(transposeB ? k : n), beta, c.baseAddress, Int32(n))
  }

  /// Sets the number of threads OpenBLAS uses.
  public static func setThreads(_ count: Int) {
    openblas_set_num_threads(Int32(count))
  }

  /// The number of threads OpenBLAS uses.
  public static var threads: Int { Int(openblas_get_num_threads()) }
}

/// Registers the `"blas"` backend.
public enum BLASPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: BLASKernels(), as: "blas")
  }
}
