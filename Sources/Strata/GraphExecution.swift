import Foundation
import StrataCore
import StrataLayers

/// A model's graph (a functional model's, or a `Sequential` model's chain), run forward (with the
/// inference plan in inference) and backward.
extension Model {
  /// The model inputs' nodes come first: how many there are.
  var inputNodeCount: Int { nodes.prefix { $0.inputs.isEmpty }.count }

  /// Runs one batch of every input through the graph and returns every output.
  func runGraph(_ inputValues: [Tensor], context: Context) throws -> [Tensor] {
    try checkArgument(
      inputValues.count == inputNodeCount,
      owner: name, argument: "inputs", value: "\(inputValues.count) arrays",
      expected: "\(inputNodeCount), one per model input")
    // The last step's values go first: a layer writes its output into the buffer it kept, in place
    // only while nothing else holds it (else each step would allocate every activation again).
    lastValues = []
    var values = [Tensor?](repeating: nil, count: nodes.count)
    var masks = [Tensor?](repeating: nil, count: nodes.count)
    activityPenalty = 0
    if context.isTraining { backwardNodes = Array(repeating: false, count: nodes.count) }
    // A node a gradient need not pass through runs as in inference (behaving as the step asks):
    // nothing kept for a backward pass that will not come.
    var inference = context
    inference.isTraining = false
    // Inference runs the plan: fused convolutions, liveness with each chain as one step. A training
    // step runs a chain fused where nothing in it is trained and no gradient passes (a frozen base).
    let plan = fusesInference ? inferencePlan : nil
    let readers = plan?.lastReaders ?? lastReaders
    func runsFused(_ chain: any FusedChain) -> Bool {
      guard context.isTraining || context.behavesAsTraining else { return true }
      guard chain.runsFused(behavingAsTraining: context.behavesAsTraining),
        !([chain.source] + (chain.residual.map { [$0] } ?? [])).contains(where: {
          context.isTraining && backwardNodes[$0]
        })
      else { return false }
      return !chain.nodes.contains { nodes[$0].layer.parameters.contains(where: \.isTrainable) }
    }
    // Nodes whose value is a concatenation block's buffer (``ConcatenationBlock``): their own
    // value is its first channels.
    var inPlace = Set<Int>()
    func value(_ node: Int) -> Tensor {
      guard inPlace.contains(node), let (block, position) = plan?.blocks[node] else {
        return values[node]!
      }
      return block.value(at: position, of: values[node]!)
    }
    func runNode(_ i: Int) throws {
      let node = nodes[i]
      let arguments = inputNodes[i].map(value)
      var nodeContext = context
      if context.isTraining {
        let gradientArrives = inputNodes[i].contains { backwardNodes[$0] }
        backwardNodes[i] =
          gradientArrives || node.layer.parameters.contains(where: \.isTrainable)
        nodeContext = backwardNodes[i] ? context : inference
        nodeContext.needsInputGradient = gradientArrives
      }
      do {
        (values[i], masks[i]) = try call(
          node, arguments, masks: inputNodes[i].map { masks[$0] }, context: nodeContext)
      } catch let StrataError.shapeMismatch(layer, received, expected) {
        throw StrataError.shapeMismatch(
          layer: Ops.place(layer, label: label(i)), received: received, expected: expected)
      }
      if let penalty = activityPenalty(of: node.layer, values[i]!) {
        activityPenalty += penalty
        if nodeContext.isTraining { activityOutputs[i] = values[i]! }
      }
      activityPenalty += addedLoss(of: node.layer)
      if nodeContext.isTraining, callCounts[nodeLayer[i].layer] > 1,
        let stateful = node.layer as? any PerCallState
      {
        callStates[i] = stateful.saveCallState()
      }
    }
    for (i, node) in nodes.enumerated() {
      if node.inputs.isEmpty {
        if context.isTraining { backwardNodes[i] = context.needsInputGradient }
        let value = inputValues[i]
        let expected = node.outputShape
        guard value.rank == expected.count + 1, Array(value.shape.dropFirst()) == expected,
          value.shape[0] == inputValues[0].shape[0]
        else {
          throw StrataError.shapeMismatch(
            layer: label(i), received: kerasShape(value.shape, batch: false),
            expected: kerasShape(expected) + " with the batch size of the other inputs")
        }
        values[i] = value
        continue
      }
      if let plan, plan.skipped[i] { continue }
      if let chain = plan?.fused[i] {
        if masks[chain.source] == nil, chain.residual.map({ masks[$0] == nil }) ?? true,
          runsFused(chain)
        {
          // A residual is never a concatenation block's buffer: the plan lets only normalizations
          // and the next concatenation read one.
          var residual = chain.residual.flatMap { values[$0] }
          // The residual's buffer becomes the output when this chain is its last reader.
          if !context.isTraining, let r = chain.residual, r != chain.source, readers[r] == i {
            values[r] = nil
          }
          do {
            if inPlace.contains(chain.source), let normalization = chain as? FusedNormalization {
              values[i] = try normalization.run(
                firstChannelsOf: values[chain.source]!, inPlace: true)
            } else {
              values[i] = try chain.run(value(chain.source), residual: &residual, in: context)
            }
          } catch let StrataError.shapeMismatch(layer, received, expected) {
            throw StrataError.shapeMismatch(
              layer: Ops.place(layer, label: label(chain.nodes[0])), received: received,
              expected: expected)
          }
        } else {
          // Masks arrive, or a layer is trained: the chain's layers run one by one, as the graph
          // says.
          for n in chain.nodes { try runNode(n) }
          if !context.isTraining {
            for n in chain.nodes.dropLast() { (values[n], masks[n]) = (nil, nil) }
          }
        }
        if !context.isTraining {
          for source in [chain.source] + (chain.residual.map { [$0] } ?? [])
          where readers[source] == i {
            values[source] = nil
          }
        }
        continue
      }
      if let plan, let (block, position) = plan.blocks[i], !context.isTraining,
        !context.behavesAsTraining, inputNodes[i].allSatisfy({ masks[$0] == nil }),
        position == 0 || inPlace.contains(inputNodes[i][0])
      {
        let first = inputNodes[i][0]
        values[i] = block.run(
          position: position,
          inputs: [position == 0 ? value(first) : values[first]!]
            + inputNodes[i].dropFirst().map(value))
        inPlace.insert(i)
        for source in inputNodes[i] where readers[source] == i { values[source] = nil }
        continue
      }
      try runNode(i)
      if !context.isTraining {
        // In inference nothing is kept for a backward pass: a value goes once its last reader ran.
        for source in inputNodes[i] where readers[source] == i { values[source] = nil }
      }
    }
    let outputs = outputNodes.map { values[$0]! }
    if context.isTraining {
      // Kept for the backward pass: the inputs of the nodes it visits. The rest goes now, so each
      // layer reuses its buffers next step.
      var needed = [Bool](repeating: false, count: nodes.count)
      for i in nodes.indices where backwardNodes[i] {
        for source in inputNodes[i] { needed[source] = true }
      }
      for i in nodes.indices where !needed[i] { values[i] = nil }
      lastValues = values
    }
    return outputs
  }

