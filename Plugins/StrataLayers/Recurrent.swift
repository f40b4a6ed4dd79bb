import StrataCore

/// The arguments Keras' recurrent layers share, flat in their configs.
public struct RecurrentArguments: Equatable, KerasConfig {
  /// Keras' `units`: the size of the state.
  public var units: Int = 0
  /// Keras' `activation`: of the candidate state and the output.
  public var activation: Spec = "tanh"
  /// Keras' `use_bias`.
  public var useBias: Bool = true
  /// Keras' `kernel_initializer`: for the input weights.
  public var kernelInitializer: Spec = "glorot_uniform"
  /// Keras' `recurrent_initializer`: for the state weights.
  public var recurrentInitializer: Spec = "orthogonal"
  /// Keras' `bias_initializer`.
  public var biasInitializer: Spec = "zeros"
  /// Keras' `kernel_regularizer`.
  public var kernelRegularizer: Spec?
  /// Keras' `recurrent_regularizer`.
  public var recurrentRegularizer: Spec?
  /// Keras' `bias_regularizer`.
  public var biasRegularizer: Spec?
  /// Keras' `activity_regularizer`.
  public var activityRegularizer: Spec?
  /// Keras' `kernel_constraint`.
  public var kernelConstraint: Spec?
  /// Keras' `recurrent_constraint`.
  public var recurrentConstraint: Spec?
  /// Keras' `bias_constraint`.
  public var biasConstraint: Spec?
  /// Keras' `dropout`: of the inputs, one mask per sequence, in training.
  public var dropout: Float = 0
  /// Keras' `recurrent_dropout`: of the state, one mask per sequence, in training.
  public var recurrentDropout: Float = 0
  /// Keras' `return_sequences`: every step's output, not only the last.
  public var returnSequences: Bool = false
  /// Keras' `return_state`: the final states too, as more outputs (``StrataCore/Layer/outputs(of:)``).
  public var returnState: Bool = false
  /// Keras' `go_backwards`: read the sequence from its end; the outputs come in that order.
  public var goBackwards: Bool = false
  /// Keras' `stateful` (false only).
  public var stateful: Bool = false
  /// Keras' `unroll` (accepted; the loop is the same).
  public var unroll: Bool = false
  /// Keras' `zero_output_for_mask`: a masked step outputs zeros rather than the output before it
  /// (`Bidirectional` sets it when returning sequences, as Keras does).
  public var zeroOutputForMask: Bool = false

  /// Keras' defaults.
  public init() {}

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["units"]

  func validate(owner: String) throws {
    try checkArgument(
      units > 0 && units <= 1 << 20, owner: owner, argument: "units", value: "\(units)",
      expected: "a positive integer")
    for (argument, rate) in [("dropout", dropout), ("recurrent_dropout", recurrentDropout)] {
      try checkArgument(
        rate >= 0 && rate < 1, owner: owner, argument: argument, value: "\(rate)",
        expected: "a number in [0, 1)")
    }
    try checkArgument(
      !stateful, owner: owner, argument: "stateful", value: "true",
      expected: "false (states are not kept between batches)")
    _ = try Registries.shared.activation(activation)
  }
}

/// What the recurrent layers share: the weights, the input projection of every step in one product,
/// the loop over the steps (on a tape in training, so the backward pass through time is
/// automatic), dropout masks, `return_sequences` and `go_backwards`.
public class RecurrentLayer {
  let arguments: RecurrentArguments
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let owner: String
  private var inputShape: [Int] = []
  private var generator = SeededGenerator(seed: 0)
  private let seeded: Bool
  /// `[features, gates · units]`; `nil` until built.
  public private(set) var kernel: Parameter?
  /// `[units, gates · units]`; `nil` until built.
  public private(set) var recurrentKernel: Parameter?
  /// `[gates · units]` (a GRU with `reset_after`: `[2, 3 · units]`); `nil` until built or without a bias.
  public private(set) var bias: Parameter?
  /// Keras' `activity_regularizer`, resolved.
  public let activityRegularizer: (any Regularizer)?
  /// The mask of the next call's input, `[batch, steps]`: a masked step leaves the states and the
  /// output as the step before left them, as in Keras.
  public var inputMask: Tensor?

