import Synchronization

/// A layer written forward-only: its ``call(_:training:)`` computes the output with ``Ops`` and the
/// backward pass comes from a ``GradientTape`` (Keras' `Layer.call`).
///
/// ```swift
/// public final class LeakyReLU: ShapePreservingLayer, OpsLayer {
///   public func call(_ x: Tensor, training: Bool) throws -> Tensor {
///     try Ops.where(x .> 0, x, x * config.negativeSlope)
///   }
/// }
/// ```
///
/// `forward` and `backward` are provided: in training, `forward` records `call` on a tape of its own
/// (watching the input and the trainable ``Layer/parameters``) and `backward` runs it back, writing
/// each weight's `gradient`. In inference nothing is recorded. A layer applied several times in one
/// step keeps each call's tape (``PerCallState``), so shared layers, functional and `Sequential`
/// models, distributed training and saving work as for any layer.
public protocol OpsLayer: PerCallState {
  /// The output for a batch `x`, written with ``Ops`` on `x` and the layer's parameters' `value`s.
  /// `training` is Keras' `training` argument (dropout drops when it is `true`).
  func call(_ x: Tensor, training: Bool) throws -> Tensor
}

/// What a forward-only layer's training `forward` kept for its `backward`.
final class OpsCall: @unchecked Sendable {
  let tape: GradientTape
  let inputs: [Tensor]
  let output: Tensor
  let parameters: [Parameter]
  /// The terms `call` added with `addLoss`, recorded on the tape.
  let losses: [Tensor]

  init(
    tape: GradientTape, inputs: [Tensor], output: Tensor, parameters: [Parameter],
    losses: [Tensor]
  ) {
    (self.tape, self.inputs, self.output, self.parameters) = (tape, inputs, output, parameters)
    self.losses = losses
  }
}

/// The last training call of each forward-only layer, by identity (layers are the protocol's
/// conformers, which cannot be asked to store it).
enum OpsCalls {
  final class Entry: @unchecked Sendable {
    weak var layer: AnyObject?
    var call: OpsCall?
    var addedLoss: Float = 0
    init(_ layer: AnyObject) { self.layer = layer }
  }
  static let entries = Mutex<[ObjectIdentifier: Entry]>([:])

  /// Keeps `call` for the layer's backward; `addedLoss`, when given, is the sum of the terms its
  /// last call added.
  static func set(_ layer: AnyObject, _ call: OpsCall?, addedLoss: Float? = nil) {
    entries.withLock { entries in
      let key = ObjectIdentifier(layer)
      let entry: Entry
      if let existing = entries[key], existing.layer === layer {
        entry = existing
      } else {
        guard call != nil || (addedLoss ?? 0) != 0 else { return }
        entries = entries.filter { $0.value.layer != nil }
        entry = Entry(layer)
        entries[key] = entry
      }
      entry.call = call
      if let addedLoss { entry.addedLoss = addedLoss }
    }
  }

  static func get(_ layer: AnyObject) -> OpsCall? {
    entries.withLock { entries in
      guard let entry = entries[ObjectIdentifier(layer)], entry.layer === layer else { return nil }
      return entry.call
    }
  }

  static func addedLoss(_ layer: AnyObject) -> Float {
    entries.withLock { entries in
      guard let entry = entries[ObjectIdentifier(layer)], entry.layer === layer else { return 0 }
      return entry.addedLoss
    }
  }
}

extension OpsCalls {
  /// Runs `body` on `inputs` for `layer`; in training, on a tape kept for ``backward(of:_:)``.
  static func forward(
    of layer: some Layer, _ inputs: [Tensor], in context: Context,
    _ body: ([Tensor], Bool) throws -> Tensor
  ) throws -> Tensor {
    let name = "layer \(type(of: layer).identifier)"
    let state = OpsState.current
    let outer = state.addedLosses
    state.addedLosses = []
    defer { state.addedLosses = outer }
    guard context.isTraining else {
      let output = try Ops.running(kernels: context.kernels, layer: name) {
        try body(inputs, context.behavesAsTraining)
      }
      set(layer, nil, addedLoss: try total(state.addedLosses ?? []))
      return output
    }
    let tape = GradientTape()
    let watched = context.needsInputGradient ? inputs.map { tape.watch($0) } : inputs
    let trainable = layer.parameters.filter(\.isTrainable)
    let output = try tape.record(watching: trainable, kernels: context.kernels, layer: name) {
      try body(watched, context.behavesAsTraining)
    }
    let losses = state.addedLosses ?? []
    set(
      layer,
      OpsCall(tape: tape, inputs: watched, output: output, parameters: trainable, losses: losses),
      addedLoss: try total(losses))
    return Ops.stopGradient(output)
  }

