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

/// A fully-connected recurrent layer: `h = activation(x · kernel + h · recurrent_kernel + bias)`.
/// Keras: `SimpleRNN(units, activation="tanh", return_sequences=False, go_backwards=False, …)`.
public final class SimpleRNN: RecurrentLayer, OpsLayerWithMoreInputs, RandomizedLayer,
  KerasNestedWeights, ActivityRegularized, MaskReadingLayer, MaskingLayer, MaskReadingMergeLayer,
  KerasCallSignature, MultiOutputLayer
{
  /// The arguments Keras gives this layer.
  public typealias Config = RecurrentArguments
  /// The registry key: Keras' `SimpleRNN`.
  public static let identifier = "SimpleRNN"
  /// The arguments the layer was made with.
  public var config: Config { arguments }

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `SimpleRNN(32, returnSequences: true)`, as in Keras.
  public convenience init(
    _ units: Int, activation: Spec = "tanh", returnSequences: Bool = false,
    returnState: Bool = false, goBackwards: Bool = false, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    (config.units, config.activation) = (units, activation)
    (config.returnSequences, config.goBackwards) = (returnSequences, goBackwards)
    config.returnState = returnState
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try super.init(arguments: config, inputShape: inputShape, owner: "SimpleRNN", seed: nil)
  }

  /// With `tanh`, the loop is
  /// ``StrataCore/Ops/simpleRNN(_:recurrentKernel:mask:recurrentMask:goBackwards:returnSequences:zeroOutputForMask:)``.
  override func fusedLoop(_ projected: Tensor, mask: Tensor?, recurrentMask: Tensor?) throws
    -> Tensor?
  {
    guard arguments.activation == "tanh", let recurrentKernel else { return nil }
    return try Ops.simpleRNN(
      projected, recurrentKernel: recurrentKernel.value, mask: mask, recurrentMask: recurrentMask,
      goBackwards: arguments.goBackwards, returnSequences: arguments.returnSequences,
      zeroOutputForMask: arguments.zeroOutputForMask)
  }

  override func step(_ xt: Tensor, _ states: [Tensor], recurrentInput: Tensor) throws -> (
    Tensor, [Tensor]
  ) {
    let h = try Ops.activation(arguments.activation, xt + recurrent(recurrentInput))
    return (h, [h])
  }

  /// The output for a batch of sequences.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor { try run(x, training: training) }

  /// The output for a batch of sequences and their initial states.
  public func call(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try run(inputs, training: training)
  }
}

