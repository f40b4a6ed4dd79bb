import CDNNL
import Foundation
import StrataCore

/// The primitives of one convolution geometry: forward, backward-data and backward-weights, created the
/// first time each is needed and reused for every later batch of that geometry.
final class ConvolutionPrimitives: @unchecked Sendable {
  let g: ConvolutionGeometry
  let hasBias: Bool
  private let runtime: DNNLRuntime
  private let lock = NSLock()
  private let source, destination, userWeights, bias: dnnl_memory_desc_t
  private let strides, dilates, paddingLeft, paddingRight: [Int64]

  private var forward: (dnnl_primitive_desc_t, dnnl_primitive_t, WeightReorder, [dnnl_memory_t])?
  private var backwardData: (dnnl_primitive_t, WeightReorder, [dnnl_memory_t])?
  private var backwardWeights: (dnnl_primitive_t, WeightReorder, [dnnl_memory_t])?

  init(_ g: ConvolutionGeometry, hasBias: Bool, runtime: DNNLRuntime) {
    self.g = g
    self.hasBias = hasBias
    self.runtime = runtime
    source = memoryDescriptor([g.batch, g.channels, g.height, g.width], dnnl_nhwc)
    destination = memoryDescriptor([g.batch, g.filters, g.outputHeight, g.outputWidth], dnnl_nhwc)
    userWeights = memoryDescriptor(
      [g.filters, g.channels, g.kernelHeight, g.kernelWidth], dnnl_hwio)
    bias = memoryDescriptor([g.filters], dnnl_a)
    strides = dims([g.strideHeight, g.strideWidth])
    dilates = dims([g.dilationHeight - 1, g.dilationWidth - 1])  // oneDNN counts the gaps
    paddingLeft = dims([g.padTop, g.padLeft])
    paddingRight = dims([g.padBottom, g.padRight])
  }

  private var anyWeights: dnnl_memory_desc_t {
    memoryDescriptor([g.filters, g.channels, g.kernelHeight, g.kernelWidth], dnnl_format_tag_any)
  }

  private func makeForward() -> (
    dnnl_primitive_desc_t, dnnl_primitive_t, WeightReorder, [dnnl_memory_t]
  ) {
    if let forward { return forward }
    var descriptor = dnnl_convolution_desc_t()
    var (src, dst, weights, b) = (source, destination, anyWeights, bias)
    let status = withUnsafePointer(to: &b) { biasPointer in
      dnnl_dilated_convolution_forward_desc_init(
        &descriptor, dnnl_forward_training, dnnl_convolution_direct, &src, &weights,
        hasBias ? biasPointer : nil, &dst,
        strides, dilates, paddingLeft, paddingRight)
    }
    check(status, "convolution forward \(g)")
    let (pd, primitive) = runtime.primitive(&descriptor, what: "convolution forward")
    let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!.pointee
    let reorder = WeightReorder(runtime: runtime, user: userWeights, chosen: chosen, toChosen: true)
    let made = (
      pd, primitive, reorder,
      [runtime.memory(source), runtime.memory(bias), runtime.memory(destination)]
    )
    forward = made
    return made
  }

  func run(
    input: UnsafeRawPointer, kernel: UnsafeRawPointer, bias biasData: UnsafeRawPointer?,
    output: UnsafeMutableRawPointer
  ) {
    lock.lock()
    defer { lock.unlock() }
    let (_, primitive, reorder, memories) = makeForward()
    let weights = reorder.toChosen(runtime, kernel, bytes: g.kernelCount * 4)
    var arguments = [
      (DNNL_ARG_SRC, memories[0], input), (DNNL_ARG_WEIGHTS, reorder.chosen, weights),
    ]
    if let biasData { arguments.append((DNNL_ARG_BIAS, memories[1], biasData)) }
    arguments.append((DNNL_ARG_DST, memories[2], UnsafeRawPointer(output)))
    runtime.execute(primitive, arguments)
  }

