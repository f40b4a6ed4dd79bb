import Foundation
import Synchronization

/// A layer with several inputs: Keras' merge layers (`Add`, `Concatenate`) and any plugin layer that
/// combines tensors. It is applied to a list of symbolic tensors in a functional model.
public protocol MergeLayer: Layer {
  /// Creates the weights for inputs of `inputShapes` and returns the output shape, all without the
  /// batch axis.
  func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int]
  /// Computes the output for a batch of each input.
  func forward(_ inputs: [Tensor], in context: Context) throws -> Tensor
  /// Given `d(loss)/d(output)` for the last `forward`, returns `d(loss)/d(input)` for each input.
  func backward(_ outputGradient: Tensor, in context: Context) throws -> [Tensor]
}

extension MergeLayer {
  private func needsList() -> StrataError {
    .invalidArgument(
      owner: Self.identifier, argument: "inputs", value: "a single tensor",
      expected: "a list of tensors (a merge layer takes several inputs)")
  }
  /// A merge layer takes a list of inputs: a single one is an error.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    throw needsList()
  }
  /// A merge layer takes a list of inputs: a single one is an error.
  public func forward(_ input: Tensor, in context: Context) throws -> Tensor { throw needsList() }
  /// A merge layer takes a list of inputs: a single one is an error.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    throw needsList()
  }
}

/// The result of applying a layer to symbolic tensors: a shape (without the batch axis) and the call
/// that produces it. Keras' `KerasTensor`.
///
/// ```swift
/// let inputs = try Input(shape: [28, 28, 1])
/// let x = try Conv2D(32, 3, activation: "relu")(inputs)
/// ```
public final class SymbolicTensor: Sendable, CustomStringConvertible {
  /// The shape without the batch axis.
  public let shape: [Int]
  /// The call that produces this tensor.
  public let node: Node

  package init(shape: [Int], node: Node) {
    self.shape = shape
    self.node = node
  }

  /// `<SymbolicTensor shape=(None, 28, 28, 1), name=input_layer>`.
  public var description: String {
    "<SymbolicTensor shape=\(kerasShape(shape)), from \(node.layer.identifier)>"
  }
}

/// One application of a layer to symbolic inputs (Keras' node): an edge of a functional model's graph.
public final class Node: @unchecked Sendable {
  /// The layer applied; `nil` for a model input.
  public let layer: any Layer
  /// The tensors it was applied to: empty for a model input.
  public let inputs: [SymbolicTensor]
  /// Whether the inputs were given as a list (a merge layer), not as one tensor.
  public let takesList: Bool
  /// The name the layer was given in the call (`Input(shape:name:)`, or from a Keras config).
  public let name: String?
  /// The shape of the call's output, without the batch axis.
  public let outputShape: [Int]

  package init(
    layer: any Layer, inputs: [SymbolicTensor], takesList: Bool, name: String?, outputShape: [Int]
  ) {
    self.layer = layer
    self.inputs = inputs
    self.takesList = takesList
    self.name = name
    self.outputShape = outputShape
  }
}

/// What Strata remembers of each layer applied symbolically: the shapes it was built for, so that a
/// shared layer is built once and every later call is checked against the first.
enum SymbolicCalls {
  final class Record: @unchecked Sendable {
    weak var layer: AnyObject?
    let inputShapes: [[Int]]
    let outputShape: [Int]
    init(layer: AnyObject, inputShapes: [[Int]], outputShape: [Int]) {
      self.layer = layer
      self.inputShapes = inputShapes
      self.outputShape = outputShape
    }
  }
  static let records = Mutex<[ObjectIdentifier: Record]>([:])
  static let generator = Mutex(SeededGenerator(seed: UInt64.random(in: 0...UInt64.max)))
  /// Set by a model built from a config, so its weights follow its seed.
  @TaskLocal static var seededGenerator: GeneratorBox?

