import Foundation
import Synchronization

/// Records the ``Ops`` run inside ``record(_:)`` so that ``gradients(of:seed:for:parameters:)`` can
/// give the gradient of a result with respect to any tensor or weight it was computed from: Strata's
/// reverse-mode automatic differentiation, as Keras' `tf.GradientTape` and `jax.grad` give it.
///
/// ```swift
/// let tape = GradientTape()
/// let loss = try tape.record(watching: model.trainableParameters) {
///   let y = try model(x, training: true)
///   return try Ops.mean(Ops.square(y - target))
/// }
/// let gradients = try tape.gradients(of: loss, parameters: model.trainableParameters)
/// ```
///
/// Only ops whose inputs the tape tracks are recorded: a tensor passed to ``watch(_:)``, a watched
/// weight's `value`, or a result of recorded ops. Outside ``record(_:)``, and in `predict`, nothing is
/// recorded and ops cost what their kernels cost. A layer called inside `record` (``Layer/callAsFunction(_:training:)``)
/// is one node whose pullback is its `backward`. A tape gives gradients once and then frees what it
/// kept; use a new tape for the next step. A tensor used twice gets the sum of both uses' gradients.
public final class GradientTape {
  /// One recorded operation: the nodes of its inputs and how to turn its output's gradient into theirs.
  struct Node {
    /// The index of each input's node, or -1 for an input the tape does not track.
    var inputs: [Int]
    /// The gradient of each input given the output's; `nil` for a leaf (a watched tensor or weight).
    var pullback: ((Tensor) throws -> [Tensor?])?
    /// The shape of the node's value (to check seeds and make zero gradients).
    var shape: [Int]
  }

  private static let serials = Atomic<UInt64>(0)
  /// This tape's number: the high 32 bits of every trace it hands out.
  let serial: UInt64
  private var nodes: [Node] = []
  private var parameterNodes: [ObjectIdentifier: Int] = [:]
  private var finished = false
  private var layerCalls: [ObjectIdentifier: Int] = [:]
  private var callCount = 0

  /// A new tape that has recorded nothing.
  public init() {
    serial = (GradientTape.serials.wrappingAdd(1, ordering: .relaxed).newValue) & 0xFFFF_FFFF
  }

  /// The number of operations and leaves recorded so far.
  public var recordedCount: Int { nodes.count }

  /// An estimate of the memory the tape keeps: each recorded op's output size (what its pullback
  /// holds, about; watched leaves are not counted). What `bench` reports.
  public var recordedBytes: Int {
    nodes.reduce(0) {
      $0 + ($1.pullback == nil ? 0 : $1.shape.reduce(1, *) * MemoryLayout<Float>.stride)
    }
  }

  /// The index of `x`'s node when this tape tracks it.
  func node(of x: Tensor) -> Int? {
    guard x.trace >> 32 == serial, x.trace & 0xFFFF_FFFF > 0 else { return nil }
    let index = Int(x.trace & 0xFFFF_FFFF) - 1
    return index < nodes.count ? index : nil
  }

  /// Whether this tape tracks `x` (it was watched or computed by recorded ops).
  public func isTracking(_ x: Tensor) -> Bool { node(of: x) != nil }

  private func append(_ node: Node, to value: inout Tensor) {
    nodes.append(node)
    value.trace = serial << 32 | UInt64(nodes.count)
  }

  /// `x`, tracked by this tape as a leaf: gradients can then be asked for it.
  public func watch(_ x: Tensor) -> Tensor {
    if node(of: x) != nil { return x }
    var watched = x
    append(Node(inputs: [], pullback: nil, shape: x.shape), to: &watched)
    return watched
  }

  /// Tracks `parameters`' values while ``record(_:)`` runs: ops that read `parameter.value` are
  /// recorded, and so are layers that own them.
  public func watch(_ parameters: [Parameter]) {
    for parameter in parameters where parameterNodes[ObjectIdentifier(parameter)] == nil {
      var leaf = Tensor(shape: [])
      append(Node(inputs: [], pullback: nil, shape: parameter.shape), to: &leaf)
      parameterNodes[ObjectIdentifier(parameter)] = nodes.count - 1
    }
  }

  /// Numbers a call of `layer` and notes it as the one whose state the layer holds.
  func noteLayerCall(_ layer: AnyObject) -> Int {
    callCount += 1
    layerCalls[ObjectIdentifier(layer)] = callCount
    return callCount
  }

  /// The number of the call whose state `layer` holds.
  func lastLayerCall(_ layer: AnyObject) -> Int? { layerCalls[ObjectIdentifier(layer)] }