  fileprivate func call(_ node: Node, _ arguments: [Tensor], context: Context) throws -> Tensor {
    try call(node, arguments, masks: arguments.map { _ in nil }, context: context).0
  }

  /// A node's output and its mask (Keras' masks: a merge layer keeps the steps all its inputs
  /// keep; a single-input layer as ``StrataCore/Layer/forward(_:mask:in:)`` says).
  fileprivate func call(_ node: Node, _ arguments: [Tensor], masks: [Tensor?], context: Context)
    throws -> (Tensor, Tensor?)
  {
    if node.takesList {
      guard let merge = node.layer as? any MergeLayer else {
        throw StrataError.invalidState("\(node.layer.identifier) was applied to a list of tensors")
      }
      return try merge.forward(arguments, masks: masks, in: context)
    }
    return try node.layer.forward(arguments[0], mask: masks[0], in: context)
  }

  /// Given `d(loss)/d(output)` for each output of the last training ``run(_:context:)``, writes
  /// every parameter's gradient: the sum over a shared layer's calls. Where `fused[k]` is true the
  /// gradient of output `k` is already the one of its softmax head's logits. Returns `d(loss)/d(input)`
  /// for each input when `inputGradients` (a model used as a layer), else nothing.
  @discardableResult
  func runGraphBackward(
    _ outputGradients: [Tensor], fused: [Bool] = [], inputGradients: Bool = false,
    context: Context
  ) throws -> [Tensor] {
    guard lastValues.count == nodes.count else { throw missingForward(name) }
    var gradients = [Tensor?](repeating: nil, count: nodes.count)
    func add(_ gradient: Tensor, to node: Int) {
      if let existing = gradients[node] {
        var sum = existing
        sum.withUnsafeMutableBufferPointer { s in
          gradient.withUnsafeBufferPointer { simdZip(UnsafeBufferPointer(s), $0, into: s, +) }
        }
        gradients[node] = sum
      } else {
        gradients[node] = gradient
      }
    }
    var fusedNodes: Set<Int> = []
    for (k, (node, gradient)) in zip(outputNodes, outputGradients).enumerated() {
      if k < fused.count && fused[k] { fusedNodes.insert(node) }
      add(gradient, to: node)
    }
    // The call whose state each layer holds now: its last one in the forward pass.
    var current: [Int: Int] = [:]
    for (i, entry) in nodeLayer.enumerated() { current[entry.layer] = i }
    var sums: [Int: [Tensor]] = [:]
    for i in nodes.indices.reversed() {
      let node = nodes[i]
      guard !node.inputs.isEmpty, var dy = gradients[i] else { continue }
      // Nothing trainable at or before this node: its backward pass has nothing to give.
      if backwardNodes.count == nodes.count, !backwardNodes[i] { continue }
      if let output = activityOutputs[i] { addActivityGradient(of: node.layer, output, to: &dy) }
      let layerIndex = nodeLayer[i].layer
      let shared = callCounts[layerIndex] > 1
      let arguments = inputNodes[i].map { lastValues[$0]! }
      var inner = context
      inner.needsInputGradient =
        backwardNodes.count == nodes.count
        ? inputNodes[i].contains { backwardNodes[$0] }
        : inputGradients || node.inputs.contains { !$0.node.inputs.isEmpty }
      if current[layerIndex] != i {
        try replay(node, arguments, at: i, context: inner)
        current[layerIndex] = i
      }
      let dxs: [Tensor]
      if node.takesList, let merge = node.layer as? any MergeLayer {
        dxs = try merge.backward(dy, in: inner)
      } else if fusedNodes.contains(i), let head = node.layer as? any SoftmaxHead {
        dxs = [try head.backward(logitsGradient: dy, in: inner)]
      } else {
        dxs = [try node.layer.backward(dy, in: inner)]
      }
      if shared {
        let parameters = node.layer.parameters
        if let previous = sums[layerIndex] {
          sums[layerIndex] = zip(previous, parameters).map { sum, p in
            var total = sum
            total.withUnsafeMutableBufferPointer { t in
              p.gradient.withUnsafeBufferPointer { simdZip(UnsafeBufferPointer(t), $0, into: t, +) }
            }
            return total
          }
        } else {
          sums[layerIndex] = parameters.map(\.gradient)
        }
      }
      for (source, dx) in zip(inputNodes[i], dxs)
      where (inputGradients || !nodes[source].inputs.isEmpty)
        && (backwardNodes.count != nodes.count || backwardNodes[source])
      {
        add(dx, to: source)
      }
    }
    for (layerIndex, sum) in sums {
      for (parameter, gradient) in zip(layers[layerIndex].parameters, sum) {
        parameter.gradient = gradient
      }
    }
    guard inputGradients else { return [] }
    return (0..<inputNodeCount).map { i in
      gradients[i] ?? Tensor(shape: [outputGradients[0].shape[0]] + nodes[i].outputShape)
    }
  }

  /// Gives a shared layer the state of an earlier call for its `backward`: put back when the layer keeps
  /// per-call state, else recomputed by running that call again.
  fileprivate func replay(_ node: Node, _ arguments: [Tensor], at index: Int, context: Context)
    throws
  {
    if let stateful = node.layer as? any PerCallState, let state = callStates[index] {
      try stateful.restoreCallState(state)
      return
    }
    if node.layer is any RandomizedLayer
      || node.layer.parameters.contains(where: { !$0.isTrainable })
    {
      throw StrataError.invalidArgument(
        owner: label(index), argument: "shared calls",
        value: "\(callCounts[nodeLayer[index].layer])",
        expected:
          "one call in training: a layer with random or running state must keep its state per call (PerCallState)"
      )
    }
    _ = try call(node, arguments, context: context)
  }
}
