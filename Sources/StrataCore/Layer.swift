import Synchronization
/// Where a layer runs: the kernels backend and whether this is a training step.
public struct Context: Sendable {
  /// The backend for GEMM, convolution and the other heavy operations.
  public var kernels: any Kernels
  /// `true` in `fit`: dropout drops, batch normalization uses batch statistics, layers keep what
  /// `backward` needs. `false` in `predict` and `evaluate`.
  public var isTraining: Bool
  /// Keras' `training` argument: whether layers behave as in training (dropout drops, batch
  /// normalization uses and updates batch statistics, augmentation draws). The same as
  /// ``isTraining`` unless set apart: gradients in inference mode keep what `backward` needs
  /// (`isTraining`) while every layer behaves as in `predict`.
  public var behavesAsTraining: Bool
  /// `false` when nobody needs `d(loss)/d(input)` (the first layer of a model): a layer may then skip
  /// computing it in `backward` and return an empty tensor.
  public var needsInputGradient: Bool
  /// In a distributed training step: the rows of the whole global batch and the first of this
  /// process's rows in it. A random layer draws for every global row and keeps its own, so that its
  /// masks are those one process would draw (``RandomizedLayer``). `nil` otherwise.
  public var globalBatch: (rows: Int, offset: Int)?

  /// A context on `kernels`, in inference mode unless `isTraining`.
  public init(
    kernels: any Kernels = ReferenceKernels(), isTraining: Bool = false,
    needsInputGradient: Bool = true
  ) {
    self.kernels = kernels
    self.isTraining = isTraining
    self.behavesAsTraining = isTraining
    self.needsInputGradient = needsInputGradient
  }
}

extension Context {
  /// How many random draws of `perRow` each come before and after this process's `rows` in the
  /// global batch of a distributed step (none otherwise): a random layer skips them, so that its
  /// rows get the numbers one process would draw for them.
  public func otherRowsDraws(rows: Int, perRow: Int) -> (before: Int, after: Int) {
    guard let global = globalBatch else { return (0, 0) }
    return (global.offset * perRow, max(global.rows - global.offset - rows, 0) * perRow)
  }
}

/// A layer of a network: a config, parameters, and a forward and backward pass.
///
/// Config is kept apart from state, as in Keras: `init(config:)` plus `config` are all of serialization,
/// and the registry makes a layer from an identifier and a config dictionary. Layers are classes
/// because they own parameters and cache what `backward` needs between the two passes.
///
/// Shapes passed to ``build(inputShape:generator:)`` leave out the batch axis (Keras' `None`);
/// tensors passed to ``forward(_:in:)`` have it first.
public protocol Layer: AnyObject, Registrable where Product == any Layer {
  /// Every weight, trainable ones first in Keras order (`kernel`, then `bias`). Empty before `build`.
  var parameters: [Parameter] { get }
  /// The input shape given on the layer (Keras' `input_shape=`), without the batch axis.
  var declaredInputShape: [Int]? { get }
  /// Creates the weights for `inputShape` and returns the output shape, both without the batch axis.
  /// - Throws: ``StrataError/shapeMismatch(layer:received:expected:)`` for a shape the layer cannot take.
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int]
  /// Computes the output for a batch.
  func forward(_ input: Tensor, in context: Context) throws -> Tensor
  /// Given `d(loss)/d(output)` for the last `forward` in training mode, writes every parameter's
  /// `gradient` and returns `d(loss)/d(input)`.
  func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor
}

extension Layer {
  public var parameters: [Parameter] { [] }
  public var declaredInputShape: [Int]? { nil }

  /// The identifier the layer is registered under (Keras' `class_name`).
  public var identifier: String { Self.identifier }

  /// The number of scalars in the parameters.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}

/// The layers frozen with `trainable = false`, by identity: every layer, a plugin's too, has
/// ``Layer/trainable`` without storing it.
enum FrozenLayers {
  final class Entry: @unchecked Sendable {
    weak var layer: AnyObject?
    init(_ layer: AnyObject) { self.layer = layer }
  }
  static let entries = Mutex<[ObjectIdentifier: Entry]>([:])

  static func isFrozen(_ layer: AnyObject) -> Bool {
    entries.withLock { $0[ObjectIdentifier(layer)]?.layer === layer }
  }