/// Long short-term memory (Hochreiter and Schmidhuber, 1997): gates `i, f, c, o` in Keras' order,
/// `c = f·c + i·tanh(…)`, `h = o·tanh(c)`. Keras: `LSTM(units, activation="tanh",
/// recurrent_activation="sigmoid", unit_forget_bias=True, return_sequences=False, …)`.
public final class LSTM: RecurrentLayer, OpsLayerWithMoreInputs, RandomizedLayer,
  KerasNestedWeights, ActivityRegularized, MaskReadingLayer, MaskingLayer, MaskReadingMergeLayer,
  KerasCallSignature, MultiOutputLayer
{
  /// The Keras arguments: the shared ones and the LSTM's own.
  public struct Config: Equatable, KerasConfig {
    /// The arguments every recurrent layer takes.
    public var recurrent = RecurrentArguments()
    /// Keras' `recurrent_activation`: of the gates.
    public var recurrentActivation: Spec = "sigmoid"
    /// Keras' `unit_forget_bias`: the forget gate's bias starts at 1.
    public var unitForgetBias: Bool = true
    /// Keras' `seed`: of the dropout masks.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> { RecurrentArguments.requiredArguments }

    enum CodingKeys: String, CodingKey { case recurrentActivation, unitForgetBias, seed }

    /// Decodes the arguments, the shared ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      recurrent = try RecurrentArguments(from: decoder)
      recurrentActivation = try container.decode(Spec.self, forKey: .recurrentActivation)
      unitForgetBias = try container.decode(Bool.self, forKey: .unitForgetBias)
      seed = try container.decodeIfPresent(UInt64.self, forKey: .seed)
    }

    /// Encodes the arguments, the shared ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      try recurrent.encode(to: encoder)
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(recurrentActivation, forKey: .recurrentActivation)
      try container.encode(unitForgetBias, forKey: .unitForgetBias)
      try container.encode(seed, forKey: .seed)
    }
  }
  /// The registry key: Keras' `LSTM`.
  public static let identifier = "LSTM"
  /// The arguments the layer was made with.
  public let config: Config

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `LSTM(64, returnSequences: true)`, as in Keras.
  public convenience init(
    _ units: Int, returnSequences: Bool = false, returnState: Bool = false,
    goBackwards: Bool = false, dropout: Float = 0, recurrentDropout: Float = 0,
    inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.recurrent.units = units
    config.recurrent.returnState = returnState
    (config.recurrent.returnSequences, config.recurrent.goBackwards) = (
      returnSequences, goBackwards
    )
    (config.recurrent.dropout, config.recurrent.recurrentDropout) = (dropout, recurrentDropout)
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    _ = try Registries.shared.activation(config.recurrentActivation)
    self.config = config
    try super.init(
      arguments: config.recurrent, inputShape: inputShape, owner: "LSTM", seed: config.seed)
  }

  override var gates: Int { 4 }
  override var stateCount: Int { 2 }

  override func initialized(bias: Tensor) throws -> Tensor {
    guard config.unitForgetBias else { return bias }
    let units = arguments.units
    var values = bias.scalars
    for i in units..<(2 * units) { values[i] = 1 }
    return try Tensor(shape: bias.shape, scalars: values)
  }

  /// With Keras' default activations, the loop is ``StrataCore/Ops/lstm(_:recurrentKernel:mask:recurrentMask:goBackwards:returnSequences:zeroOutputForMask:)``.
  override func fusedLoop(_ projected: Tensor, mask: Tensor?, recurrentMask: Tensor?) throws
    -> Tensor?
  {
    guard arguments.activation == "tanh", config.recurrentActivation == "sigmoid",
      let recurrentKernel
    else { return nil }
    return try Ops.lstm(
      projected, recurrentKernel: recurrentKernel.value, mask: mask, recurrentMask: recurrentMask,
      goBackwards: arguments.goBackwards, returnSequences: arguments.returnSequences,
      zeroOutputForMask: arguments.zeroOutputForMask)
  }

  override func step(_ xt: Tensor, _ states: [Tensor], recurrentInput: Tensor) throws -> (
    Tensor, [Tensor]
  ) {
    let z = try xt + recurrent(recurrentInput)
    let parts = try Ops.split(z, sections: 4, axis: 1)
    let gate = config.recurrentActivation
    let i = try Ops.activation(gate, parts[0]), f = try Ops.activation(gate, parts[1])
    let g = try Ops.activation(arguments.activation, parts[2])
    let o = try Ops.activation(gate, parts[3])
    let c = try f * states[1] + i * g
    let h = try o * Ops.activation(arguments.activation, c)
    return (h, [h, c])
  }

  /// The output for a batch of sequences.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor { try run(x, training: training) }

  /// The output for a batch of sequences and their initial states.
  public func call(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try run(inputs, training: training)
  }
}