  /// Notes that `layer` holds the state of call `call` again.
  func setLastLayerCall(_ layer: AnyObject, _ call: Int) {
    layerCalls[ObjectIdentifier(layer)] = call
  }

  /// The node of a watched parameter.
  func node(of parameter: Parameter) -> Int? { parameterNodes[ObjectIdentifier(parameter)] }

  /// Runs `body` with this tape recording the ops it runs (on this thread), after watching
  /// `parameters`, and returns what it returns.
  ///
  /// `kernels` is the backend the ops run on (the registered `cpu` backend by default); `layer` names
  /// the layer the ops belong to in their errors.
  public func record<Result>(
    watching parameters: [Parameter] = [], kernels: (any Kernels)? = nil, layer: String? = nil,
    _ body: () throws -> Result
  ) throws -> Result {
    guard !finished else {
      throw StrataError.invalidState(
        "GradientTape: this tape gave its gradients already; record the next step on a new tape.")
    }
    watch(parameters)
    var traced: [(Parameter, UInt64)] = []
    for parameter in parameters {
      traced.append((parameter, parameter.value.trace))
      parameter.value.trace =
        serial << 32 | UInt64(parameterNodes[ObjectIdentifier(parameter)]! + 1)
    }
    let state = OpsState.current
    let saved = (state.tape, state.kernels, state.layer)
    state.tape = self
    if let kernels { state.kernels = kernels }
    if let layer { state.layer = layer }
    defer {
      (state.tape, state.kernels, state.layer) = saved
      for (parameter, trace) in traced where parameter.value.trace >> 32 == serial {
        parameter.value.trace = trace
      }
    }
    return try body()
  }

  /// Records an operation of this tape: `result` gets a node whose pullback maps its gradient to one
  /// per input (`nil` where an input needs none). Returns `result` traced.
  func record(
    _ result: Tensor, inputs: [Tensor], pullback: @escaping (Tensor) throws -> [Tensor?]
  ) -> Tensor {
    var traced = result
    append(
      Node(inputs: inputs.map { node(of: $0) ?? -1 }, pullback: pullback, shape: result.shape),
      to: &traced)
    return traced
  }

  /// Records a call of a layer whose `backward` gives the gradients: the input's and, for each of
  /// `parameters` this tape watches, the `gradient` the layer wrote.
  func recordLayer(
    _ result: Tensor, input: Tensor, parameters: [Parameter],
    pullback: @escaping (Tensor) throws -> Tensor?
  ) -> Tensor {
    var traced = result
    let watched = parameters.filter { node(of: $0) != nil }
    let inputs = [node(of: input) ?? -1] + watched.map { node(of: $0)! }
    append(
      Node(
        inputs: inputs,
        pullback: { dy in
          let dx = try pullback(dy)
          return [dx] + watched.map { $0.gradient }
        }, shape: result.shape), to: &traced)
    return traced
  }

  /// The gradient of `target` (of `Σ seed ⊙ target`; `seed` is all ones unless given) with respect to
  /// each of `tensors` and each of `parameters`, in their order.
  ///
  /// A tensor or weight `target` does not depend on gets a zero gradient of its shape (where Keras
  /// gives `None`). The tape frees what it kept: it gives gradients once.
  /// - Throws: for a target this tape did not compute, a seed of another shape, or a second call.
  public func gradients(
    of target: Tensor, seed: Tensor? = nil, for tensors: [Tensor] = [],
    parameters: [Parameter] = []
  ) throws -> (tensors: [Tensor], parameters: [Tensor]) {
    try gradients(of: [(target, seed)], for: tensors, parameters: parameters)
  }

