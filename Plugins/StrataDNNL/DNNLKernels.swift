import CDNNL
import Foundation
import StrataCore
import Synchronization

/// Every primitive made so far, by geometry: made once, reused for every batch of that shape.
final class PrimitiveCache: Sendable {
  private struct Key: Hashable {
    let convolution: ConvolutionGeometry?
    let pooling: PoolingGeometry?
    let flag: Bool
  }
  private let convolutions = Mutex<[Key: ConvolutionPrimitives]>([:])
  private let poolings = Mutex<[Key: PoolingPrimitives]>([:])
  private let products = Mutex<[ProductShape: MatMulPrimitive]>([:])
  private let inference = Mutex<[InferenceConvolution.Key: InferenceConvolution]>([:])

  func convolution(_ g: ConvolutionGeometry, hasBias: Bool, runtime: DNNLRuntime)
    -> ConvolutionPrimitives
  {
    cached(convolutions, Key(convolution: g, pooling: nil, flag: hasBias)) {
      ConvolutionPrimitives(g, hasBias: hasBias, runtime: runtime)
    }
  }

  func pooling(_ g: PoolingGeometry, maximum: Bool, runtime: DNNLRuntime) -> PoolingPrimitives {
    cached(poolings, Key(convolution: nil, pooling: g, flag: maximum)) {
      PoolingPrimitives(g, maximum: maximum, runtime: runtime)
    }
  }

  func inferenceConvolution(_ key: InferenceConvolution.Key, runtime: DNNLRuntime)
    -> InferenceConvolution
  {
    cached(inference, key) { InferenceConvolution(key, runtime: runtime) }
  }

  func matmul(_ shape: ProductShape, runtime: DNNLRuntime) -> MatMulPrimitive {
    cached(products, shape) { MatMulPrimitive(shape, runtime: runtime) }
  }

  /// `cache[key]`, made by `make` the first time.
  private func cached<K: Hashable & Sendable, P: Sendable>(
    _ cache: borrowing Mutex<[K: P]>, _ key: K, _ make: () -> P
  ) -> P {
    cache.withLock { entries in
      if let found = entries[key] { return found }
      let made = make()
      entries[key] = made
      return made
    }
  }

  /// The inference convolutions made as Winograd convolutions.
  var winogradCount: Int { inference.withLock { $0.values.filter(\.isWinograd).count } }

  var count: Int {
    convolutions.withLock { $0.count } + poolings.withLock { $0.count }
      + products.withLock { $0.count } + inference.withLock { $0.count }
  }
}

/// Matrix products, convolution and pooling on oneDNN primitives (Debian's `libdnnl-dev`); everything
/// else as the reference.
///
/// Registered as `"dnnl"`. Activations stay NHWC, so no reorder is needed between layers; weights are
/// reordered from Keras' `[kh, kw, in, out]` into the layout oneDNN picks (`format_tag_any`), since
/// oneDNN 2.6 falls back to its slow reference code for fixed weight layouts. If oneDNN cannot start,
/// the reference loops compute instead.
public struct DNNLKernels: Kernels {
  /// Whether oneDNN started on this machine. When it did not, every operation falls back to the
  /// reference loops (correct, slow); tests check this so a comparison never pits the reference
  /// against itself.
  public static var isAvailable: Bool { DNNLRuntime.shared != nil }

  let cache = PrimitiveCache()
  /// A new instance, with nothing cached yet.
  public init() {}

  /// How many primitive sets have been made (one per geometry and kind): for tests and benchmarks.
  public var primitiveSets: Int { cache.count }

  /// How many of the inference convolutions made so far run oneDNN's Winograd algorithm (3x3,
  /// stride 1, whole 16-channel blocks, no residual sum): for tests and benchmarks.
  public var winogradConvolutions: Int { cache.winogradCount }