/// Gated recurrent unit (Cho et al., 2014): gates `z, r` and candidate `h̃` in Keras' order; with
/// `reset_after` (Keras 3's default, cuDNN's form) the reset gate multiplies the state's projection,
/// and the bias is `[2, 3 · units]` (input and recurrent). Keras: `GRU(units, activation="tanh",
/// recurrent_activation="sigmoid", reset_after=True, …)`.
public final class GRU: RecurrentLayer, OpsLayerWithMoreInputs, RandomizedLayer,
  KerasNestedWeights, ActivityRegularized, MaskReadingLayer, MaskingLayer, MaskReadingMergeLayer,
  KerasCallSignature, MultiOutputLayer
{
  /// The Keras arguments: the shared ones and the GRU's own.
  public struct Config: Equatable, KerasConfig {
    /// The arguments every recurrent layer takes.
    public var recurrent = RecurrentArguments()
    /// Keras' `recurrent_activation`: of the gates.
    public var recurrentActivation: Spec = "sigmoid"
    /// Keras' `reset_after`.
    public var resetAfter: Bool = true
    /// Keras' `seed`: of the dropout masks.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> { RecurrentArguments.requiredArguments }

    enum CodingKeys: String, CodingKey { case recurrentActivation, resetAfter, seed }

    /// Decodes the arguments, the shared ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      recurrent = try RecurrentArguments(from: decoder)
      recurrentActivation = try container.decode(Spec.self, forKey: .recurrentActivation)
      resetAfter = try container.decode(Bool.self, forKey: .resetAfter)
      seed = try container.decodeIfPresent(UInt64.self, forKey: .seed)
    }

    /// Encodes the arguments, the shared ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      try recurrent.encode(to: encoder)
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(recurrentActivation, forKey: .recurrentActivation)
      try container.encode(resetAfter, forKey: .resetAfter)
      try container.encode(seed, forKey: .seed)
    }
  }
  /// The registry key: Keras' `GRU`.
  public static let identifier = "GRU"
  /// The arguments the layer was made with.
  public let config: Config

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `GRU(64, returnSequences: true)`, as in Keras.
  public convenience init(
    _ units: Int, returnSequences: Bool = false, returnState: Bool = false,
    goBackwards: Bool = false, resetAfter: Bool = true, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.recurrent.units = units
    config.recurrent.returnState = returnState
    (config.recurrent.returnSequences, config.recurrent.goBackwards) = (
      returnSequences, goBackwards
    )
    config.resetAfter = resetAfter
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    _ = try Registries.shared.activation(config.recurrentActivation)
    self.config = config
    try super.init(
      arguments: config.recurrent, inputShape: inputShape, owner: "GRU", seed: config.seed)
  }

  override var gates: Int { 3 }
  override var biasShape: [Int] {
    config.resetAfter ? [2, 3 * arguments.units] : [3 * arguments.units]
  }

  override func inputBias(_ bias: Tensor) throws -> Tensor {
    guard config.resetAfter else { return bias }
    return try Ops.reshape(
      Ops.slice(bias, start: [0, 0], shape: [1, 3 * arguments.units]), [3 * arguments.units])
  }

  /// With `reset_after` and Keras' default activations, the loop is
  /// ``StrataCore/Ops/gru(_:recurrentKernel:recurrentBias:mask:recurrentMask:goBackwards:returnSequences:zeroOutputForMask:)``.
  override func fusedLoop(_ projected: Tensor, mask: Tensor?, recurrentMask: Tensor?) throws
    -> Tensor?
  {
    guard config.resetAfter, arguments.activation == "tanh",
      config.recurrentActivation == "sigmoid", let recurrentKernel
    else { return nil }
    let units = arguments.units
    let recurrentBias = try bias.map {
      try Ops.reshape(Ops.slice($0.value, start: [1, 0], shape: [1, 3 * units]), [3 * units])
    }
    return try Ops.gru(
      projected, recurrentKernel: recurrentKernel.value, recurrentBias: recurrentBias, mask: mask,
      recurrentMask: recurrentMask, goBackwards: arguments.goBackwards,
      returnSequences: arguments.returnSequences, zeroOutputForMask: arguments.zeroOutputForMask)
  }

  override func step(_ xt: Tensor, _ states: [Tensor], recurrentInput: Tensor) throws -> (
    Tensor, [Tensor]
  ) {
    let units = arguments.units
    let (h, masked) = (states[0], recurrentInput)
    let x = try Ops.split(xt, sections: 3, axis: 1)
    let gate = config.recurrentActivation
    let z: Tensor, candidate: Tensor
    if config.resetAfter {
      var inner = try recurrent(masked)
      if let bias {
        inner =
          try inner
          + Ops.reshape(
            Ops.slice(bias.value, start: [1, 0], shape: [1, 3 * units]), [3 * units])
      }
      let r = try Ops.split(inner, sections: 3, axis: 1)
      z = try Ops.activation(gate, x[0] + r[0])
      let reset = try Ops.activation(gate, x[1] + r[1])
      candidate = try Ops.activation(arguments.activation, x[2] + reset * r[2])
    } else {
      z = try Ops.activation(gate, x[0] + recurrent(masked, columns: 0..<units))
      let reset = try Ops.activation(gate, x[1] + recurrent(masked, columns: units..<(2 * units)))
      candidate = try Ops.activation(
        arguments.activation,
        x[2] + recurrent(reset * masked, columns: (2 * units)..<(3 * units)))
    }
    // h = z·h + (1 - z)·candidate
    let next = try z * h + candidate - z * candidate
    return (next, [next])
  }

  /// The output for a batch of sequences.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor { try run(x, training: training) }

  /// The output for a batch of sequences and their initial states.
  public func call(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try run(inputs, training: training)
  }
}

extension OpsLayerWithMoreInputs where Self: RecurrentLayer {
  /// Applies the layer to symbolic sequences starting from `initialState` (Keras'
  /// `layer(x, initial_state=[h, c])`: an LSTM takes two states, a GRU and a SimpleRNN one), as a
  /// decoder starts from its encoder's final states.
  public func callAsFunction(
    _ sequences: some SymbolicInput, initialState: [any SymbolicInput]
  ) throws -> SymbolicTensor {
    try apply(
      to: [try sequences.symbolicTensor] + initialState.map { try $0.symbolicTensor },
      takesList: true, name: nil)
  }
}
