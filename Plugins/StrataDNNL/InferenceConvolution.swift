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
  /// The reorders and buffers of a Winograd convolution's blocked activations.
  private let blocked: BlockedActivations?
  /// Whether it runs oneDNN's Winograd algorithm.
  var isWinograd: Bool { blocked != nil }
  /// Kernels in oneDNN's layout by version, oldest first.
  private var reordered: [(version: UInt64, buffer: UnsafeMutableRawPointer)] = []

  init(_ key: Key, runtime: DNNLRuntime) {
    let g = key.geometry
    self.key = key
    self.runtime = runtime
    let (user, weightDimensions) = Self.userWeights(g, groups: key.groups)
    var b = memoryDescriptor([g.filters], dnnl_a)
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
    defer {
      dnnl_post_ops_destroy(postOps)
      dnnl_primitive_attr_destroy(attributes)
    }
    // A Winograd convolution (3x3, stride 1) needs 2.5-4x fewer multiplications; oneDNN runs it on
    // blocked activations only, so it computes a few images at a time between two reorders.
    if let chunk = Self.winogradChunk(key),
      let made = Self.make(
        key, batch: chunk, algorithm: dnnl_convolution_winograd, activations: dnnl_format_tag_any,
        weights: weightDimensions, bias: &b, attributes: attributes, runtime: runtime)
    {
      (descriptor, primitive) = made
      blocked = BlockedActivations(g, chunk: chunk, convolution: descriptor, runtime: runtime)
    } else if let made = Self.make(
      key, batch: g.batch, algorithm: dnnl_convolution_direct, activations: dnnl_nhwc,
      weights: weightDimensions, bias: &b, attributes: attributes, runtime: runtime)
    {
      (descriptor, primitive) = made
      blocked = nil
    } else {
      preconditionFailure("oneDNN has no inference convolution for \(g)")
    }
    var chosen = dnnl_primitive_desc_query_md(descriptor, dnnl_query_weights_md, 0)!.pointee
    chosenBytes = dnnl_memory_desc_get_size(&chosen)
    reorder = WeightReorder(runtime: runtime, user: user, chosen: chosen, toChosen: true)
    source = runtime.memory(dnnl_primitive_desc_query_md(descriptor, dnnl_query_src_md, 0)!.pointee)
    weights = runtime.memory(chosen)
    bias = runtime.memory(b)
    destination = runtime.memory(
      dnnl_primitive_desc_query_md(descriptor, dnnl_query_dst_md, 0)!.pointee)
  }

  /// How many images a Winograd convolution computes between its reorders, or `nil` where oneDNN
  /// has none for this convolution: 3x3, stride and dilation 1, no groups, whole 16-channel blocks,
  /// no residual sum (it would have to be reordered in too). As many images as keep a chunk's
  /// blocked input within 4 MB, at least one, and dividing the batch.
  static func winogradChunk(_ key: Key) -> Int? {
    let g = key.geometry
    guard Self.usesWinograd, key.groups == 1, !key.epilogue.addsToOutput,
      g.kernelHeight == 3, g.kernelWidth == 3, g.strideHeight == 1, g.strideWidth == 1,
      g.dilationHeight == 1, g.dilationWidth == 1, g.channels % 16 == 0, g.filters % 16 == 0
    else { return nil }
    let imageBytes = g.height * g.width * max(g.channels, g.filters) * 4
    var chunk = max(1, min(g.batch, (4 << 20) / max(1, imageBytes)))
    while g.batch % chunk != 0 { chunk -= 1 }
    return chunk
  }

  /// Whether inference may use Winograd convolutions: on unless `STRATA_WINOGRAD=0` (its results
  /// differ from the direct algorithm's by rounding, about 1e-6 relative).
  static let usesWinograd = ProcessInfo.processInfo.environment["STRATA_WINOGRAD"] != "0"

  /// The primitive for `batch` images of `key`'s convolution with `algorithm`, or `nil` when oneDNN
  /// has no implementation of it (or only its reference loops, for Winograd).
  private static func make(
    _ key: Key, batch: Int, algorithm: dnnl_alg_kind_t, activations: dnnl_format_tag_t,
    weights weightDimensions: [Int], bias b: inout dnnl_memory_desc_t,
    attributes: dnnl_primitive_attr_t?, runtime: DNNLRuntime
  ) -> (dnnl_primitive_desc_t, dnnl_primitive_t)? {
    let g = key.geometry
    var src = memoryDescriptor([batch, g.channels, g.height, g.width], activations)
    var dst = memoryDescriptor([batch, g.filters, g.outputHeight, g.outputWidth], activations)
    var any = memoryDescriptor(weightDimensions, dnnl_format_tag_any)
    var operation = dnnl_convolution_desc_t()
    let status = withUnsafePointer(to: &b) { biasPointer in
      dnnl_dilated_convolution_forward_desc_init(
        &operation, dnnl_forward_inference, algorithm, &src, &any,
        key.hasBias ? biasPointer : nil, &dst,
        dims([g.strideHeight, g.strideWidth]),
        dims([g.dilationHeight - 1, g.dilationWidth - 1]),
        dims([g.padTop, g.padLeft]), dims([g.padBottom, g.padRight]))
    }
    guard status == dnnl_success else { return nil }
    var descriptor: dnnl_primitive_desc_t?
    guard
      dnnl_primitive_desc_create(&descriptor, &operation, attributes, runtime.engine, nil)
        == dnnl_success, let descriptor
    else { return nil }
    if algorithm == dnnl_convolution_winograd {
      var name: UnsafePointer<CChar>?
      dnnl_primitive_desc_query(descriptor, dnnl_query_impl_info_str, 0, &name)
      guard let name, String(cString: name).contains("wino") else {
        dnnl_primitive_desc_destroy(descriptor)
        return nil
      }
    }
    var primitive: dnnl_primitive_t?
    guard dnnl_primitive_create(&primitive, descriptor) == dnnl_success, let primitive else {
      dnnl_primitive_desc_destroy(descriptor)
      return nil
    }
    return (descriptor, primitive)
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
    guard let blocked else {
      execute(input: input, kernel: chosenKernel, bias: biasData, output: output)
      return
    }
    for chunk in 0..<blocked.chunks {
      blocked.toBlocked(runtime, chunk: chunk, from: input)
      execute(
        input: UnsafeRawPointer(blocked.input), kernel: chosenKernel, bias: biasData,
        output: blocked.output)
      blocked.fromBlocked(runtime, chunk: chunk, into: output)
    }
  }

  private func execute(
    input: UnsafeRawPointer, kernel: UnsafeRawPointer, bias biasData: UnsafeRawPointer?,
    output: UnsafeMutableRawPointer
  ) {
    var arguments = [
      (DNNL_ARG_SRC, source, input), (DNNL_ARG_WEIGHTS, weights, kernel),
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

/// A convolution's input and output in the blocked layout a Winograd primitive needs, a chunk of
/// images at a time: the reorders from and to the graph's NHWC and the two chunk-sized buffers.
final class BlockedActivations {
  let chunks: Int
  let input: UnsafeMutableRawPointer, output: UnsafeMutableRawPointer
  private let inputBytes: Int, outputBytes: Int
  private let toInput, fromOutput: dnnl_primitive_t
  private let userInput, blockedInput, blockedOutput, userOutput: dnnl_memory_t

  init(
    _ g: ConvolutionGeometry, chunk: Int, convolution: const_dnnl_primitive_desc_t,
    runtime: DNNLRuntime
  ) {
    chunks = g.batch / chunk
    var userIn = memoryDescriptor([chunk, g.channels, g.height, g.width], dnnl_nhwc)
    var userOut = memoryDescriptor(
      [chunk, g.filters, g.outputHeight, g.outputWidth], dnnl_nhwc)
    var blockedIn = dnnl_primitive_desc_query_md(convolution, dnnl_query_src_md, 0)!.pointee
    var blockedOut = dnnl_primitive_desc_query_md(convolution, dnnl_query_dst_md, 0)!.pointee
    inputBytes = dnnl_memory_desc_get_size(&userIn)
    outputBytes = dnnl_memory_desc_get_size(&userOut)
    input = .allocate(byteCount: dnnl_memory_desc_get_size(&blockedIn), alignment: 64)
    output = .allocate(byteCount: dnnl_memory_desc_get_size(&blockedOut), alignment: 64)
    func reorder(_ from: inout dnnl_memory_desc_t, _ to: inout dnnl_memory_desc_t)
      -> dnnl_primitive_t
    {
      var descriptor: dnnl_primitive_desc_t?
      check(
        dnnl_reorder_primitive_desc_create(
          &descriptor, &from, runtime.engine, &to, runtime.engine, nil), "activation reorder")
      var primitive: dnnl_primitive_t?
      check(dnnl_primitive_create(&primitive, descriptor), "activation reorder primitive")
      dnnl_primitive_desc_destroy(descriptor)
      return primitive!
    }
    toInput = reorder(&userIn, &blockedIn)
    fromOutput = reorder(&blockedOut, &userOut)
    userInput = runtime.memory(userIn)
    blockedInput = runtime.memory(blockedIn)
    blockedOutput = runtime.memory(blockedOut)
    userOutput = runtime.memory(userOut)
  }

  /// Chunk `chunk` of the NHWC batch at `batch` into ``input``.
  func toBlocked(_ runtime: DNNLRuntime, chunk: Int, from batch: UnsafeRawPointer) {
    runtime.execute(
      toInput,
      [
        (DNNL_ARG_FROM, userInput, batch + chunk * inputBytes),
        (DNNL_ARG_TO, blockedInput, UnsafeRawPointer(input)),
      ])
  }

  /// ``output`` into chunk `chunk` of the NHWC batch at `batch`.
  func fromBlocked(_ runtime: DNNLRuntime, chunk: Int, into batch: UnsafeMutableRawPointer) {
    runtime.execute(
      fromOutput,
      [
        (DNNL_ARG_FROM, blockedOutput, UnsafeRawPointer(output)),
        (DNNL_ARG_TO, userOutput, UnsafeRawPointer(batch + chunk * outputBytes)),
      ])
  }

  deinit {
    input.deallocate()
    output.deallocate()
    dnnl_primitive_destroy(toInput)
    dnnl_primitive_destroy(fromOutput)
    for memory in [userInput, blockedInput, blockedOutput, userOutput] {
      dnnl_memory_destroy(memory)
    }
  }
}