  static func set(_ layer: AnyObject, frozen: Bool) {
    entries.withLock { entries in
      entries = entries.filter { $0.value.layer != nil }
      entries[ObjectIdentifier(layer)] = frozen ? Entry(layer) : nil
    }
  }
}

extension Layer {
  /// Keras' `trainable`: a frozen layer (`false`) keeps its weights through training, counts them as
  /// non-trainable, and saves the flag in its config; a frozen `BatchNormalization` also normalizes with
  /// its moving statistics in training, as in Keras 3. Set it before or after the layer is built.
  public var trainable: Bool {
    get { !FrozenLayers.isFrozen(self) }
    set {
      FrozenLayers.set(self, frozen: !newValue)
      applyTrainable()
    }
  }

  /// Marks the layer's weights trainable or not as ``trainable`` says (models call it after `build`).
  public func applyTrainable() { applyTrainable(within: true) }

  /// Marks the weights trainable when this layer and every layer around it are: a weight of a layer
  /// inside a nested model stays frozen when that layer is, whatever the model's own flag.
  func applyTrainable(within outer: Bool) {
    let on = outer && trainable
    if let container = self as? any LayerContainer {
      for layer in container.sublayers { layer.applyTrainable(within: on) }
    } else {
      for parameter in parameters { parameter.isTrainable = on && parameter.isTrainableByNature }
    }
  }
}

/// A layer made of layers (a model used as a layer): ``Layer/trainable`` applies to its layers'
/// weights through their own flags.
public protocol LayerContainer: Layer {
  /// The layers inside, whose ``Layer/parameters`` make up this layer's.
  var sublayers: [any Layer] { get }
}

/// A layer that draws random numbers while training (dropout): its generator state is saved with a
/// model so that a resumed run draws the same numbers as an uninterrupted one.
///
/// In a distributed step (``Context/globalBatch`` set) such a layer draws its random numbers for
/// every row of the global batch, in order, and uses those of its own rows, so N processes draw what
/// one would.
public protocol RandomizedLayer: Layer {
  var generatorState: [UInt64] { get set }
}

/// A layer whose state between `forward` and `backward` cannot be recomputed from its input (a dropout
/// mask, batch statistics). It hands that state out after each call and takes it back before the
/// matching `backward`, so a functional model can apply it several times in one training step. (Other
/// layers applied more than once are simply run again on the call's input before its `backward`.)
public protocol PerCallState: Layer {
  /// What the last `forward` kept for `backward`.
  func saveCallState() -> Any
  /// Puts back what ``saveCallState()`` returned.
  func restoreCallState(_ state: Any) throws
}

/// An error for a layer that got `backward` without a training `forward` before it.
public func missingForward(_ layer: String) -> StrataError {
  .invalidState("\(layer): backward was called without a forward pass in training mode before it.")
}

/// Checks that a batch has the shape a layer was built for (everything but the batch axis).
public func checkInput(
  _ input: Tensor, layer: String, expected: [Int]
) throws {
  guard input.rank == expected.count + 1, Array(input.shape.dropFirst()) == expected else {
    throw StrataError.shapeMismatch(
      layer: layer, received: kerasShape(input.shape, batch: false), expected: kerasShape(expected))
  }
}

/// The base of a layer whose output has its input's shape (an activation, a rescaling, dropout, …):
/// `build` keeps the input shape and returns it, and ``checkInput(_:layer:)`` checks each batch
/// against it. A subclass declares its `Layer` conformance and writes `forward` and `backward`.
open class ShapePreservingLayer {
  /// The input shape without the batch axis; empty until built.
  public private(set) var inputShape: [Int] = []

  /// A layer not yet built.
  public init() {}

  /// Keeps `inputShape`, which is also the output's. An override calls `super` for the shape.
  open func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    self.inputShape = inputShape
    return inputShape
  }

  /// Throws ``StrataError/shapeMismatch(layer:received:expected:)`` naming `layer` unless `x` is a
  /// batch of the built shape.
  public func checkInput(_ x: Tensor, layer: String) throws {
    try StrataCore.checkInput(x, layer: layer, expected: inputShape)
  }
}

extension Registries {
  /// Makes the activation a spec names (`"relu"`, or a name and config).
  public func activation(_ spec: Spec) throws -> any Activation {
    try activations.make(spec.identifier, config: spec.config)
  }

  /// Makes the initializer a spec names (`"glorot_uniform"`, or a name and config).
  public func initializer(_ spec: Spec) throws -> any Initializer {
    try initializers.make(spec.identifier, config: spec.config)
  }
}
