import Foundation

/// The heavy operations layers call, on row-major buffers.
///
/// Every requirement has a plain-loop default: together the defaults are ``ReferenceKernels``, the
/// oracle the tests compare other backends with. A backend overrides only what it accelerates (BLAS
/// `gemm`, SIMD element-wise work). Size heuristics belong inside a backend, never in layers.
public protocol Kernels: Sendable {
  /// `c = alpha · op(a) · op(b) + beta · c`, where `op(a)` is `m×k` and `op(b)` is `k×n`.
  /// `a` is stored `m×k` (or `k×m` when `transposeA`), `b` is `k×n` (or `n×k` when `transposeB`).
  func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>)
  /// `c[i, j] += bias[j]` for a `rows × bias.count` matrix.
  func addBias(_ bias: UnsafeBufferPointer<Float>, to c: UnsafeMutableBufferPointer<Float>)
  /// `y[j] = Σ_i x[i, j]` for a `rows × y.count` matrix `x`: a bias gradient.
  func sumRows(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>)
  /// `z = x ⊙ y`, element-wise.
  func multiply(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
    into z: UnsafeMutableBufferPointer<Float>)
  /// `y += alpha · x`.
  func axpy(alpha: Float, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>)

  /// A 2-D convolution (cross-correlation, as Keras): NHWC input, `[kh, kw, in, out]` kernel, NHWC output.
  func convolution(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>, kernel: UnsafeBufferPointer<Float>,
    bias: UnsafeBufferPointer<Float>?, output: UnsafeMutableBufferPointer<Float>)
  /// `d(loss)/d(input)` of ``convolution(_:input:kernel:bias:output:)``.
  func convolutionBackwardData(
    _ g: ConvolutionGeometry, outputGradient: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>)
  /// `d(loss)/d(kernel)` and `d(loss)/d(bias)` of ``convolution(_:input:kernel:bias:output:)``.
  func convolutionBackwardWeights(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    kernelGradient: UnsafeMutableBufferPointer<Float>,
    biasGradient: UnsafeMutableBufferPointer<Float>?)
  /// A convolution for inference with what follows it fused: `output = activation(conv(input) + bias
  /// [+ output])`, where the output's previous contents are added when `epilogue.addsToOutput` (a
  /// residual connection). With `groups` above 1 the channels are convolved in that many groups
  /// (Keras' `groups`; a depthwise convolution has one per input channel) and the kernel is
  /// `[kh, kw, in / groups, out]`. `kernelVersion` is 0, or a number that changes whenever the
  /// kernel's contents do and is never used again for other contents: a backend may then keep the
  /// kernel in its own layout between calls.
  func inferenceConvolution(
    _ g: ConvolutionGeometry, groups: Int, input: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>,
    kernelVersion: UInt64, bias: UnsafeBufferPointer<Float>?,
    output: UnsafeMutableBufferPointer<Float>, epilogue: ConvolutionEpilogue)
  /// The bytes of state max pooling keeps from forward to backward (oneDNN's workspace); 0 for the reference.
  func maxPoolingWorkspaceBytes(_ g: PoolingGeometry) -> Int
  /// Max pooling over NHWC windows; `workspace` holds ``maxPoolingWorkspaceBytes(_:)`` bytes.
  func maxPooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>,
    workspace: UnsafeMutableRawBufferPointer)
  /// `d(loss)/d(input)` of max pooling, with the workspace its forward pass filled.
  func maxPoolingBackward(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>, workspace: UnsafeRawBufferPointer)
  /// Average pooling over NHWC windows, padding excluded.
  func averagePooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>)
  /// `d(loss)/d(input)` of average pooling.
  func averagePoolingBackward(
    _ g: PoolingGeometry, outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>)
}

extension Kernels {
  public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>
  ) {
    precondition(gemmFits(m, n, k, a, b, c), "gemm: buffers too small")
    for i in 0..<m {
      for j in 0..<n {
        var sum: Double = 0
        for p in 0..<k {
          let av = transposeA ? a[p * m + i] : a[i * k + p]
          let bv = transposeB ? b[j * k + p] : b[p * n + j]
          sum += Double(av) * Double(bv)
        }
        let previous = beta == 0 ? 0 : beta * c[i * n + j]  // beta 0 ignores NaN in c, as BLAS does
        c[i * n + j] = alpha * Float(sum) + previous
      }
    }
  }

  /// `c = op(a) · op(b)` on whole tensors, row-major (`op` transposes when asked): `c` holds the
  /// m×n result, the product runs over `k`.
  public func gemm(
    _ a: Tensor, _ b: Tensor, into c: inout Tensor, m: Int, n: Int, k: Int,
    transposeA: Bool = false, transposeB: Bool = false
  ) {
    a.withUnsafeBufferPointer { a in
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a, b: b,
            beta: 0, c: c)
        }
      }
    }
  }

  public func addBias(_ bias: UnsafeBufferPointer<Float>, to c: UnsafeMutableBufferPointer<Float>) {
    let n = bias.count
    guard n > 0 else { return }
    for i in 0..<(c.count / n) {
      for j in 0..<n { c[i * n + j] += bias[j] }
    }
  }

  public func sumRows(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) {
    let n = y.count
    guard n > 0 else { return }
    for j in 0..<n {
      var sum: Double = 0
      for i in 0..<(x.count / n) { sum += Double(x[i * n + j]) }
      y[j] = Float(sum)
    }
  }

  public func multiply(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
    into z: UnsafeMutableBufferPointer<Float>
  ) {
    for i in 0..<z.count { z[i] = x[i] * y[i] }
  }

  /// `y += alpha · x`, this backend's way.
  public func axpy(
    alpha: Float, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>
  ) {
    for i in 0..<y.count { y[i] += alpha * x[i] }
  }
}

