import StrataCore

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
