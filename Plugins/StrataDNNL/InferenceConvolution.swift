import CDNNL
import Foundation
import StrataCore

/// A convolution for inference: oneDNN's `forward_inference` primitive with the epilogue as post-ops
/// (sum for a residual addition, eltwise for the activation), and the kernels it ran with kept in
/// oneDNN's layout by version, so that a model's fixed weights are reordered once, not every batch.
final class InferenceConvolution: @unchecked Sendable {
  /// What one primitive is made for.
  struct Key: Hashable, Sendable {
    let geometry: ConvolutionGeometry
    let groups: Int
    let hasBias: Bool
    let epilogue: ConvolutionEpilogue
  }

  /// The most reordered kernels kept per primitive (layers of one geometry share the primitive).
  static let keptKernels = 64

  private let key: Key
  private let runtime: DNNLRuntime
  private let lock = NSLock()
  private let descriptor: dnnl_primitive_desc_t
  private let primitive: dnnl_primitive_t
  private let source, weights, bias, destination: dnnl_memory_t
  private let reorder: WeightReorder
  private let chosenBytes: Int
  /// Kernels in oneDNN's layout by version, oldest first.
  private var reordered: [(version: UInt64, buffer: UnsafeMutableRawPointer)] = []

  init(_ key: Key, runtime: DNNLRuntime) {
    let g = key.geometry
    self.key = key
    self.runtime = runtime
    var src = memoryDescriptor([g.batch, g.channels, g.height, g.width], dnnl_nhwc)
    var dst = memoryDescriptor([g.batch, g.filters, g.outputHeight, g.outputWidth], dnnl_nhwc)
    let (user, weightDimensions) = Self.userWeights(g, groups: key.groups)
    var any = memoryDescriptor(weightDimensions, dnnl_format_tag_any)
    var b = memoryDescriptor([g.filters], dnnl_a)
    var operation = dnnl_convolution_desc_t()
    let status = withUnsafePointer(to: &b) { biasPointer in
      dnnl_dilated_convolution_forward_desc_init(
        &operation, dnnl_forward_inference, dnnl_convolution_direct, &src, &any,
        key.hasBias ? biasPointer : nil, &dst,
        dims([g.strideHeight, g.strideWidth]),
        dims([g.dilationHeight - 1, g.dilationWidth - 1]),
        dims([g.padTop, g.padLeft]), dims([g.padBottom, g.padRight]))
    }
    check(status, "inference convolution \(g)")
    var attributes: dnnl_primitive_attr_t?
    var postOps: dnnl_post_ops_t?
    check(dnnl_primitive_attr_create(&attributes), "primitive attributes")
    check(dnnl_post_ops_create(&postOps), "post-ops")
    if key.epilogue.addsToOutput { check(dnnl_post_ops_append_sum(postOps, 1), "sum post-op") }
    if let activation = key.epilogue.activation {
      let (kind, alpha, beta): (dnnl_alg_kind_t, Float, Float) =
        switch activation {
        case .relu: (dnnl_eltwise_relu, 0, 0)
        case .relu6: (dnnl_eltwise_clip, 0, 6)
        case .swish: (dnnl_eltwise_swish, 1, 0)
        }
      check(dnnl_post_ops_append_eltwise(postOps, 1, kind, alpha, beta), "eltwise post-op")
    }
    check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "set post-ops")
    (descriptor, primitive) = runtime.primitive(
      &operation, attributes: attributes, what: "inference convolution")
    dnnl_post_ops_destroy(postOps)
    dnnl_primitive_attr_destroy(attributes)
    var chosen = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0)!.pointee
    chosenBytes = dnnl_memory_desc_get_size(&chosen)
    reorder = WeightReorder(runtime: runtime, user: user, chosen: chosen, toChosen: true)
    source = runtime.memory(src)
    weights = runtime.memory(chosen)
    bias = runtime.memory(b)
    destination = runtime.memory(dst)
  }

  /// Keras' kernel (`[kh, kw, in / groups, out]`) as oneDNN's weights: `(out, in, kh, kw)`, or
  /// `(groups, out / groups, in / groups, kh, kw)` with groups, described by strides.
  static func userWeights(_ g: ConvolutionGeometry, groups: Int) -> (
    dnnl_memory_desc_t, [Int]
  ) {
    guard groups > 1 else {
      let dimensions = [g.filters, g.channels, g.kernelHeight, g.kernelWidth]
      return (memoryDescriptor(dimensions, dnnl_hwio), dimensions)
    }
    let (inPerGroup, outPerGroup) = (g.channels / groups, g.filters / groups)
    let dimensions = [groups, outPerGroup, inPerGroup, g.kernelHeight, g.kernelWidth]
    let strides = [
      outPerGroup, 1, g.filters, g.kernelWidth * inPerGroup * g.filters, inPerGroup * g.filters,
    ]
    var descriptor = dnnl_memory_desc_t()
    check(
      dnnl_memory_desc_init_by_strides(&descriptor, 5, dims(dimensions), dnnl_f32, dims(strides)),
      "grouped weights \(dimensions)")
    return (descriptor, dimensions)
  }

  func run(
    input: UnsafeRawPointer, kernel: UnsafeRawPointer, kernelVersion: UInt64,
    bias biasData: UnsafeRawPointer?, output: UnsafeMutableRawPointer
  ) {
    lock.lock()
    defer { lock.unlock() }
    // Keras' kernel: `[kh, kw, in / groups, out]`.
    let kernelBytes = key.geometry.kernelCount / key.groups * 4
    let chosenKernel: UnsafeRawPointer
    if kernelVersion == 0 {
      chosenKernel = reorder.toChosen(runtime, kernel, bytes: kernelBytes)
    } else if let kept = reordered.first(where: { $0.version == kernelVersion }) {
      chosenKernel = UnsafeRawPointer(kept.buffer)
    } else {
      let buffer = UnsafeMutableRawPointer.allocate(
        byteCount: max(64, chosenBytes), alignment: 64)
      reorder.reorder(runtime, kernel, into: buffer)
      if reordered.count >= Self.keptKernels { reordered.removeFirst().buffer.deallocate() }
      reordered.append((kernelVersion, buffer))
      chosenKernel = UnsafeRawPointer(buffer)
    }
    var arguments = [
      (DNNL_ARG_SRC, source, input), (DNNL_ARG_WEIGHTS, weights, chosenKernel),
    ]
    if let biasData { arguments.append((DNNL_ARG_BIAS, bias, biasData)) }
    arguments.append((DNNL_ARG_DST, destination, UnsafeRawPointer(output)))
    runtime.execute(primitive, arguments)
  }

  deinit {
    for kept in reordered { kept.buffer.deallocate() }
    dnnl_primitive_destroy(primitive)
    dnnl_primitive_desc_destroy(descriptor)
    for memory in [source, weights, bias, destination] { dnnl_memory_destroy(memory) }
  }
}
