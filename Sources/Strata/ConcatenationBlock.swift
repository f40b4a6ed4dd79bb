import CStrataKernels
import StrataCore
import StrataLayers

/// Concatenations along the last axis, each taking the one before it as its first input: DenseNet's
/// dense blocks, `x = Concatenate()([x, y])` again and again. In inference they all write into one
/// buffer, the last one's shape, and each earlier one's value is the first channels of that buffer,
/// which the batch normalizations reading it read in place. Every input is copied once, where
/// concatenating one by one copies the growing value again at each step (quadratic in the block's
/// length) and holds two of them at a time.
final class ConcatenationBlock {
  /// The concatenations, in order.
  let nodes: [Int]
  /// The channels (last axis) of each one's value.
  let widths: [Int]
  /// The last one's value's shape, without the batch axis.
  let shape: [Int]

  init(nodes: [Int], widths: [Int], shape: [Int]) {
    (self.nodes, self.widths, self.shape) = (nodes, widths, shape)
  }

  /// The blocks of `graph`, each of at least two concatenations, by node (with its position in its
  /// block). A concatenation continues a block only when every other reader of the one before it
  /// is a fused batch normalization (of `normalizations`, by its node) that reads it in place, and
  /// the one before is no model output.
  static func find(
    in graph: InferenceGraph, readers: [[Int]], normalizations: [Int: FusedNormalization],
    excluding claimed: Set<Int>
  ) -> [Int: (block: ConcatenationBlock, position: Int)] {
    let inputNodes = graph.inputNodes
    let isOutput = Set(graph.outputNodes)
    func joinsChannels(_ node: Int) -> Bool {
      let rank = graph.outputShapes[node].count
      guard let concatenate = graph.layers[node] as? Concatenate, inputNodes[node].count >= 2,
        !claimed.contains(node), rank >= 1
      else { return false }
      let axis = concatenate.config.axis
      return (axis == -1 || axis == rank)
        && inputNodes[node].allSatisfy { graph.outputShapes[$0].count == rank }
    }
    func continuation(of node: Int) -> Int? {
      guard !isOutput.contains(node) else { return nil }
      var next: Int?
      for reader in readers[node] {
        if joinsChannels(reader), inputNodes[reader][0] == node,
          !inputNodes[reader].dropFirst().contains(node)
        {
          guard next == nil || next == reader else { return nil }
          next = reader
        } else if normalizations[reader]?.source != node {
          return nil
        }
      }
      return next
    }
    var blocks: [Int: (block: ConcatenationBlock, position: Int)] = [:]
    for node in inputNodes.indices where blocks[node] == nil && joinsChannels(node) {
      var members = [node]
      while let next = continuation(of: members[members.count - 1]) { members.append(next) }
      guard members.count >= 2 else { continue }
      let block = ConcatenationBlock(
        nodes: members, widths: members.map { graph.outputShapes[$0].last ?? 0 },
        shape: graph.outputShapes[members[members.count - 1]])
      for (position, member) in members.enumerated() { blocks[member] = (block, position) }
    }
    return blocks
  }

  /// Runs the block's concatenation at `position`: the first allocates the block's buffer and
  /// copies all its inputs in; a later one copies its inputs after the first (the block's value so
  /// far, whose buffer it shares). Returns the buffer; its first `widths[position]` channels are the
  /// concatenation's value.
  func run(position: Int, inputs: [Tensor]) -> Tensor {
    let batch = inputs[0].shape[0]
    let total = shape[shape.count - 1]
    let buffer = position == 0 ? Tensor(uninitializedPooledShape: [batch] + shape) : inputs[0]
    var offset = position == 0 ? 0 : widths[position - 1]
    buffer.withUnsafeSharedMutableBufferPointer { out in
      for input in position == 0 ? inputs[...] : inputs.dropFirst() {
        let run = input.shape[input.rank - 1]
        let rows = input.count / max(run, 1)
        input.withUnsafeBufferPointer { x in
          for row in 0..<rows {
            (out.baseAddress! + row * total + offset).update(
              from: x.baseAddress! + row * run, count: run)
          }
        }
        offset += run
      }
    }
    return buffer
  }

  /// The value of the concatenation at `position` as a tensor of its own: its channels of the
  /// block's `buffer`, copied (for a reader that cannot read them in place).
  func value(at position: Int, of buffer: Tensor) -> Tensor {
    let width = widths[position], total = shape[shape.count - 1]
    guard width < total else { return buffer }
    var value = Tensor(uninitializedPooledShape: Array(buffer.shape.dropLast()) + [width])
    let rows = buffer.count / max(total, 1)
    buffer.withUnsafeBufferPointer { x in
      value.withUnsafeMutableBufferPointer { y in
        for row in 0..<rows {
          (y.baseAddress! + row * width).update(from: x.baseAddress! + row * total, count: width)
        }
      }
    }
    return value
  }
}