  /// `c = alpha · op(a) · op(b) + beta · c` on oneDNN's matmul primitive (made once per shape, the
  /// transposed operands read in place); the reference computes it when oneDNN did not start or when
  /// `alpha` is not 1 or `beta` not 0 (no layer asks for that).
  public func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafeBufferPointer<Float>, b: UnsafeBufferPointer<Float>, beta: Float,
    c: UnsafeMutableBufferPointer<Float>
  ) {
    guard alpha == 1, beta == 0, m > 0, n > 0, k > 0, let runtime = DNNLRuntime.shared,
      let aBase = a.baseAddress, let bBase = b.baseAddress, let cBase = c.baseAddress
    else {
      ReferenceKernels().gemm(
        transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a,
        b: b, beta: beta, c: c)
      return
    }
    precondition(gemmFits(m, n, k, a, b, c), "gemm: buffers too small")
    let shape = ProductShape(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k)
    cache.matmul(shape, runtime: runtime).run(a: aBase, b: bBase, c: cBase)
  }

  public func convolution(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>, kernel: UnsafeBufferPointer<Float>,
    bias: UnsafeBufferPointer<Float>?, output: UnsafeMutableBufferPointer<Float>
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().convolution(
        g, input: input, kernel: kernel, bias: bias, output: output)
    }
    cache.convolution(g, hasBias: bias != nil, runtime: runtime).run(
      input: UnsafeRawPointer(input.baseAddress!), kernel: UnsafeRawPointer(kernel.baseAddress!),
      bias: bias.map { UnsafeRawPointer($0.baseAddress!) },
      output: UnsafeMutableRawPointer(output.baseAddress!))
  }

  /// On a `forward_inference` primitive whose post-ops add the residual and apply the activation, one
  /// per geometry and epilogue; a kernel with a version is reordered into oneDNN's layout once.
  public func inferenceConvolution(
    _ g: ConvolutionGeometry, groups: Int, input: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>, kernelVersion: UInt64, bias: UnsafeBufferPointer<Float>?,
    output: UnsafeMutableBufferPointer<Float>, epilogue: ConvolutionEpilogue
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().inferenceConvolution(
        g, groups: groups, input: input, kernel: kernel, kernelVersion: kernelVersion, bias: bias,
        output: output,
        epilogue: epilogue)
    }
    let key = InferenceConvolution.Key(
      geometry: g, groups: groups, hasBias: bias != nil, epilogue: epilogue)
    cache.inferenceConvolution(key, runtime: runtime).run(
      input: UnsafeRawPointer(input.baseAddress!), kernel: UnsafeRawPointer(kernel.baseAddress!),
      kernelVersion: kernelVersion, bias: bias.map { UnsafeRawPointer($0.baseAddress!) },
      output: UnsafeMutableRawPointer(output.baseAddress!))
  }

  public func convolutionBackwardData(
    _ g: ConvolutionGeometry, outputGradient: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().convolutionBackwardData(
        g, outputGradient: outputGradient, kernel: kernel, inputGradient: inputGradient)
    }
    cache.convolution(g, hasBias: true, runtime: runtime).runBackwardData(
      outputGradient: UnsafeRawPointer(outputGradient.baseAddress!),
      kernel: UnsafeRawPointer(kernel.baseAddress!),
      inputGradient: UnsafeMutableRawPointer(inputGradient.baseAddress!))
  }

  public func convolutionBackwardWeights(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    kernelGradient: UnsafeMutableBufferPointer<Float>,
    biasGradient: UnsafeMutableBufferPointer<Float>?
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().convolutionBackwardWeights(
        g, input: input, outputGradient: outputGradient, kernelGradient: kernelGradient,
        biasGradient: biasGradient)
    }
    cache.convolution(g, hasBias: biasGradient != nil, runtime: runtime).runBackwardWeights(
      input: UnsafeRawPointer(input.baseAddress!),
      outputGradient: UnsafeRawPointer(outputGradient.baseAddress!),
      kernelGradient: UnsafeMutableRawPointer(kernelGradient.baseAddress!),
      biasGradient: biasGradient.map { UnsafeMutableRawPointer($0.baseAddress!) })
  }

  public func maxPoolingWorkspaceBytes(_ g: PoolingGeometry) -> Int {
    guard let runtime = DNNLRuntime.shared else { return 0 }
    return cache.pooling(g, maximum: true, runtime: runtime).workspaceBytes
  }

  public func maxPooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>,
    workspace: UnsafeMutableRawBufferPointer
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().maxPooling(g, input: input, output: output, workspace: workspace)
    }
    cache.pooling(g, maximum: true, runtime: runtime).run(
      input: UnsafeRawPointer(input.baseAddress!),
      output: UnsafeMutableRawPointer(output.baseAddress!), workspace: workspace.baseAddress)
  }

  public func maxPoolingBackward(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>, workspace: UnsafeRawBufferPointer
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().maxPoolingBackward(
        g, input: input, outputGradient: outputGradient, inputGradient: inputGradient,
        workspace: workspace)
    }
    cache.pooling(g, maximum: true, runtime: runtime).runBackward(
      outputGradient: UnsafeRawPointer(outputGradient.baseAddress!),
      inputGradient: UnsafeMutableRawPointer(inputGradient.baseAddress!),
      workspace: workspace.baseAddress)
  }

  /// Average pooling of `input` into `output`, this backend's way.
  public func averagePooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().averagePooling(g, input: input, output: output)
    }
    cache.pooling(g, maximum: false, runtime: runtime).run(
      input: UnsafeRawPointer(input.baseAddress!),
      output: UnsafeMutableRawPointer(output.baseAddress!), workspace: nil)
  }

  public func averagePoolingBackward(
    _ g: PoolingGeometry, outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>
  ) {
    guard let runtime = DNNLRuntime.shared else {
      return ReferenceKernels().averagePoolingBackward(
        g, outputGradient: outputGradient, inputGradient: inputGradient)
    }
    cache.pooling(g, maximum: false, runtime: runtime).runBackward(
      outputGradient: UnsafeRawPointer(outputGradient.baseAddress!),
      inputGradient: UnsafeMutableRawPointer(inputGradient.baseAddress!),
      workspace: nil)
  }
}

/// Registers the `"dnnl"` backend.
public enum DNNLPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: DNNLKernels(), as: "dnnl")
  }
}