  init(arguments: RecurrentArguments, inputShape: [Int]?, owner: String, seed: UInt64?) throws {
    try arguments.validate(owner: owner)
    self.arguments = arguments
    self.owner = owner
    declaredInputShape = inputShape
    seeded = seed != nil
    if let seed { generator = SeededGenerator(seed: seed) }
    activityRegularizer = try arguments.activityRegularizer.map {
      try Registries.shared.regularizer($0)
    }
  }

  /// The blocks of `units` the weights hold (LSTM 4, GRU 3, SimpleRNN 1).
  var gates: Int { 1 }
  /// The bias's shape.
  var biasShape: [Int] { [gates * arguments.units] }
  /// Adjusts the bias after its initializer (LSTM's `unit_forget_bias`).
  func initialized(bias: Tensor) throws -> Tensor { bias }
  /// The states a step carries (LSTM: the output and the cell).
  var stateCount: Int { 1 }

  /// One step: the projected input `xt` (`[batch, gates · units]`, input bias added) and the states,
  /// to the output and the new states.
  func step(_ xt: Tensor, _ states: [Tensor], recurrentInput: Tensor) throws -> (Tensor, [Tensor]) {
    preconditionFailure("overridden")
  }

  /// The whole loop as one fused operation, when the layer has one for its arguments; `nil` runs
  /// the steps as ops.
  func fusedLoop(_ projected: Tensor, mask: Tensor?, recurrentMask: Tensor?) throws -> Tensor? {
    nil
  }

  /// The bias added to the projected inputs (all of it but a GRU's recurrent half).
  func inputBias(_ bias: Tensor) throws -> Tensor { bias }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { [kernel, recurrentKernel, bias].compactMap { $0 } }

  /// The state of the dropout masks' generator (saved with the model).
  public var generatorState: [UInt64] {
    get { generator.state }
    set { generator.state = newValue }
  }

  /// Keras keeps the weights in the layer's cell.
  public var kerasWeightLocations: [(group: String, index: Int)] {
    parameters.indices.map { ("cell", $0) }
  }
  /// The cell's `vars` name: `lstm_cell`, `gru_cell`, `simple_rnn_cell`.
  public var kerasWeightGroupNames: [String: String] {
    ["cell": kerasSnakeCase(owner) + "_cell"]
  }

