import StrataCore

/// What `Attention` and `AdditiveAttention` share: inputs `[query, value]` or `[query, value,
/// key]`, scores of each query step against each key step, masked (the value's mask, and a causal
/// mask with `use_causal_mask`), a softmax, dropout in training, the weighted sum of the values,
/// and zeros where the query is masked. The output keeps the query's mask.
public class ScoreAttention {
  /// Keras' `dropout`: of the attention weights, in training.
  let dropout: Float
  private let owner: String
  private var generator = SeededGenerator(seed: 0)
  private let seeded: Bool
  private var inputShapes: [[Int]] = []
  private let causal = CausalMask()
  /// Keras' `use_causal_mask` of its calls.
  public var useCausalMask = false
  /// The masks of the next call's inputs.
  public var inputMasks: [Tensor?] = []

  init(dropout: Float, seed: UInt64?, owner: String) throws {
    try checkArgument(
      dropout >= 0 && dropout < 1, owner: owner, argument: "dropout", value: "\(dropout)",
      expected: "a number in [0, 1)")
    self.dropout = dropout
    self.owner = owner
    seeded = seed != nil
    if let seed { generator = SeededGenerator(seed: seed) }
  }

  /// The dropout generator.
  public var generatorState: [UInt64] {
    get { generator.state }
    set { generator.state = newValue }
  }

  /// Checks `[query, value(, key)]` and returns the output's shape, `(Tq, value features)`.
  func checkShapes(_ shapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    guard shapes.count == 2 || shapes.count == 3 else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "inputs", value: "\(shapes.count) tensors",
        expected: "[query, value] or [query, value, key]")
    }
    for shape in shapes where shape.count != 2 {
      throw StrataError.shapeMismatch(
        layer: owner, received: "an input of shape \(kerasShape(shape))",
        expected: "sequences (None, steps, features)")
    }
    let key = shapes.count > 2 ? shapes[2] : shapes[1]
    guard key[0] == shapes[1][0], key[1] == shapes[0][1] else {
      throw StrataError.shapeMismatch(
        layer: owner,
        received: "query \(kerasShape(shapes[0])), key \(kerasShape(key))",
        expected: "a key with the query's features and the value's steps")
    }
    inputShapes = shapes
    let stream = generator.split()
    if !seeded { self.generator = stream }
    return [shapes[0][0], shapes[1][1]]
  }

  /// The scores `(batch, Tq, Tv)` of `query` against `key`.
  func scores(query: Tensor, key: Tensor) throws -> Tensor { preconditionFailure("overridden") }

  /// The attention output for `[query, value(, key)]`.
  func attend(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try checkArgument(
      inputs.count == inputShapes.count, owner: owner, argument: "inputs",
      value: "\(inputs.count) tensors", expected: "\(inputShapes.count), as built")
    for (x, shape) in zip(inputs, inputShapes) { try checkInput(x, layer: owner, expected: shape) }
    let (query, value) = (inputs[0], inputs[1])
    let key = inputs.count > 2 ? inputs[2] : value
    let masks = inputMasks.count == inputs.count ? inputMasks : []
    let (batch, queryLength, valueLength) = (query.shape[0], query.shape[1], value.shape[1])
    var scores = try scores(query: query, key: key)
    var keep: Tensor? = try (masks.count > 1 ? masks[1] : nil).map {
      try Ops.reshape($0, [batch, 1, valueLength])
    }
    if useCausalMask {
      let causal = self.causal.mask(queryLength, valueLength)
      keep = try keep.map { try $0 * causal } ?? causal
    }
    if let keep { scores = try Ops.where(keep, scores, scores - 1e9) }
    var weights = try Ops.softmax(scores, axis: -1)
    if training && dropout > 0 {
      let scale = 1 / (1 - dropout)
      var drop = Tensor(shape: weights.shape)
      drop.withUnsafeMutableBufferPointer { m in
        for i in m.indices { m[i] = generator.nextUniform() >= dropout ? scale : 0 }
      }
      weights = try weights * drop
    }
    var output = try Ops.matmul(weights, value)
    if let queryMask = masks.first ?? nil {
      output = try Ops.where(
        Ops.reshape(queryMask, [batch, queryLength, 1]), output, Tensor(scalar: 0))
    }
    return output
  }

  /// The query's mask.
  public func outputMask(inputMasks: [Tensor?]) throws -> Tensor? { inputMasks.first ?? nil }

  /// Reads Keras' `layer([query, value, key], use_causal_mask=…)`.
  public func inputs(
    ofKerasCall args: [ConfigValue], kwargs: ConfigDictionary,
    tensor: (ConfigValue) throws -> SymbolicTensor
  ) throws -> [SymbolicTensor] {
    let options = try attentionCallOptions(kwargs, owner: owner, tensors: ["inputs"])
    if let causal = options.useCausalMask { useCausalMask = causal }
    let list = (kwargs["inputs"] ?? args.first)?.arrayValue ?? []
    guard args.count <= 1, list.count == 2 || list.count == 3 else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "inbound_nodes",
        value: String(ConfigValue.array(args).description.prefix(120)),
        expected: "a call on [query, value] or [query, value, key]")
    }
    return try list.map(tensor)
  }

  /// Keras' call: the list of inputs, and `use_causal_mask` when set.
  public func kerasCall(tensors: [ConfigValue]) -> (args: [ConfigValue], kwargs: ConfigDictionary) {
    ([.array(tensors)], useCausalMask ? ["use_causal_mask": true] : [:])
  }
}

