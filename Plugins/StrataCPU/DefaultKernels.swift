import CStrataKernels
import StrataBLAS
import StrataCore
import StrataDNNL
import StrataSIMD
import Synchronization

/// The backend models use unless told otherwise: OpenBLAS for GEMM (an own AVX-512 kernel for
/// products of at most 32 rows by a matrix that fits in the cache, which OpenBLAS would pack on
/// every call: 1.3-1.8x faster for a recurrent step or a Dense layer at batch 32), oneDNN for
/// convolution and average pooling, the SIMD backend's loops for max pooling and element-wise work.
///
/// Registered as `"cpu"`. It keeps the two libraries' threads from fighting over the cores: oneDNN's
/// OpenMP threads spin for a while after each primitive, so once a convolution or average pooling has
/// run here, OpenBLAS is limited to one thread (Deep MNIST: 35 → 25 ms a step on 2 cores) and products
/// of 2·10⁷ multiply-adds and more go to oneDNN's matmul on those threads (40 → 33 ms, AMD EPYC;
/// Docs/Performance.md).
public struct DefaultKernels: Kernels {
  let blas = BLASKernels()
  let simd = SIMDKernels()
  let dnnl = DNNLKernels()

  /// A new instance, with nothing cached yet.
  public init() {}

  public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>
  ) {
    // A large product in a model whose convolutions keep oneDNN's OpenMP threads busy runs on those
    // threads: OpenBLAS' own would compete with them for the cores (limited to one, it leaves a core idle).
    // A few rows by a matrix that stays in the cache (a recurrent step, a Dense layer at batch 32):
    // the own AVX-512 kernel reads b in place, where OpenBLAS would pack it on every call.
    if !transposeA, !transposeB, alpha == 1, beta == 0 || beta == 1,
      strata_small_gemm_fits(m, n, k) != 0, gemmFits(m, n, k, a, b, c)
    {
      strata_small_gemm(m, n, k, a.baseAddress, b.baseAddress, beta == 0 ? 1 : 0, c.baseAddress)
      return
    }
    if m * n * k >= 20_000_000 && DefaultKernels.oneDNNThreadsRun.load(ordering: .relaxed) {
      dnnl.gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
        b: b, beta: beta, c: c)
    } else {
      blas.gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
        b: b, beta: beta, c: c)
    }
  }

  public func addBias(_ bias: UnsafeBufferPointer<Float>, to c: UnsafeMutableBufferPointer<Float>) {
    simd.addBias(bias, to: c)
  }

  public func sumRows(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) {
    simd.sumRows(x, into: y)
  }

  public func multiply(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
    into z: UnsafeMutableBufferPointer<Float>
  ) {
    simd.multiply(x, y, into: z)
  }

  /// `y += alpha · x`, this backend's way.
  public func axpy(
    alpha: Float, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>
  ) {
    simd.axpy(alpha: alpha, x: x, y: y)
  }

  /// Whether a convolution or average pooling has run in this process: oneDNN's OpenMP threads are
  /// then in play.
  private static let oneDNNThreadsRun = Atomic<Bool>(false)

  /// Limits OpenBLAS to one thread and sends large products to oneDNN, once, when oneDNN's OpenMP
  /// threads come into play.
  private static let shareTheCores: Void = {
    BLASKernels.setThreads(1)
    oneDNNThreadsRun.store(true, ordering: .relaxed)
  }()

  public func convolution(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>, kernel: UnsafeBufferPointer<Float>,
    bias: UnsafeBufferPointer<Float>?, output: UnsafeMutableBufferPointer<Float>
  ) {
    _ = DefaultKernels.shareTheCores
    dnnl.convolution(g, input: input, kernel: kernel, bias: bias, output: output)
  }

  /// On oneDNN's fused inference primitives, its OpenMP threads sharing the cores as a
  /// convolution's do.
  public func inferenceConvolution(
    _ g: ConvolutionGeometry, groups: Int, input: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>, kernelVersion: UInt64, bias: UnsafeBufferPointer<Float>?,
    output: UnsafeMutableBufferPointer<Float>, epilogue: ConvolutionEpilogue
  ) {
    _ = DefaultKernels.shareTheCores
    dnnl.inferenceConvolution(
      g, groups: groups, input: input, kernel: kernel, kernelVersion: kernelVersion, bias: bias,
      output: output,
      epilogue: epilogue)
  }

  public func convolutionBackwardData(
    _ g: ConvolutionGeometry, outputGradient: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>
  ) {
    dnnl.convolutionBackwardData(
      g, outputGradient: outputGradient, kernel: kernel, inputGradient: inputGradient)
  }

  public func convolutionBackwardWeights(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    kernelGradient: UnsafeMutableBufferPointer<Float>,
    biasGradient: UnsafeMutableBufferPointer<Float>?
  ) {
    dnnl.convolutionBackwardWeights(
      g, input: input, outputGradient: outputGradient, kernelGradient: kernelGradient,
      biasGradient: biasGradient)
  }

  /// The bytes of workspace max pooling needs between its passes (none: it is the SIMD backend's).
  public func maxPoolingWorkspaceBytes(_ g: PoolingGeometry) -> Int {
    simd.maxPoolingWorkspaceBytes(g)
  }

  /// Max pooling on the SIMD backend's C loop: one memory-bound pass, 5-10x faster than oneDNN 2.6's
  /// AVX2 primitive on channels-last batches (Docs/Performance.md).
  public func maxPooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>,
    workspace: UnsafeMutableRawBufferPointer
  ) {
    simd.maxPooling(g, input: input, output: output, workspace: workspace)
  }

  /// Max pooling's backward pass, on the SIMD backend as its forward pass.
  public func maxPoolingBackward(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>, workspace: UnsafeRawBufferPointer
  ) {
    simd.maxPoolingBackward(
      g, input: input, outputGradient: outputGradient, inputGradient: inputGradient,
      workspace: workspace)
  }

  /// Average pooling of `input` into `output`, this backend's way.
  public func averagePooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>
  ) {
    _ = DefaultKernels.shareTheCores
    dnnl.averagePooling(g, input: input, output: output)
  }

  public func averagePoolingBackward(
    _ g: PoolingGeometry, outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>
  ) {
    dnnl.averagePoolingBackward(g, outputGradient: outputGradient, inputGradient: inputGradient)
  }
}

/// Registers `"cpu"` (the default) and `"reference"`.
public enum CPUPlugin: BuiltInPlugin {
  /// Registers this plugin's identifiers.
  public static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: ReferenceKernels(), as: "reference")
    try registrar.register(kernels: DefaultKernels(), as: "cpu")
  }
}