  /// The gradient of the sum of several targets (each `Σ seed ⊙ target`, ones unless given): a
  /// layer's output and the losses it added, say. See ``gradients(of:seed:for:parameters:)``.
  public func gradients(
    of targets: [(target: Tensor, seed: Tensor?)], for tensors: [Tensor] = [],
    parameters: [Parameter] = []
  ) throws -> (tensors: [Tensor], parameters: [Tensor]) {
    guard !finished else {
      throw StrataError.invalidState(
        "GradientTape: this tape gave its gradients already; record the next step on a new tape.")
    }
    for (target, seed) in targets where seed != nil && seed!.shape != target.shape {
      throw StrataError.shapeMismatch(
        layer: "GradientTape.gradients(of:seed:)", received: "a seed of shape \(seed!.shape)",
        expected: "the target's shape \(target.shape)")
    }
    let wanted = tensors.map { node(of: $0) } + parameters.map { node(of: $0) }
    let kept = Set(wanted.compactMap { $0 })
    finished = true
    defer {
      nodes = []
      parameterNodes = [:]
    }
    var gradients = [Tensor?](repeating: nil, count: nodes.count)
    var roots: [Int] = []
    for (target, seed) in targets {
      guard let root = node(of: target) else { continue }
      roots.append(root)
      let ones = seed ?? Tensor(pooledShape: target.shape, repeating: 1)
      gradients[root] = try accumulate(gradients[root], ones, shape: target.shape)
    }
    if let last = roots.max() {
      // Only nodes between a wanted node and a target need their pullbacks run.
      let needed = dependencies(of: Array(kept), upTo: last)
      for index in stride(from: last, through: 0, by: -1) where needed[index] {
        guard let pullback = nodes[index].pullback, let gradient = gradients[index] else {
          continue
        }
        if nodes[index].inputs.allSatisfy({ $0 < 0 || !needed[$0] }) { continue }
        let inputGradients = try pullback(gradient)
        for (input, inputGradient) in zip(nodes[index].inputs, inputGradients) where input >= 0 {
          guard needed[input], let inputGradient else { continue }
          gradients[input] = try accumulate(
            gradients[input], inputGradient, shape: nodes[input].shape)
        }
        if !kept.contains(index) { gradients[index] = nil }
      }
    }
    func result(_ index: Int?, _ shape: [Int]) -> Tensor {
      guard let index, let gradient = gradients[index] else { return Tensor(pooledShape: shape) }
      return gradient
    }
    return (
      zip(tensors, wanted).map { result($1, $0.shape) },
      zip(parameters, wanted.dropFirst(tensors.count)).map { result($1, $0.shape) }
    )
  }

  /// The gradient of `target` with respect to each of `parameters`; see ``gradients(of:seed:for:parameters:)``.
  public func gradients(of target: Tensor, seed: Tensor? = nil, parameters: [Parameter]) throws
    -> [Tensor]
  {
    try gradients(of: target, seed: seed, for: [], parameters: parameters).parameters
  }

  /// Marks the nodes on a path from one of `leaves` to `root`.
  private func dependencies(of leaves: [Int], upTo root: Int) -> [Bool] {
    var reaches = [Bool](repeating: false, count: nodes.count)
    for leaf in leaves where leaf <= root { reaches[leaf] = true }
    guard let first = leaves.min(), first <= root else { return reaches }
    for index in first...root where !reaches[index] {
      reaches[index] = nodes[index].inputs.contains { $0 >= 0 && reaches[$0] }
    }
    return reaches
  }

  private func accumulate(_ existing: Tensor?, _ gradient: Tensor, shape: [Int]) throws -> Tensor {
    guard gradient.shape == shape else {
      throw StrataError.invalidState(
        "GradientTape: an op's pullback returned a gradient of shape \(gradient.shape) for an input of shape \(shape)"
      )
    }
    guard var sum = existing else {
      var fresh = gradient
      fresh.trace = 0
      return fresh
    }
    sum.withUnsafeMutableBufferPointer { s in
      gradient.withUnsafeBufferPointer { simdZip(UnsafeBufferPointer(s), $0, into: s, +) }
    }
    return sum
  }
}

/// What the ops on one thread run with: the tape recording them, the kernels backend, and the layer
/// whose `call` runs them (for error messages).
final class OpsState {
  var tape: GradientTape?
  var kernels: (any Kernels)?
  var layer: String?
  /// What the running forward-only layer's `call` added with `addLoss`; `nil` outside one.
  var addedLosses: [Tensor]?

  private static let key: pthread_key_t = {
    var key = pthread_key_t()
    let created = pthread_key_create(&key) { pointer in
      guard let pointer else { return }
      Unmanaged<OpsState>.fromOpaque(pointer).release()
    }
    precondition(created == 0, "pthread_key_create failed")
    return key
  }()

  /// This thread's state, made on first use.
  static var current: OpsState {
    if let pointer = pthread_getspecific(key) {
      return Unmanaged<OpsState>.fromOpaque(pointer).takeUnretainedValue()
    }
    let state = OpsState()
    pthread_setspecific(key, Unmanaged.passRetained(state).toOpaque())
    return state
  }

  /// The tape recording on this thread when it tracks one of `inputs`; `nil` (record nothing) otherwise.
  static func tape(tracking inputs: Tensor...) -> GradientTape? {
    guard let tape = current.tape else { return nil }
    for x in inputs where tape.node(of: x) != nil { return tape }
    return nil
  }
}