  final class GeneratorBox: @unchecked Sendable {
    var generator: SeededGenerator
    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }
  }

  /// Builds `layer` for `shapes` at its first call; checks later calls against the first.
  static func outputShape(of layer: any Layer, for shapes: [[Int]], takesList: Bool) throws -> [Int]
  {
    let id = ObjectIdentifier(layer)
    if let record = records.withLock({ $0[id] }), record.layer === layer {
      guard record.inputShapes == shapes else {
        throw StrataError.shapeMismatch(
          layer: "\(layer.identifier) (shared)",
          received: shapes.map { kerasShape($0) }.joined(separator: ", "),
          expected: record.inputShapes.map { kerasShape($0) }.joined(separator: ", ")
            + " (the shape of its first call)")
      }
      return record.outputShape
    }
    func build(_ generator: inout SeededGenerator) throws -> [Int] {
      if takesList, let merge = layer as? any MergeLayer {
        return try merge.build(inputShapes: shapes, generator: &generator)
      }
      return try layer.build(inputShape: shapes[0], generator: &generator)
    }
    let output: [Int]
    if let box = seededGenerator {
      output = try build(&box.generator)
    } else {
      var local = generator.withLock { g in SeededGenerator(seed: g.next()) }
      output = try build(&local)
    }
    layer.applyTrainable()
    records.withLock { records in
      // Forget records of layers that no longer exist, so a reused identifier starts afresh.
      records = records.filter { $0.value.layer != nil }
      records[id] = Record(layer: layer, inputShapes: shapes, outputShape: output)
    }
    return output
  }
}

/// Runs `body` with layers applied to symbolic tensors drawing their initial weights from a generator
/// seeded with `seed` (how a model built from a config follows its seed).
public func withSeededBuilds<T>(seed: UInt64, _ body: () throws -> T) throws -> T {
  try SymbolicCalls.$seededGenerator.withValue(SymbolicCalls.GeneratorBox(seed: seed)) {
    try body()
  }
}

/// Seeds the generator that layers applied to symbolic tensors draw their initial weights from, as
/// Keras' `keras.utils.set_random_seed` does: the same seed and the same calls give the same weights.
public func setRandomSeed(_ seed: UInt64) {
  SymbolicCalls.generator.withLock { $0 = SeededGenerator(seed: seed) }
}

/// A model input, a layer's symbolic output, or anything else a layer can be applied to.
public protocol SymbolicInput {
  /// The symbolic tensor it stands for.
  var symbolicTensor: SymbolicTensor { get throws }
}

extension SymbolicTensor: SymbolicInput {
  /// Itself.
  public var symbolicTensor: SymbolicTensor { self }
}

extension Layer {
  /// Applies the layer to a symbolic tensor (Keras' functional API), building it for that shape at
  /// its first call: `let x = try Dense(64, activation: "relu")(inputs)`.
  /// - Throws: ``StrataError/shapeMismatch(layer:received:expected:)`` naming the layer when it
  ///   cannot take the shape.
  public func callAsFunction(_ input: some SymbolicInput) throws -> SymbolicTensor {
    try apply(to: [input.symbolicTensor], takesList: false, name: nil)
  }

  /// Applies a merge layer to several symbolic tensors: `try Add()([x, y])`.
  public func callAsFunction(_ inputs: [any SymbolicInput]) throws -> SymbolicTensor {
    try checkArgument(
      self is any MergeLayer,
      owner: Self.identifier, argument: "inputs", value: "a list of \(inputs.count) tensors",
      expected: "one tensor (only merge layers take a list)")
    return try apply(to: inputs.map { try $0.symbolicTensor }, takesList: true, name: nil)
  }

  /// Applies the layer to `inputs` and records the call.
  public func apply(to inputs: [SymbolicTensor], takesList: Bool, name: String?) throws
    -> SymbolicTensor
  {
    let shape = try SymbolicCalls.outputShape(
      of: self, for: inputs.map(\.shape), takesList: takesList)
    let node = Node(
      layer: self, inputs: inputs, takesList: takesList, name: name, outputShape: shape)
    let packed = SymbolicTensor(shape: shape, node: node)
    // A layer of several outputs gives its first; `outputs(of:)` gives the others.
    if let multiple = self as? any MultiOutputLayer, let shapes = multiple.outputShapes {
      return try OutputSelector(index: 0, shapes: shapes).apply(
        to: [packed], takesList: false, name: nil)
    }
    return packed
  }
}

/// Makes the symbolic tensor of a model input.
public func symbolicInput(of layer: any Layer, shape: [Int], name: String?) -> SymbolicTensor {
  SymbolicTensor(
    shape: shape,
    node: Node(layer: layer, inputs: [], takesList: false, name: name, outputShape: shape))
}
