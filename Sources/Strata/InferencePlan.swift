import CStrataKernels
import Foundation
import StrataCore
import StrataLayers
import Synchronization

/// How a functional model runs in inference (`predict`, `evaluate`, validation): chains of
/// `Conv2D` (or `DepthwiseConv2D`) → `BatchNormalization` → `Add` (a residual) → activation run as one convolution, with the
/// batch normalization folded into the kernel and bias and the addition and activation fused as
/// the primitive's post-ops, as inference runtimes do; every other node runs as it is. Worked out once
/// per model; the folded weights are worked out again when a weight they come from changes.
final class InferencePlan {
  /// The fused chains, by the node whose value each produces (the chain's last).
  let fused: [Int: any FusedChain]
  /// The nodes inside a fused chain before its last: they do not run.
  let skipped: [Bool]
  /// For each node, the last node (or fused chain, by its last node) that reads its value: the
  /// graph's liveness with the chains as single steps.
  let lastReaders: [Int?]

  /// The concatenations that write into one buffer (``ConcatenationBlock``), by node.
  let blocks: [Int: (block: ConcatenationBlock, position: Int)]

  init(
    fused: [Int: any FusedChain], skipped: [Bool], lastReaders: [Int?],
    blocks: [Int: (block: ConcatenationBlock, position: Int)] = [:]
  ) {
    self.fused = fused
    self.skipped = skipped
    self.lastReaders = lastReaders
    self.blocks = blocks
  }
}

/// Layers of a graph run as one step in inference, and in a training step where none of them is
/// trained and no gradient passes through them (a frozen base).
protocol FusedChain: AnyObject {
  /// The chain's nodes, in order; its value is the last's.
  var nodes: [Int] { get }
  /// The node whose value the chain's first layer reads.
  var source: Int { get }
  /// The node whose value is added (a residual connection), if any.
  var residual: Int? { get }
  /// The batch normalization folded into the chain, if any: it may run fused in a training step
  /// only when frozen (it then uses its moving statistics, as in inference).
  var foldedNormalization: BatchNormalization? { get }
  /// The chain's output for `input` (and `residual`, which it may take over).
  func run(_ input: Tensor, residual: inout Tensor?, in context: Context) throws -> Tensor
  /// How many batches it ran (tests tell by it whether a training step fused the chain).
  var runs: Int { get }
}

/// A convolution with the batch normalization, residual addition and activation after it folded in.
final class FusedConvolution: FusedChain {
  /// The chain's nodes, in order: the convolution first, its value the last's.
  let nodes: [Int]
  /// The node whose value the convolution reads.
  let source: Int
  /// The node whose value is added (a residual connection), if any.
  let residual: Int?
  let convolution: any InferenceConvolutionLayer
  let batchNormalization: BatchNormalization?
  var foldedNormalization: BatchNormalization? { batchNormalization }
  let epilogue: ConvolutionEpilogue
  /// The zeros a `ZeroPadding2D` before the convolution added (top, bottom, left, right): the
  /// convolution pads instead.
  let padding: (top: Int, bottom: Int, left: Int, right: Int)
  /// The weights folded from: their versions when last folded.
  private let parameters: [Parameter]
  private var versions: [UInt64] = []
  private(set) var kernel = Tensor(shape: [0])
  private(set) var bias: Tensor?
  /// A number for the folded kernel's contents, never used twice in the process (see
  /// ``StrataCore/Kernels/inferenceConvolution(_:input:kernel:kernelVersion:bias:output:epilogue:)``).
  private(set) var kernelVersion: UInt64 = 0
  private static let serials = Atomic<UInt64>(0)

  init(
    nodes: [Int], source: Int, residual: Int?, convolution: any InferenceConvolutionLayer,
    batchNormalization: BatchNormalization?, epilogue: ConvolutionEpilogue,
    padding: (top: Int, bottom: Int, left: Int, right: Int), parameters: [Parameter]
  ) {
    self.padding = padding
    self.nodes = nodes
    self.source = source
    self.residual = residual
    self.convolution = convolution
    self.batchNormalization = batchNormalization
    self.epilogue = epilogue
    self.parameters = parameters
  }