/// Dot-product attention (Luong-style): scores `query · keyᵀ`, times a learned `scale` with
/// `use_scale`; with `score_mode="concat"`, `concat_score_weight · Σ tanh(scale · (q + k))`.
/// Keras: `Attention(use_scale=False, score_mode="dot", dropout=0.0)`, applied to
/// `[query, value]` or `[query, value, key]`. Written forward-only on ops.
public final class Attention: ScoreAttention, OpsMergeLayer, KerasCallSignature, RandomizedLayer,
  MaskReadingMergeLayer
{
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `use_scale`: a learned scalar multiplies the scores.
    public var useScale = false
    /// Keras' `score_mode`: `"dot"` or `"concat"`.
    public var scoreMode = "dot"
    /// Keras' `dropout`.
    public var dropout: Float = 0
    /// Keras' `seed`: of the dropout masks.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}
  }

  /// The registry key: Keras' `Attention`.
  public static let identifier = "Attention"
  /// The arguments the layer was made with.
  public let config: Config
  /// The scalar `scale` with `use_scale`; `nil` until built.
  public private(set) var scale: Parameter?
  /// The scalar `concat_score_weight` with `score_mode="concat"`; `nil` until built.
  public private(set) var concatScoreWeight: Parameter?

  /// A layer from a config.
  public init(config: Config) throws {
    try checkArgument(
      ["dot", "concat"].contains(config.scoreMode), owner: Self.identifier,
      argument: "score_mode", value: config.scoreMode, expected: "\"dot\" or \"concat\"")
    self.config = config
    try super.init(dropout: config.dropout, seed: config.seed, owner: Self.identifier)
  }

  /// `Attention(useScale: true)`, as in Keras.
  public convenience init(useScale: Bool = false, scoreMode: String = "dot", dropout: Float = 0)
    throws
  {
    var config = Config()
    (config.useScale, config.scoreMode, config.dropout) = (useScale, scoreMode, dropout)
    try self.init(config: config)
  }

  /// `scale`, then `concat_score_weight`, as Keras orders them.
  public var parameters: [Parameter] { [scale, concatScoreWeight].compactMap { $0 } }

  /// Takes `[query, value(, key)]`; gives `(Tq, value features)`.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    let shape = try checkShapes(inputShapes, generator: &generator)
    scale = config.useScale ? Parameter(name: "scale", value: Tensor(scalar: 1)) : nil
    concatScoreWeight =
      config.scoreMode == "concat"
      ? Parameter(name: "concat_score_weight", value: Tensor(scalar: 1)) : nil
    return shape
  }

  override func scores(query: Tensor, key: Tensor) throws -> Tensor {
    if config.scoreMode == "dot" {
      let scores = try Ops.matmul(query, Ops.transpose(key, axes: [0, 2, 1]))
      return try scale.map { try scores * $0.value } ?? scores
    }
    var sum = try Ops.expandDims(query, axis: -2) + Ops.expandDims(key, axis: -3)
    if let scale { sum = try sum * scale.value }
    let scores = try Ops.sum(Ops.tanh(sum), axis: -1)
    return try concatScoreWeight.map { try scores * $0.value } ?? scores
  }

  /// The attention output.
  public func call(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try attend(inputs, training: training)
  }
}

/// Additive attention (Bahdanau-style): scores `Σ scale · tanh(q + k)` over the features, with a
/// learned `scale` per feature when `use_scale`. Keras: `AdditiveAttention(use_scale=True,
/// dropout=0.0)`, applied to `[query, value]` or `[query, value, key]`. Written forward-only.
public final class AdditiveAttention: ScoreAttention, OpsMergeLayer, KerasCallSignature,
  RandomizedLayer, MaskReadingMergeLayer
{
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `use_scale`: a learned weight per feature.
    public var useScale = true
    /// Keras' `dropout`.
    public var dropout: Float = 0
    /// Keras' `seed`: of the dropout masks.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}
  }

  /// The registry key: Keras' `AdditiveAttention`.
  public static let identifier = "AdditiveAttention"
  /// The arguments the layer was made with.
  public let config: Config
  /// `[features]` with `use_scale` (Glorot-uniform initially); `nil` until built.
  public private(set) var scale: Parameter?

  /// A layer from a config.
  public init(config: Config) throws {
    self.config = config
    try super.init(dropout: config.dropout, seed: config.seed, owner: Self.identifier)
  }

  /// `AdditiveAttention()`, as in Keras.
  public convenience init(useScale: Bool = true, dropout: Float = 0) throws {
    var config = Config()
    (config.useScale, config.dropout) = (useScale, dropout)
    try self.init(config: config)
  }

  /// `scale`, when used.
  public var parameters: [Parameter] { [scale].compactMap { $0 } }

  /// Takes `[query, value(, key)]`; gives `(Tq, value features)`.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    let shape = try checkShapes(inputShapes, generator: &generator)
    scale =
      config.useScale
      ? Parameter(
        name: "scale",
        value: try Registries.shared.initializer("glorot_uniform").make(
          shape: [inputShapes[0][1]], generator: &generator)) : nil
    return shape
  }

  override func scores(query: Tensor, key: Tensor) throws -> Tensor {
    var terms = try Ops.tanh(Ops.expandDims(query, axis: -2) + Ops.expandDims(key, axis: -3))
    if let scale { terms = try terms * scale.value }
    return try Ops.sum(terms, axis: -1)
  }

  /// The attention output.
  public func call(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try attend(inputs, training: training)
  }
}
