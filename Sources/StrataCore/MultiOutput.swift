/// A layer whose Keras call can give several tensors: `LSTM(return_state=True)` gives its output
/// and its final states. Such a layer's `forward` gives them packed, each flattened per sample and
/// laid side by side (`(batch, Σ sizes)`); applied to symbolic tensors, it gives its first output,
/// and ``Layer/outputs(of:)`` all of them, each an ``OutputSelector`` node that unpacks one.
public protocol MultiOutputLayer: Layer {
  /// The shapes (without the batch axis) of the outputs, in Keras' order, once built; `nil` when
  /// the layer gives one output (an LSTM without `return_state`).
  var outputShapes: [[Int]]? { get }
}

/// Unpacks output `index` of a ``MultiOutputLayer``'s packed output: a node of the graph that
/// files never show (Keras refers to the layer's output `index` instead).
public final class OutputSelector: OpsLayer, MaskingLayer {
  /// The registry key (never written to a file).
  public static let identifier = "OutputSelector"
  /// Which output.
  public let index: Int
  /// Every output's shape, without the batch axis.
  public let shapes: [[Int]]

  /// Output `index` of outputs of `shapes`.
  public init(index: Int, shapes: [[Int]]) {
    (self.index, self.shapes) = (index, shapes)
  }

  /// Not made from configs.
  public convenience init(config: NoConfig) throws {
    throw StrataError.invalidState("OutputSelector is made by multi-output layers only.")
  }

  private var offset: Int { shapes[..<index].reduce(0) { $0 + $1.reduce(1, *) } }
  private var size: Int { shapes[index].reduce(1, *) }

  /// Takes the packed outputs; gives output `index`'s shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let total = shapes.reduce(0) { $0 + $1.reduce(1, *) }
    guard inputShape == [total] else {
      throw StrataError.shapeMismatch(
        layer: Self.identifier, received: kerasShape(inputShape), expected: kerasShape([total]))
    }
    return shapes[index]
  }

  /// Output `index`, unpacked.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    let batch = x.shape[0]
    return try Ops.reshape(
      Ops.slice(x, start: [0, offset], shape: [batch, size]), [batch] + shapes[index])
  }

  /// The first output keeps the input's mask (a recurrent layer's sequences), the states none.
  public func outputMask(for x: Tensor, inputMask: Tensor?) throws -> Tensor? {
    index == 0 ? inputMask : nil
  }
}

extension Layer {
  /// Every output of the layer applied to `input` (Keras' `output, h, c = LSTM(…,
  /// return_state=True)(x)`): one tensor for a layer of one output.
  public func outputs(of input: some SymbolicInput) throws -> [SymbolicTensor] {
    try callAsFunction(input).outputsOfItsCall()
  }
}

extension SymbolicTensor {
  /// Every output of the call that gave this tensor, its first output: itself alone for a layer
  /// of one output.
  public func outputsOfItsCall() throws -> [SymbolicTensor] {
    guard let selector = node.layer as? OutputSelector, node.inputs.count == 1 else {
      return [self]
    }
    let packed = node.inputs[0]
    return try selector.shapes.indices.map { index in
      index == 0
        ? self
        : try OutputSelector(index: index, shapes: selector.shapes).apply(
          to: [packed], takesList: false, name: nil)
    }
  }
}