  /// Folds the batch normalization into the kernel and bias of `parts`, unless no weight changed
  /// since.
  private func refresh(_ parts: InferenceConvolutionParts) throws {
    let current = parameters.map(\.version)
    if current == versions, kernelVersion != 0 { return }
    versions = current
    kernelVersion = Self.serials.wrappingAdd(1, ordering: .relaxed).newValue
    let (k, b) = (parts.kernel, parts.bias)
    guard let (scale, shift) = batchNormalization?.inferenceScaleShift else {
      kernel = k.value
      bias = b?.value
      return
    }
    let filters = scale.count
    var folded = k.value
    folded.withUnsafeMutableBufferPointer { w in
      for start in stride(from: 0, to: w.count, by: filters) {
        for o in 0..<filters { w[start + o] *= scale[o] }
      }
    }
    let convolutionBias = b?.value.scalars ?? [Float](repeating: 0, count: filters)
    kernel = folded
    bias = try Tensor(
      shape: [filters], scalars: (0..<filters).map { convolutionBias[$0] * scale[$0] + shift[$0] })
  }

  private(set) var runs = 0

  /// The chain's output for `input`, added to `residual` when there is one (whose buffer it writes
  /// when nothing else holds it).
  func run(_ input: Tensor, residual: inout Tensor?, in context: Context) throws -> Tensor {
    runs += 1
    guard let parts = convolution.inferenceParts(batch: input.shape[0]) else {
      throw StrataError.invalidState("\(convolution.identifier): forward was called before build.")
    }
    var g = parts.geometry
    g.height -= padding.top + padding.bottom
    g.width -= padding.left + padding.right
    (g.padTop, g.padBottom) = (g.padTop + padding.top, g.padBottom + padding.bottom)
    (g.padLeft, g.padRight) = (g.padLeft + padding.left, g.padRight + padding.right)
    guard input.shape == [g.batch, g.height, g.width, g.channels] else {
      throw StrataError.shapeMismatch(
        layer: convolution.identifier, received: kerasShape(input.shape, batch: false),
        expected: kerasShape([g.height, g.width, g.channels]))
    }
    try refresh(parts)
    let shape = [g.batch, g.outputHeight, g.outputWidth, g.filters]
    var output: Tensor
    if var residual = residual.take() {
      guard residual.shape == shape else {
        throw StrataError.shapeMismatch(
          layer: "Add", received: kerasShape(residual.shape, batch: false),
          expected: kerasShape(shape, batch: false))
      }
      if !residual.isUniquelyReferenced() {
        var copy = Tensor(uninitializedPooledShape: shape)
        copy.withUnsafeMutableBufferPointer { target in
          residual.withUnsafeBufferPointer { _ = target.initialize(from: $0) }
        }
        residual = copy
      }
      output = residual
    } else {
      output = Tensor(uninitializedPooledShape: shape)
    }
    input.withUnsafeBufferPointer { x in
      kernel.withUnsafeBufferPointer { k in
        output.withUnsafeMutableBufferPointer { y in
          if let bias {
            bias.withUnsafeBufferPointer { b in
              context.kernels.inferenceConvolution(
                g, groups: parts.groups, input: x, kernel: k, kernelVersion: kernelVersion, bias: b,
                output: y,
                epilogue: epilogue)
            }
          } else {
            context.kernels.inferenceConvolution(
              g, groups: parts.groups, input: x, kernel: k, kernelVersion: kernelVersion, bias: nil,
              output: y,
              epilogue: epilogue)
          }
        }
      }
    }
    return output
  }
}

/// What an inference plan is worked out from: a model's graph, or a `Sequential` model's chain.
struct InferenceGraph {
  /// Each node's layer; `nil` for a model input.
  var layers: [(any Layer)?]
  /// The nodes each node reads, in argument order.
  var inputNodes: [[Int]]
  /// The nodes whose values are the model's outputs.
  var outputNodes: [Int]
  /// Each node's output shape without the batch axis.
  var outputShapes: [[Int]]