  func runBackwardData(
    outputGradient: UnsafeRawPointer, kernel: UnsafeRawPointer,
    inputGradient: UnsafeMutableRawPointer
  ) {
    lock.lock()
    defer { lock.unlock() }
    if backwardData == nil {
      let (hint, _, _, _) = makeForward()
      var descriptor = dnnl_convolution_desc_t()
      var (src, dst, weights) = (source, destination, anyWeights)
      check(
        dnnl_dilated_convolution_backward_data_desc_init(
          &descriptor, dnnl_convolution_direct, &src, &weights, &dst, strides, dilates, paddingLeft,
          paddingRight),
        "convolution backward data \(g)")
      let (pd, primitive) = runtime.primitive(
        &descriptor, hint: hint, what: "convolution backward data")
      let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!.pointee
      dnnl_primitive_desc_destroy(pd)
      let reorder = WeightReorder(
        runtime: runtime, user: userWeights, chosen: chosen, toChosen: true)
      backwardData = (primitive, reorder, [runtime.memory(destination), runtime.memory(source)])
    }
    let (primitive, reorder, memories) = backwardData!
    let weights = reorder.toChosen(runtime, kernel, bytes: g.kernelCount * 4)
    runtime.execute(
      primitive,
      [
        (DNNL_ARG_DIFF_DST, memories[0], outputGradient),
        (DNNL_ARG_WEIGHTS, reorder.chosen, weights),
        (DNNL_ARG_DIFF_SRC, memories[1], UnsafeRawPointer(inputGradient)),
      ])
  }

  func runBackwardWeights(
    input: UnsafeRawPointer, outputGradient: UnsafeRawPointer,
    kernelGradient: UnsafeMutableRawPointer,
    biasGradient: UnsafeMutableRawPointer?
  ) {
    lock.lock()
    defer { lock.unlock() }
    if backwardWeights == nil {
      let (hint, _, _, _) = makeForward()
      var descriptor = dnnl_convolution_desc_t()
      var (src, dst, weights, b) = (source, destination, anyWeights, bias)
      let status = withUnsafePointer(to: &b) { biasPointer in
        dnnl_dilated_convolution_backward_weights_desc_init(
          &descriptor, dnnl_convolution_direct, &src, &weights, hasBias ? biasPointer : nil, &dst,
          strides, dilates,
          paddingLeft, paddingRight)
      }
      check(status, "convolution backward weights \(g)")
      let (pd, primitive) = runtime.primitive(
        &descriptor, hint: hint, what: "convolution backward weights")
      let chosen = dnnl_primitive_desc_query_md(pd, dnnl_query_diff_weights_md, 0)!.pointee
      dnnl_primitive_desc_destroy(pd)
      let reorder = WeightReorder(
        runtime: runtime, user: userWeights, chosen: chosen, toChosen: false)
      backwardWeights = (
        primitive, reorder,
        [runtime.memory(source), runtime.memory(destination), runtime.memory(bias)]
      )
    }
    let (primitive, reorder, memories) = backwardWeights!
    let target = reorder.chosenTarget(kernelGradient)
    var arguments = [
      (DNNL_ARG_SRC, memories[0], input), (DNNL_ARG_DIFF_DST, memories[1], outputGradient),
      (DNNL_ARG_DIFF_WEIGHTS, reorder.chosen, UnsafeRawPointer(target)),
    ]
    if let biasGradient {
      arguments.append((DNNL_ARG_DIFF_BIAS, memories[2], UnsafeRawPointer(biasGradient)))
    }
    runtime.execute(primitive, arguments)
    reorder.toUser(runtime, kernelGradient)
  }

  // oneDNN objects are freed with the primitives of a geometry (a model's kernels going away).
  deinit {
    if let (pd, primitive, _, memories) = forward {
      dnnl_primitive_destroy(primitive)
      dnnl_primitive_desc_destroy(pd)
      memories.forEach { dnnl_memory_destroy($0) }
    }
    for (primitive, _, memories) in [backwardData, backwardWeights].compactMap({ $0 }) {
      dnnl_primitive_destroy(primitive)
      memories.forEach { dnnl_memory_destroy($0) }
    }
  }
}

/// The primitives of one pooling geometry and kind.
final class PoolingPrimitives: @unchecked Sendable {
  let g: PoolingGeometry
  let maximum: Bool
  private let runtime: DNNLRuntime
  private let lock = NSLock()
  private var descriptor = dnnl_pooling_v2_desc_t()
  private let forwardDescriptor: dnnl_primitive_desc_t
  private let forward: dnnl_primitive_t
  private let source, destination: dnnl_memory_t
  private let workspace: dnnl_memory_t?
  /// The bytes of workspace max pooling needs between its passes.
  let workspaceBytes: Int
  private var backward: dnnl_primitive_t?
  private let sourceDescriptor, destinationDescriptor: dnnl_memory_desc_t
  private let strides, kernel, dilation, paddingLeft, paddingRight: [Int64]