  /// Takes sequences `(steps, features)`; gives `(units)`, or `(steps, units)` with
  /// `return_sequences`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: owner)
    let units = arguments.units
    let registries = Registries.shared
    func weight(
      _ name: String, _ shape: [Int], _ initializer: Spec, _ constraint: Spec?,
      _ regularizer: Spec?
    ) throws -> Parameter {
      let parameter = Parameter(
        name: name,
        value: try registries.initializer(initializer).make(shape: shape, generator: &generator))
      parameter.constraint = try constraint.map { try registries.constraint($0) }
      parameter.regularizer = try regularizer.map { try registries.regularizer($0) }
      return parameter
    }
    kernel = try weight(
      "kernel", [inputShape[1], gates * units], arguments.kernelInitializer,
      arguments.kernelConstraint, arguments.kernelRegularizer)
    recurrentKernel = try weight(
      "recurrent_kernel", [units, gates * units], arguments.recurrentInitializer,
      arguments.recurrentConstraint, arguments.recurrentRegularizer)
    bias =
      arguments.useBias
      ? try weight(
        "bias", biasShape, arguments.biasInitializer, arguments.biasConstraint,
        arguments.biasRegularizer) : nil
    if let bias { bias.value = try initialized(bias: bias.value) }
    let stream = generator.split()
    if !seeded { self.generator = stream }
    self.inputShape = inputShape
    let output = arguments.returnSequences ? [inputShape[0], units] : [units]
    guard arguments.returnState else { return output }
    outputShapes = [output] + Array(repeating: [units], count: stateCount)
    return [outputShapes!.reduce(0) { $0 + $1.reduce(1, *) }]
  }

  /// With `return_state`, the output's shape and each state's (`[units]`); `nil` otherwise.
  public private(set) var outputShapes: [[Int]]?

  /// Takes the sequences, then (Keras' `initial_state`) one `[units]` tensor per state.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    guard let sequences = inputShapes.first,
      inputShapes.count == 1 || inputShapes.count == 1 + stateCount
    else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "initial_state", value: "\(max(inputShapes.count - 1, 0)) tensors",
        expected: "\(stateCount) (one per state)")
    }
    for shape in inputShapes.dropFirst() where shape != [arguments.units] {
      throw StrataError.shapeMismatch(
        layer: owner, received: "an initial state of shape \(kerasShape(shape))",
        expected: kerasShape([arguments.units]))
    }
    return try build(inputShape: sequences, generator: &generator)
  }

  /// The masks of a call's inputs (the sequences' first).
  public var inputMasks: [Tensor?] = []

  /// With `return_sequences`, the sequences' mask.
  public func outputMask(inputMasks: [Tensor?]) throws -> Tensor? {
    arguments.returnSequences ? inputMasks.first ?? nil : nil
  }

  /// The sequences, then the initial states, as Keras' `layer(x, initial_state=[…])`.
  public func inputs(
    ofKerasCall args: [ConfigValue], kwargs: ConfigDictionary,
    tensor: (ConfigValue) throws -> SymbolicTensor
  ) throws -> [SymbolicTensor] {
    var given = args
    // Keras 2 wrote `[x, h, c]` as one list.
    if given.count == 1, let list = given[0].arrayValue, given[0].objectValue == nil {
      given = list
    }
    if let states = kwargs["initial_state"], !states.isNull {
      given += states.arrayValue ?? [states]
    } else if given.count == 2, let list = given[1].arrayValue {
      given = [given[0]] + list
    }
    for key in kwargs.keys.sorted()
    where !["initial_state", "mask", "training"].contains(key) && kwargs[key]?.isNull == false {
      throw StrataError.unknownArgument(
        owner: owner, argument: key, suggestions: closestNames(to: key, in: ["initial_state"]))
    }
    guard !given.isEmpty else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "inbound_nodes", value: "a call without inputs",
        expected: "the sequences, then initial_state")
    }
    return try given.map(tensor)
  }

  /// Keras' call: the sequences, and `initial_state` when given.
  public func kerasCall(tensors: [ConfigValue]) -> (args: [ConfigValue], kwargs: ConfigDictionary) {
    guard tensors.count > 1 else { return (tensors, [:]) }
    return ([tensors[0]], ["initial_state": .array(Array(tensors.dropFirst()))])
  }

  /// Runs a call of the sequences and, when given, the initial states.
  func run(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    if !inputMasks.isEmpty { inputMask = inputMasks.first ?? nil }
    return try run(inputs[0], initialStates: Array(inputs.dropFirst()), training: training)
  }

  /// An inverted-dropout mask of `shape` at `rate`.
  private func dropoutMask(_ shape: [Int], rate: Float) throws -> Tensor {
    let scale = 1 / (1 - rate)
    var mask = Tensor(shape: shape)
    mask.withUnsafeMutableBufferPointer { m in
      for i in m.indices { m[i] = generator.nextUniform() >= rate ? scale : 0 }
    }
    return mask
  }

  /// Runs the sequence from zero states, or from `initialStates` (Keras' `initial_state`).
  func run(_ x: Tensor, initialStates: [Tensor] = [], training: Bool) throws -> Tensor {
    guard let kernel, recurrentKernel != nil else {
      throw StrataError.invalidState("\(owner): called before build.")
    }
    try checkInput(x, layer: owner, expected: inputShape)
    let (batch, steps, features) = (x.shape[0], x.shape[1], x.shape[2])
    let units = arguments.units
    var inputs = x
    if training && arguments.dropout > 0 {
      let mask = try dropoutMask([batch, 1, features], rate: arguments.dropout)
      inputs = try inputs * mask
    }
    // Every step's input projection in one product.
    var projected = try Ops.matmul(Ops.reshape(inputs, [batch * steps, features]), kernel.value)
    if let bias { projected = try projected + inputBias(bias.value) }
    projected = try Ops.reshape(projected, [batch, steps, gates * units])
    let recurrentMask =
      training && arguments.recurrentDropout > 0
      ? try dropoutMask([batch, units], rate: arguments.recurrentDropout) : nil
    if let inputMask, inputMask.count != batch * steps {
      throw StrataError.shapeMismatch(
        layer: owner, received: "a mask of shape \(kerasShape(inputMask.shape, batch: false))",
        expected: "one value per step: (\(batch), \(steps)) for inputs of \(steps) steps")
    }
    let mask = try inputMask.map { try Ops.reshape($0, [batch, steps]) }
    if initialStates.isEmpty, !arguments.returnState,
      let fused = try fusedLoop(projected, mask: mask, recurrentMask: recurrentMask)
    {
      return fused
    }
    let stepInputs = try Ops.split(projected, sections: steps, axis: 1).map {
      try Ops.reshape($0, [batch, gates * units])
    }
    for state in initialStates where state.shape != [batch, units] {
      throw StrataError.shapeMismatch(
        layer: owner, received: "an initial state of shape \(state.shape)",
        expected: "(\(batch), \(units)): one row per sequence")
    }
    var states =
      initialStates.count == stateCount
      ? initialStates : Array(repeating: Tensor(shape: [batch, units]), count: stateCount)
    var outputs: [Tensor] = []
    outputs.reserveCapacity(steps)
    let stepMasks = try mask.map { try Ops.split($0, sections: steps, axis: 1) }
    let zeros = Tensor(shape: [batch, units])
    for t in arguments.goBackwards ? Array((0..<steps).reversed()) : Array(0..<steps) {
      let carried = states
      // Recurrent dropout masks the state in its products only, as Keras' cells do.
      let recurrentInput = try recurrentMask.map { try states[0] * $0 } ?? states[0]
      var (output, next) = try step(stepInputs[t], states, recurrentInput: recurrentInput)
      if let stepMasks {
        // A masked step keeps what the step before left.
        let keep = stepMasks[t]
        next = try zip(next, carried).map { try Ops.where(keep, $0, $1) }
        output = try Ops.where(keep, output, arguments.zeroOutputForMask ? zeros : carried[0])
      }
      states = next
      outputs.append(output)
    }
    let output =
      arguments.returnSequences ? try Ops.stack(outputs, axis: 1) : outputs[outputs.count - 1]
    guard arguments.returnState else { return output }
    // The outputs packed side by side, per sequence: output, then each final state.
    return try Ops.concatenate(
      [Ops.reshape(output, [batch, output.count / max(batch, 1)])] + states, axis: 1)
  }

  /// With `return_sequences`, the input's mask; else none.
  public func outputMask(for x: Tensor, inputMask: Tensor?) throws -> Tensor? {
    arguments.returnSequences ? inputMask : nil
  }

  /// `h · recurrentKernel[:, columns]`.
  func recurrent(_ h: Tensor, columns: Range<Int>? = nil) throws -> Tensor {
    guard let recurrentKernel else { throw StrataError.invalidState("\(owner): not built.") }
    guard let columns else { return try Ops.matmul(h, recurrentKernel.value) }
    let weights = try Ops.slice(
      recurrentKernel.value, start: [0, columns.lowerBound],
      shape: [arguments.units, columns.count])
    return try Ops.matmul(h, weights)
  }
}