  /// Runs the tape of `layer`'s last training forward back from `outputGradient`: writes each
  /// trainable weight's `gradient` and returns each input's.
  static func backward(of layer: some Layer, _ outputGradient: Tensor) throws -> [Tensor] {
    let identifier = type(of: layer).identifier
    guard let last = get(layer) else { throw missingForward(identifier) }
    set(layer, nil)
    guard outputGradient.shape == last.output.shape else {
      throw StrataError.shapeMismatch(
        layer: identifier, received: "an output gradient of shape \(outputGradient.shape)",
        expected: "the output's shape \(last.output.shape)")
    }
    let (inputs, parameters) = try last.tape.gradients(
      of: [(last.output, outputGradient)] + last.losses.map { ($0, nil) }, for: last.inputs,
      parameters: last.parameters)
    for (parameter, gradient) in zip(last.parameters, parameters) { parameter.gradient = gradient }
    return inputs
  }

  static func total(_ losses: [Tensor]) throws -> Float {
    losses.reduce(0) { $0 + $1.withUnsafeBufferPointer { $0[0] } }
  }
}

extension OpsLayer {
  /// Runs ``call(_:training:)``; in training, on a tape kept for ``backward(_:in:)``.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try OpsCalls.forward(of: self, [x], in: context) { try call($0[0], training: $1) }
  }

  /// Runs the tape of the last training `forward` back from `outputGradient`: writes each trainable
  /// weight's `gradient` and returns the input's.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try OpsCalls.backward(of: self, outputGradient)[0]
  }

  /// Adds `value` (a scalar) to the model's loss, from inside ``call(_:training:)``: Keras'
  /// `self.add_loss(value)`, as its VAE example adds the KL divergence. `fit` adds it to the loss it
  /// reports and trains on; the layer's backward pass adds its gradient.
  /// - Throws: for a value of more than one element, or outside `call`.
  public func addLoss(_ value: Tensor) throws {
    try checkArgument(
      value.count == 1, owner: Self.identifier, argument: "addLoss",
      value: "a tensor of shape \(value.shape)",
      expected: "a scalar (sum or average the terms first)")
    let state = OpsState.current
    guard state.addedLosses != nil else {
      throw StrataError.invalidState(
        "\(Self.identifier): addLoss is called from inside call(_:training:).")
    }
    state.addedLosses!.append(value)
  }

  /// The sum of the terms the last call added with ``addLoss(_:)`` (0 when none).
  public var addedLoss: Float { OpsCalls.addedLoss(self) }

  /// The tape of the last training call.
  public func saveCallState() -> Any { OpsCalls.get(self) as Any }

  /// Puts back a tape ``saveCallState()`` returned.
  public func restoreCallState(_ state: Any) throws {
    OpsCalls.set(self, state as? OpsCall)
  }
}

/// A layer of several inputs written forward-only (MultiHeadAttention): its
/// ``call(_:training:)`` computes the output from the inputs with ``Ops``, and the backward pass
/// comes from a ``GradientTape`` as for ``OpsLayer``.
public protocol OpsMergeLayer: MergeLayer, PerCallState {
  /// The output for a batch of each input, written with ``Ops``.
  func call(_ inputs: [Tensor], training: Bool) throws -> Tensor
}

extension OpsMergeLayer {
  /// Runs ``call(_:training:)``; in training, on a tape kept for ``backward(_:in:)``.
  public func forward(_ inputs: [Tensor], in context: Context) throws -> Tensor {
    try OpsCalls.forward(of: self, inputs, in: context) { try call($0, training: $1) }
  }

