import CBLAS
import StrataCore
import Synchronization

/// The thread count last given to OpenBLAS, so that it is only told when it changes.
private let currentThreads = Atomic<Int>(0)
/// The most threads OpenBLAS may use: its own default (the cores, or `OPENBLAS_NUM_THREADS`), or
/// what ``BLASKernels/setThreads(_:)`` set.
private let maximumThreads = Atomic<Int>(0)

/// GEMM through OpenBLAS' `cblas_sgemm`; everything else as the reference does.
///
/// Registered as `"blas"`. The default backend pairs it with ``SIMDKernels`` for element-wise work.
public struct BLASKernels: Kernels {
  /// A new instance, with nothing cached yet.
  public init() {}

  public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(gemmFits(m, n, k, a, b, c), "gemm: buffers too small")
    guard m > 0, n > 0 else { return }
    guard k > 0 else {
      // BLAS leaves c alone for k = 0 only when beta is 1; be explicit.
      for i in 0..<(m * n) { c[i] = beta == 0 ? 0 : beta * c[i] }
      return
    }
    // Waking OpenBLAS' threads costs more than a small product (a Dense step at batch 32): below about
    // 2·10⁷ multiply-adds one thread is faster, measured on the 2-core machine (Docs/Performance.md).
    let maximum = BLASKernels.threads  // read before the first change, so OpenBLAS' default is kept
    let threads = m * n * k >= 20_000_000 ? maximum : 1
    if currentThreads.load(ordering: .relaxed) != threads {
      openblas_set_num_threads(Int32(threads))
      currentThreads.store(threads, ordering: .relaxed)
    }
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a.baseAddress, Int32(transposeA ? m : k),
      b.baseAddress, Int32(transposeB ? k : n), beta, c.baseAddress, Int32(n))
  }

  /// Sets the most threads OpenBLAS may use for large products.
  public static func setThreads(_ count: Int) {
    maximumThreads.store(max(1, count), ordering: .relaxed)
  }

  /// The most threads OpenBLAS uses for large products.
  public static var threads: Int {
    let maximum = maximumThreads.load(ordering: .relaxed)
    if maximum > 0 { return maximum }
    let initial = Int(openblas_get_num_threads())
    maximumThreads.store(initial, ordering: .relaxed)
    return initial
  }
}

/// Registers the `"blas"` backend.
public enum BLASPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: BLASKernels(), as: "blas")
  }
}