  /// A chain of layers (`Sequential`): node 0 is the input, node `i` the `i`th layer's call.
  init(chain: [any Layer], shapes: [[Int]]) {
    layers = [nil] + chain
    inputNodes = [[]] + chain.indices.map { [$0] }
    outputNodes = [chain.count]
    outputShapes = shapes
  }

  /// A functional model's graph.
  init(layers: [(any Layer)?], inputNodes: [[Int]], outputNodes: [Int], outputShapes: [[Int]]) {
    (self.layers, self.inputNodes, self.outputNodes) = (layers, inputNodes, outputNodes)
    self.outputShapes = outputShapes
  }
}

extension FusedChain {
  /// Whether the chain computes what its layers compute one by one under `context` when none of
  /// them is trained: always in inference; when layers behave as in training, only if its batch
  /// normalization is frozen (a trainable one would use the batch's statistics).
  func runsFused(behavingAsTraining: Bool) -> Bool {
    !behavingAsTraining || (foldedNormalization?.isFrozen ?? true)
  }
}

extension InferencePlan {
  /// The inference plan of `graph` (see ``InferencePlan``).
  convenience init(for graph: InferenceGraph) {
    let inputNodes = graph.inputNodes, outputNodes = graph.outputNodes
    let nodeCount = graph.layers.count
    var readers = [[Int]](repeating: [], count: nodeCount)
    for (reader, sources) in inputNodes.enumerated() {
      for source in sources { readers[source].append(reader) }
    }
    let isOutput = Set(outputNodes)
    /// The one node reading `node`'s value, when exactly one does and it is not a model output.
    func soleReader(_ node: Int) -> Int? {
      guard readers[node].count == 1, !isOutput.contains(node) else { return nil }
      return readers[node][0]
    }
    func fusable(_ activation: any Activation) -> ConvolutionEpilogue.Activation?? {
      switch activation.identifier {
      case "linear": return .some(nil)
      case "relu": return .relu
      case "relu6": return .relu6
      case "swish", "silu": return .swish
      default: return nil
      }
    }
    func fusableActivation(of node: Int) -> ConvolutionEpilogue.Activation? {
      let layer = graph.layers[node]
      if let layer = layer as? ActivationLayer, let kind = fusable(layer.activation) {
        return kind
      }
      if let layer = layer as? ReLULayer, layer.config.negativeSlope == 0,
        layer.config.threshold == 0
      {
        switch layer.config.maxValue {
        case nil: return .relu
        case 6: return .relu6
        default: return nil
        }
      }
      return nil
    }
    var fused: [Int: any FusedChain] = [:]
    var skipped = [Bool](repeating: false, count: nodeCount)
    var claimed: Set<Int> = [], residuals: Set<Int> = []
    for (c, layer) in graph.layers.enumerated() {
      guard !claimed.contains(c),
        let convolution = layer as? any InferenceConvolutionLayer, inputNodes[c].count == 1,
        let parts = convolution.inferenceParts(batch: 1),
        let convolutionActivation = fusable(parts.activation),
        (convolution as any Layer as? any ActivityRegularized)?.activityRegularizer == nil
      else { continue }
      var chain = [c]
      var parameters = [parts.kernel] + (parts.bias.map { [$0] } ?? [])
      var batchNormalization: BatchNormalization?
      var residual: Int?
      var epilogueActivation = convolutionActivation
      /// Whether the chain can take `next` after its last node: nobody else claimed it, and the last
      /// node's value is not one another chain reads as its residual.
      func canExtend(to next: Int) -> Bool {
        !claimed.contains(next) && !residuals.contains(chain.last!)
      }
      if convolutionActivation == nil, let b = soleReader(c), canExtend(to: b),
        let normalization = graph.layers[b] as? BatchNormalization,
        normalization.inferenceScaleShift != nil
      {
        batchNormalization = normalization
        parameters += normalization.statisticsParameters
        chain.append(b)
        if let a = soleReader(b), canExtend(to: a), graph.layers[a] is Add,
          inputNodes[a].count == 2, graph.outputShapes[a] == graph.outputShapes[b],
          let other = inputNodes[a].first(where: { $0 != b }),
          graph.outputShapes[other] == graph.outputShapes[b], !skipped[other]
        {
          residual = other
          residuals.insert(other)
          chain.append(a)
        }
        if let r = soleReader(chain.last!), canExtend(to: r), let kind = fusableActivation(of: r) {
          epilogueActivation = kind
          chain.append(r)
        }
      }
      // A ZeroPadding2D only this convolution reads becomes the convolution's own padding.
      var source = inputNodes[c][0]
      var padding = (top: 0, bottom: 0, left: 0, right: 0)
      if let pad = graph.layers[source] as? ZeroPadding2D, soleReader(source) == c,
        !claimed.contains(source), inputNodes[source].count == 1
      {
        padding = (pad.config.top, pad.config.bottom, pad.config.left, pad.config.right)
        chain.insert(source, at: 0)
        source = inputNodes[source][0]
      }
      claimed.formUnion(chain)
      let tail = chain.last!
      for skippedNode in chain.dropLast() { skipped[skippedNode] = true }
      fused[tail] = FusedConvolution(
        nodes: chain, source: source, residual: residual, convolution: convolution,
        batchNormalization: batchNormalization,
        epilogue: ConvolutionEpilogue(
          addsToOutput: residual != nil, activation: epilogueActivation),
        padding: padding, parameters: parameters)
    }
    // A Dense layer without an activation and the batch normalization after it, then an
    // Activation layer.
    for (d, layer) in graph.layers.enumerated() {
      guard !claimed.contains(d), let dense = layer as? Dense, inputNodes[d].count == 1,
        dense.activation.isIdentity, dense.activityRegularizer == nil, dense.kernel != nil,
        let b = soleReader(d), !claimed.contains(b),
        let normalization = graph.layers[b] as? BatchNormalization, inputNodes[b].count == 1,
        normalization.inferenceScaleShift?.scale.count == dense.config.units
      else { continue }
      var chain = [d, b]
      var activation: (any Activation)?
      if let a = soleReader(b), !claimed.contains(a),
        let layer = graph.layers[a] as? ActivationLayer
      {
        chain.append(a)
        activation = layer.activation
      }
      claimed.formUnion(chain)
      for node in chain.dropLast() { skipped[node] = true }
      fused[chain.last!] = FusedDense(
        nodes: chain, source: inputNodes[d][0], dense: dense, normalization: normalization,
        activation: activation)
    }
    // Batch normalizations no convolution took, with the activation after them.
    for (b, layer) in graph.layers.enumerated() {
      guard !claimed.contains(b), let normalization = layer as? BatchNormalization,
        inputNodes[b].count == 1, normalization.inferenceScaleShift != nil
      else { continue }
      var chain = [b]
      var code: Int32 = 0
      if let r = soleReader(b), !claimed.contains(r), !residuals.contains(b),
        let kind = fusableActivation(of: r)
      {
        chain.append(r)
        code = kind == .relu ? 1 : kind == .relu6 ? 2 : 3
      }
      claimed.formUnion(chain)
      if chain.count > 1 { skipped[b] = true }
      fused[chain.last!] = FusedNormalization(
        nodes: chain, source: inputNodes[b][0], normalization: normalization, activation: code)
    }
    // Liveness with each chain read at its last node.
    var step = Array(0..<nodeCount)
    for (tail, chain) in fused { for node in chain.nodes { step[node] = tail } }
    var lastReaders = [Int?](repeating: nil, count: nodeCount)
    for (reader, sources) in inputNodes.enumerated() {
      for source in sources where step[source] != step[reader] {
        lastReaders[source] = max(lastReaders[source] ?? 0, step[reader])
      }
    }
    for output in outputNodes { lastReaders[output] = nil }
    var normalizations: [Int: FusedNormalization] = [:]
    for case let chain as FusedNormalization in fused.values {
      normalizations[chain.nodes[0]] = chain
    }
    let blocks = ConcatenationBlock.find(
      in: graph, readers: readers, normalizations: normalizations, excluding: claimed)
    self.init(fused: fused, skipped: skipped, lastReaders: lastReaders, blocks: blocks)
  }
}