  /// Runs the tape of the last training `forward` back: writes each trainable weight's `gradient`
  /// and returns each input's.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> [Tensor] {
    try OpsCalls.backward(of: self, outputGradient)
  }

  /// The tape of the last training call.
  public func saveCallState() -> Any { OpsCalls.get(self) as Any }

  /// Puts back a tape ``saveCallState()`` returned.
  public func restoreCallState(_ state: Any) throws {
    OpsCalls.set(self, state as? OpsCall)
  }
}

/// A forward-only layer of one input that may take more (a recurrent layer's `initial_state`):
/// applied to one tensor it runs as an ``OpsLayer``, to a list as an ``OpsMergeLayer``.
public protocol OpsLayerWithMoreInputs: OpsLayer, OpsMergeLayer {}

extension OpsLayerWithMoreInputs {
  /// Runs ``OpsLayer/call(_:training:)``; in training, on a tape kept for the backward pass.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try OpsCalls.forward(of: self, [x], in: context) { try call($0[0], training: $1) }
  }

  /// The input's gradient from the tape of the last training `forward`.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try OpsCalls.backward(of: self, outputGradient)[0]
  }

  /// The tape of the last training call.
  public func saveCallState() -> Any { OpsCalls.get(self) as Any }

  /// Puts back a tape ``saveCallState()`` returned.
  public func restoreCallState(_ state: Any) throws { OpsCalls.set(self, state as? OpsCall) }
}

extension Ops {
  /// Runs `body` with ops on `kernels`, naming `layer` in their errors, recording on no tape.
  static func running<Result>(
    kernels: any Kernels, layer: String?, _ body: () throws -> Result
  ) rethrows -> Result {
    let state = OpsState.current
    let saved = (state.tape, state.kernels, state.layer)
    state.tape = nil
    state.kernels = kernels
    if let layer { state.layer = layer }
    defer { (state.tape, state.kernels, state.layer) = saved }
    return try body()
  }
}

extension Layer {
  /// The layer's output for a batch `x` (Keras: calling a layer on a tensor), on the current ops
  /// backend. Inside ``GradientTape/record(watching:kernels:layer:_:)``, when the tape tracks `x` or
  /// watches one of the layer's weights, the call is recorded: its `backward` gives the gradients.
  /// `training` is Keras' `training` argument.
  public func callAsFunction(_ x: Tensor, training: Bool = false) throws -> Tensor {
    try call(x, training: training, identity: self)
  }

  /// ``callAsFunction(_:training:)`` for a layer whose calls a tape tells apart by `identity` (a
  /// model's wrapper passes the model).
  package func call(_ x: Tensor, training: Bool, identity: AnyObject) throws -> Tensor {
    let kernels = Ops.kernels
    let parameters = self.parameters
    guard let tape = OpsState.current.tape,
      tape.isTracking(x) || parameters.contains(where: { tape.node(of: $0) != nil })
    else {
      var context = Context(kernels: kernels, isTraining: false)
      context.behavesAsTraining = training
      return try Ops.running(kernels: kernels, layer: nil) { try forward(x, in: context) }
    }
    var context = Context(kernels: kernels, isTraining: true)
    context.behavesAsTraining = training
    context.needsInputGradient = tape.isTracking(x)
    let y = try Ops.running(kernels: kernels, layer: nil) { try forward(x, in: context) }
    let state = (self as? any PerCallState)?.saveCallState()
    let call = tape.noteLayerCall(identity)
    let input = Ops.stopGradient(x)
    return tape.recordLayer(y, input: x, parameters: parameters) { [weak tape] dy in
      // A layer called again since holds that call's state: restore or redo this one's first.
      if let tape, tape.lastLayerCall(identity) != call {
        if let state, let stateful = self as? any PerCallState {
          try stateful.restoreCallState(state)
        } else {
          _ = try Ops.running(kernels: kernels, layer: nil) { try self.forward(input, in: context) }
        }
        tape.setLastLayerCall(identity, call)
      }
      let dx = try Ops.running(kernels: kernels, layer: nil) { try self.backward(dy, in: context) }
      return context.needsInputGradient ? dx : nil
    }
  }
}