  init(_ g: PoolingGeometry, maximum: Bool, runtime: DNNLRuntime) {
    self.g = g
    self.maximum = maximum
    self.runtime = runtime
    sourceDescriptor = memoryDescriptor([g.batch, g.channels, g.height, g.width], dnnl_nhwc)
    destinationDescriptor = memoryDescriptor(
      [g.batch, g.channels, g.outputHeight, g.outputWidth], dnnl_nhwc)
    strides = dims([g.strideHeight, g.strideWidth])
    kernel = dims([g.poolHeight, g.poolWidth])
    dilation = dims([0, 0])
    paddingLeft = dims([g.padTop, g.padLeft])
    paddingRight = dims([g.padBottom, g.padRight])
    var (src, dst) = (sourceDescriptor, destinationDescriptor)
    check(
      dnnl_pooling_v2_forward_desc_init(
        &descriptor, dnnl_forward_training,
        maximum ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, &src, &dst,
        strides, kernel, dilation, paddingLeft, paddingRight), "pooling forward")
    (forwardDescriptor, forward) = runtime.primitive(&descriptor, what: "pooling forward")
    source = runtime.memory(sourceDescriptor)
    destination = runtime.memory(destinationDescriptor)
    if maximum,
      let workspaceDescriptor = dnnl_primitive_desc_query_md(
        forwardDescriptor, dnnl_query_workspace_md, 0)
    {
      var copy = workspaceDescriptor.pointee
      workspaceBytes = dnnl_memory_desc_get_size(&copy)
      workspace = workspaceBytes > 0 ? runtime.memory(copy) : nil
    } else {
      workspaceBytes = 0
      workspace = nil
    }
  }

  func run(
    input: UnsafeRawPointer, output: UnsafeMutableRawPointer,
    workspace buffer: UnsafeMutableRawPointer?
  ) {
    lock.lock()
    defer { lock.unlock() }
    var arguments = [
      (DNNL_ARG_SRC, source, input), (DNNL_ARG_DST, destination, UnsafeRawPointer(output)),
    ]
    if let workspace, let buffer {
      arguments.append((DNNL_ARG_WORKSPACE, workspace, UnsafeRawPointer(buffer)))
    }
    runtime.execute(forward, arguments)
  }

  func runBackward(
    outputGradient: UnsafeRawPointer, inputGradient: UnsafeMutableRawPointer,
    workspace buffer: UnsafeRawPointer?
  ) {
    lock.lock()
    defer { lock.unlock() }
    if backward == nil {
      var backwardDescriptor = dnnl_pooling_v2_desc_t()
      var (src, dst) = (sourceDescriptor, destinationDescriptor)
      check(
        dnnl_pooling_v2_backward_desc_init(
          &backwardDescriptor, maximum ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, &src,
          &dst, strides,
          kernel, dilation, paddingLeft, paddingRight), "pooling backward")
      let (backwardPrimitiveDescriptor, primitive) = runtime.primitive(
        &backwardDescriptor, hint: forwardDescriptor, what: "pooling backward")
      dnnl_primitive_desc_destroy(backwardPrimitiveDescriptor)
      backward = primitive
    }
    var arguments = [
      (DNNL_ARG_DIFF_DST, destination, outputGradient),
      (DNNL_ARG_DIFF_SRC, source, UnsafeRawPointer(inputGradient)),
    ]
    if let workspace, let buffer { arguments.append((DNNL_ARG_WORKSPACE, workspace, buffer)) }
    runtime.execute(backward!, arguments)
  }

  deinit {
    if let backward { dnnl_primitive_destroy(backward) }
    dnnl_primitive_destroy(forward)
    dnnl_primitive_desc_destroy(forwardDescriptor)
    dnnl_memory_destroy(source)
    dnnl_memory_destroy(destination)
    if let workspace { dnnl_memory_destroy(workspace) }
  }
}