/// What an inference convolution computes after its product and bias
/// (``Kernels/inferenceConvolution(_:input:kernel:kernelVersion:bias:output:epilogue:)``): a
/// residual addition, then an activation.
public struct ConvolutionEpilogue: Sendable, Hashable {
  /// An activation a convolution can apply as it writes its output.
  public enum Activation: Sendable, Hashable {
    /// `max(x, 0)`.
    case relu
    /// `min(max(x, 0), 6)`: Keras' `ReLU(max_value=6)`, `relu6`.
    case relu6
    /// `x · sigmoid(x)`: Keras' `swish` and `silu`.
    case swish

    /// The activation applied to one value, as the reference computes it.
    public func callAsFunction(_ x: Float) -> Float {
      switch self {
      case .relu: return max(x, 0)
      case .relu6: return min(max(x, 0), 6)
      case .swish: return x / (1 + Foundation.exp(-x))
      }
    }
  }

  /// Whether the output's previous contents are added to the result (before the activation).
  public var addsToOutput: Bool
  /// The activation applied last, if any.
  public var activation: Activation?

  /// An epilogue adding the output's contents when `addsToOutput`, then applying `activation`.
  public init(addsToOutput: Bool = false, activation: Activation? = nil) {
    self.addsToOutput = addsToOutput
    self.activation = activation
  }
}

extension Kernels {
  /// The convolution (``convolution(_:input:kernel:bias:output:)``, or plain loops for groups), then
  /// the epilogue in plain loops: what a backend without fused primitives does.
  public func inferenceConvolution(
    _ g: ConvolutionGeometry, groups: Int, input: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>, kernelVersion: UInt64, bias: UnsafeBufferPointer<Float>?,
    output: UnsafeMutableBufferPointer<Float>, epilogue: ConvolutionEpilogue
  ) {
    let product =
      epilogue.addsToOutput
      ? UnsafeMutableBufferPointer<Float>.allocate(capacity: output.count) : output
    defer { if epilogue.addsToOutput { product.deallocate() } }
    if groups > 1 {
      groupedConvolution(
        g, groups: groups, input: input, kernel: kernel, bias: bias, output: product)
    } else {
      convolution(g, input: input, kernel: kernel, bias: bias, output: product)
    }
    if epilogue.addsToOutput {
      for i in 0..<output.count { output[i] += product[i] }
    }
    if let activation = epilogue.activation {
      for i in 0..<output.count { output[i] = activation(output[i]) }
    }
  }
}

/// A grouped convolution in plain loops (NHWC, `[kh, kw, in / groups, out]`), summing in Double.
func groupedConvolution(
  _ g: ConvolutionGeometry, groups: Int, input: UnsafeBufferPointer<Float>,
  kernel: UnsafeBufferPointer<Float>, bias: UnsafeBufferPointer<Float>?,
  output: UnsafeMutableBufferPointer<Float>
) {
  let inPerGroup = g.channels / groups, outPerGroup = g.filters / groups
  for n in 0..<g.batch {
    for oy in 0..<g.outputHeight {
      for ox in 0..<g.outputWidth {
        for f in 0..<g.filters {
          let group = f / outPerGroup
          var sum = Double(bias?[f] ?? 0)
          for ky in 0..<g.kernelHeight {
            let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
            guard iy >= 0, iy < g.height else { continue }
            for kx in 0..<g.kernelWidth {
              let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
              guard ix >= 0, ix < g.width else { continue }
              for i in 0..<inPerGroup {
                let x = input[
                  ((n * g.height + iy) * g.width + ix) * g.channels + group * inPerGroup + i]
                let w = kernel[((ky * g.kernelWidth + kx) * inPerGroup + i) * g.filters + f]
                sum += Double(x) * Double(w)
              }
            }
          }
          output[((n * g.outputHeight + oy) * g.outputWidth + ox) * g.filters + f] = Float(sum)
        }
      }
    }
  }
}

/// The plain-loop backend: every ``Kernels`` default, accumulating in Double. The tests' oracle.
public struct ReferenceKernels: Kernels {
  /// A new instance, with nothing cached yet.
  public init() {}
}

/// Whether gemm's buffers hold an m×k `a`, a k×n `b` and an m×n `c` (the backends' precondition).
public func gemmFits(
  _ m: Int, _ n: Int, _ k: Int, _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>,
  _ c: UnsafeMutableBufferPointer<Float>
) -> Bool {
  a.count >= m * k && b.count >= k * n && c.count >= m * n
}
