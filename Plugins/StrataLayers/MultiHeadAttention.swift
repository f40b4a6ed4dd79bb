import StrataCore

/// Multi-head attention (Vaswani et al., 2017), as Keras computes it: the query, key and value
/// projected to `num_heads` heads (`[features, heads, key_dim]` kernels, Keras' `EinsumDense`
/// layout), scaled dot products, a softmax over the keys (masked positions get -1e9 and then 0),
/// dropout of the probabilities in training, and the heads projected back to the query's features
/// (or `output_shape`).
///
/// Keras: `MultiHeadAttention(num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True,
/// output_shape=None)`, called as `mha(query, value, key=None, attention_mask=None,
/// use_causal_mask=False)`. In a functional model its inputs are `[query, value]`, then `key`,
/// then `attention_mask` (`(batch, T, S)`, 1 where a query step may see a key step; a key is
/// given with it, `value` again if none). The query's and value's masks combine with it as in
/// Keras, and the output keeps the query's mask. Sequences only (Keras' default `attention_axes`
/// for `(batch, steps, features)`); `return_attention_scores`, `use_gate` and `sliding_window` are
/// refused by name. Written forward-only on ``StrataCore/Ops/einsum(_:_:)``.
public final class MultiHeadAttention: OpsMergeLayer, KerasCallSignature, KerasNestedWeights,
  RandomizedLayer, MaskReadingMergeLayer, ActivityRegularized, MultiOutputLayer
{
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `num_heads`.
    public var numHeads = 0
    /// Keras' `key_dim`: the size of each head for the query and key.
    public var keyDim = 0
    /// Keras' `value_dim`: the size of each head for the value; `key_dim` when `nil`.
    public var valueDim: Int?
    /// Keras' `dropout`: of the attention probabilities, in training.
    public var dropout: Float = 0
    /// Keras' `output_shape`: the output's last axis (a number or a one-element list); the
    /// query's features when `nil`.
    public var outputShape: ConfigValue?
    /// Keras' `attention_axes`: `nil` or `[1]` (the steps of a sequence).
    public var attentionAxes: ConfigValue?
    /// Keras' `use_gate` (false only).
    public var useGate = false
    /// Keras' `sliding_window` (`nil` only).
    public var slidingWindow: Int?
    /// Keras' `seed`: of the dropout masks.
    public var seed: UInt64?
    /// The kernels' and biases' initializers, constraints and regularizers.
    public var weights = WeightArguments()

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["num_heads", "key_dim"]

    enum CodingKeys: String, CodingKey {
      case numHeads, keyDim, valueDim, dropout, outputShape, attentionAxes, useGate
      case slidingWindow, seed
    }

    /// Decodes the arguments, the weights' from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      numHeads = try container.decode(.numHeads)
      keyDim = try container.decode(.keyDim)
      valueDim = try container.decodeIfPresent(Int.self, forKey: .valueDim)
      dropout = try container.decode(.dropout)
      outputShape = try container.decodeIfPresent(ConfigValue.self, forKey: .outputShape)
      attentionAxes = try container.decodeIfPresent(ConfigValue.self, forKey: .attentionAxes)
      useGate = try container.decode(.useGate)
      slidingWindow = try container.decodeIfPresent(Int.self, forKey: .slidingWindow)
      seed = try container.decodeIfPresent(UInt64.self, forKey: .seed)
      weights = try WeightArguments(from: decoder)
    }

    /// Encodes the arguments, the weights' into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(numHeads, forKey: .numHeads)
      try container.encode(keyDim, forKey: .keyDim)
      try container.encode(valueDim ?? keyDim, forKey: .valueDim)
      try container.encode(dropout, forKey: .dropout)
      try container.encode(outputShape ?? .null, forKey: .outputShape)
      try container.encode(attentionAxes ?? .null, forKey: .attentionAxes)
      try container.encode(useGate, forKey: .useGate)
      try container.encode(slidingWindow, forKey: .slidingWindow)
      try container.encode(seed, forKey: .seed)
      try weights.encode(to: encoder)
    }
  }

  /// The registry key: Keras' `MultiHeadAttention`.
  public static let identifier = "MultiHeadAttention"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `use_causal_mask` of its calls: a query step sees only the key steps up to its own.
  public var useCausalMask = false
  /// Keras' `return_attention_scores` of its calls (set before the layer is applied): the
  /// attention probabilities `(heads, query steps, key steps)` as a second output.
  public var returnAttentionScores = false
  /// With `return_attention_scores`, the output's shape and the scores'; `nil` otherwise.
  public private(set) var outputShapes: [[Int]]?
  /// The masks of the next call's inputs.
  public var inputMasks: [Tensor?] = []
  private let options: WeightOptions
  private let causal = CausalMask()
  private let outputFeatures: Int?
  private var generator = SeededGenerator(seed: 0)
  private var inputShapes: [[Int]] = []
  /// The query, key, value and output projections (kernel, then bias); empty until built.
  public private(set) var projections: [(kernel: Parameter, bias: Parameter?)] = []

  /// A layer from a config.
  public init(config: Config) throws {
    let owner = Self.identifier
    for (argument, value) in [("num_heads", config.numHeads), ("key_dim", config.keyDim)]
      + (config.valueDim.map { [("value_dim", $0)] } ?? [])
    {
      try checkArgument(
        value > 0 && value <= 1 << 16, owner: owner, argument: argument, value: "\(value)",
        expected: "a positive integer")
    }
    try checkArgument(
      config.dropout >= 0 && config.dropout < 1, owner: owner, argument: "dropout",
      value: "\(config.dropout)", expected: "a number in [0, 1)")
    switch config.outputShape {
    case nil, .null?: outputFeatures = nil
    case .int(let n)? where n > 0: outputFeatures = n
    case .array(let list)? where list.count == 1 && (list[0].intValue ?? 0) > 0:
      outputFeatures = list[0].intValue
    case let other?:
      throw StrataError.invalidArgument(
        owner: owner, argument: "output_shape", value: other.description,
        expected: "a positive number of features, or [features]")
    }
    switch config.attentionAxes {
    case nil, .null?, .int(1)?, .int(-2)?: break
    case .array(let axes)? where axes == [.int(1)] || axes == [.int(-2)]: break
    case let other?:
      throw StrataError.invalidArgument(
        owner: owner, argument: "attention_axes", value: other.description,
        expected: "[1]: attention over the steps of (batch, steps, features)")
    }
    try checkArgument(
      !config.useGate, owner: owner, argument: "use_gate", value: "true", expected: "false")
    try checkArgument(
      config.slidingWindow == nil, owner: owner, argument: "sliding_window",
      value: "\(config.slidingWindow ?? 0)", expected: "null (no sliding window)")
    options = try WeightOptions(config.weights)
    self.config = config
    if let seed = config.seed { generator = SeededGenerator(seed: seed) }
  }

  /// `MultiHeadAttention(numHeads: 2, keyDim: 16)`, as Keras' `MultiHeadAttention(2, 16)`.
  public convenience init(
    numHeads: Int, keyDim: Int, valueDim: Int? = nil, dropout: Float = 0, useBias: Bool = true,
    outputShape: Int? = nil
  ) throws {
    var config = Config()
    (config.numHeads, config.keyDim, config.valueDim) = (numHeads, keyDim, valueDim)
    config.dropout = dropout
    config.weights.useBias = useBias
    config.outputShape = outputShape.map { .array([.int($0)]) }
    try self.init(config: config)
  }

  private var valueDim: Int { config.valueDim ?? config.keyDim }

  /// The projections' weights in Keras' order: query, key, value, output.
  public var parameters: [Parameter] {
    projections.flatMap { [$0.kernel] + ($0.bias.map { [$0] } ?? []) }
  }

  /// Keras keeps each projection's in its own `EinsumDense` group.
  public var kerasWeightLocations: [(group: String, index: Int)] {
    zip(["query_dense", "key_dense", "value_dense", "output_dense"], projections).flatMap {
      group, projection in [(group, 0)] + (projection.bias == nil ? [] : [(group, 1)])
    }
  }

  /// The groups Keras writes, its softmax's and dropout's among them.
  public var kerasWeightGroupNames: [String: String] {
    [
      "query_dense": "query", "key_dense": "key", "value_dense": "value",
      "output_dense": "attention_output", "_softmax": "softmax", "_dropout_layer": "dropout",
    ]
  }

  /// The dropout generator.
  public var generatorState: [UInt64] {
    get { generator.state }
    set { generator.state = newValue }
  }

  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }

  /// Takes `[query, value]`, then `key`, then `attention_mask`; gives the query's shape with
  /// `output_shape` features.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    let owner = Self.identifier
    guard (2...4).contains(inputShapes.count) else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "inputs", value: "\(inputShapes.count) tensors",
        expected: "[query, value], then key, then attention_mask")
    }
    let sequences = inputShapes.prefix(3)
    for shape in sequences where shape.count != 2 || shape.contains(where: { $0 <= 0 }) {
      throw StrataError.shapeMismatch(
        layer: owner, received: "an input of shape \(kerasShape(shape))",
        expected: "sequences (None, steps, features)")
    }
    let (query, value) = (inputShapes[0], inputShapes[1])
    let key = inputShapes.count > 2 ? inputShapes[2] : value
    guard key[0] == value[0] else {
      throw StrataError.shapeMismatch(
        layer: owner, received: "key \(kerasShape(key)) and value \(kerasShape(value))",
        expected: "as many key steps as value steps")
    }
    if inputShapes.count == 4, inputShapes[3] != [query[0], value[0]] {
      throw StrataError.shapeMismatch(
        layer: owner, received: "attention_mask \(kerasShape(inputShapes[3]))",
        expected: "\(kerasShape([query[0], value[0]])): (batch, query steps, key steps)")
    }
    let (heads, keyDim) = (config.numHeads, config.keyDim)
    let output = outputFeatures ?? query[1]
    var made: [(Parameter, Parameter?)] = []
    for (kernel, bias) in [
      ([query[1], heads, keyDim], [heads, keyDim]), ([key[1], heads, keyDim], [heads, keyDim]),
      ([value[1], heads, valueDim], [heads, valueDim]), ([heads, valueDim, output], [output]),
    ] {
      _ = try elementCount(of: kernel, owner: owner)
      made.append(
        try options.makeWeights(
          kernelShape: kernel, units: 0, biasShape: bias, generator: &generator))
    }
    projections = made
    let stream = generator.split()
    if config.seed == nil { self.generator = stream }
    self.inputShapes = inputShapes
    guard returnAttentionScores else {
      outputShapes = nil
      return [query[0], output]
    }
    outputShapes = [[query[0], output], [heads, query[0], key[0]]]
    return [query[0] * output + heads * query[0] * key[0]]
  }

  /// Attention of the query over the value (and key, and mask) given in order.
  public func call(_ inputs: [Tensor], training: Bool) throws -> Tensor {
    try checkArgument(
      inputs.count == inputShapes.count, owner: Self.identifier, argument: "inputs",
      value: "\(inputs.count) tensors", expected: "\(inputShapes.count), as built")
    for (x, shape) in zip(inputs, inputShapes) {
      try checkInput(x, layer: Self.identifier, expected: shape)
    }
    let masks = inputMasks.count == inputs.count ? inputMasks : []
    return try attend(
      query: inputs[0], value: inputs[1], key: inputs.count > 2 ? inputs[2] : nil,
      attentionMask: inputs.count > 3 ? inputs[3] : nil,
      queryMask: masks.first ?? nil, valueMask: masks.count > 1 ? masks[1] : nil,
      keyMask: masks.count > 2 ? masks[2] : nil, useCausalMask: useCausalMask, training: training,
      returnScores: outputShapes != nil)
  }

  /// Keras' `mha(query, value, key, attention_mask, use_causal_mask)` on tensors, with ops (on a
  /// tape when one records): the layer must be built.
  public func callAsFunction(
    _ query: Tensor, _ value: Tensor, key: Tensor? = nil, attentionMask: Tensor? = nil,
    useCausalMask: Bool = false, training: Bool = false
  ) throws -> Tensor {
    try attend(
      query: query, value: value, key: key, attentionMask: attentionMask, queryMask: nil,
      valueMask: nil, keyMask: nil, useCausalMask: useCausalMask, training: training)
  }

  private func attend(
    query: Tensor, value: Tensor, key: Tensor?, attentionMask: Tensor?, queryMask: Tensor?,
    valueMask: Tensor?, keyMask: Tensor?, useCausalMask: Bool, training: Bool,
    returnScores: Bool = false
  ) throws -> Tensor {
    guard projections.count == 4 else {
      throw StrataError.invalidState("MultiHeadAttention: called before build.")
    }
    let key = key ?? value
    let (batch, queryLength, keyLength) = (query.shape[0], query.shape[1], key.shape[1])
    func project(_ x: Tensor, _ index: Int) throws -> Tensor {
      let (kernel, bias) = projections[index]
      let y = try Ops.einsum("abc,cde->abde", x, kernel.value)
      return try bias.map { try y + $0.value } ?? y
    }
    let q = try project(query, 0) * (1 / Float(config.keyDim).squareRoot())
    let k = try project(key, 1), v = try project(value, 2)
    // [batch, heads, query steps, key steps]
    var scores = try Ops.einsum("aecd,abcd->acbe", k, q)
    var mask: Tensor? = try attentionMask.map { try Ops.stopGradient($0) .!= 0 }
    func and(_ next: Tensor) throws { mask = try mask.map { try $0 * next } ?? next }
    if let queryMask { try and(Ops.reshape(queryMask, [batch, queryLength, 1])) }
    if let valueMask { try and(Ops.reshape(valueMask, [batch, 1, keyLength])) }
    if let keyMask { try and(Ops.reshape(keyMask, [batch, 1, keyLength])) }
    if useCausalMask { try and(causal.mask(queryLength, keyLength)) }
    if let mask {
      let expanded = try Ops.expandDims(mask, axis: -3)
      scores = try Ops.where(expanded, scores, Tensor(scalar: -1e9))
      scores = try Ops.where(expanded, Ops.softmax(scores, axis: -1), Tensor(scalar: 0))
    } else {
      scores = try Ops.softmax(scores, axis: -1)
    }
    let probabilities = scores
    if training && config.dropout > 0 {
      let rate = config.dropout, scale = 1 / (1 - config.dropout)
      var keep = Tensor(shape: scores.shape)
      keep.withUnsafeMutableBufferPointer { m in
        for i in m.indices { m[i] = generator.nextUniform() >= rate ? scale : 0 }
      }
      scores = try scores * keep
    }
    let heads = try Ops.einsum("acbe,aecd->abcd", scores, v)
    let (kernel, bias) = projections[3]
    var y = try Ops.einsum("abcd,cde->abe", heads, kernel.value)
    if let bias { y = try y + bias.value }
    guard returnScores else { return y }
    // The output and the probabilities, packed side by side per batch row (two outputs).
    return try Ops.concatenate(
      [
        Ops.reshape(y, [batch, y.count / max(batch, 1)]),
        Ops.reshape(probabilities, [batch, probabilities.count / max(batch, 1)]),
      ], axis: 1)
  }

  /// The query's mask.
  public func outputMask(inputMasks: [Tensor?]) throws -> Tensor? { inputMasks.first ?? nil }

  /// Reads Keras' `mha(query, value, key, attention_mask=…, use_causal_mask=…)`.
  public func inputs(
    ofKerasCall args: [ConfigValue], kwargs: ConfigDictionary,
    tensor: (ConfigValue) throws -> SymbolicTensor
  ) throws -> [SymbolicTensor] {
    let owner = Self.identifier
    let names = ["query", "value", "key"]
    var given: [String: ConfigValue] = [:]
    for (name, value) in zip(names, args) { given[name] = value }
    let options = try attentionCallOptions(
      kwargs, owner: owner, tensors: ["query", "value", "key", "attention_mask"],
      allowsScores: true)
    if let causal = options.useCausalMask { useCausalMask = causal }
    returnAttentionScores = options.returnsScores
    given.merge(options.tensors) { _, keyword in keyword }
    guard args.count <= 3, let query = given["query"], let value = given["value"] else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "inbound_nodes",
        value: String(ConfigValue.array(args).description.prefix(120)),
        expected: "a call with a query and a value (and at most a key as a third argument)")
    }
    var inputs = [try tensor(query), try tensor(value)]
    if let key = given["key"] {
      inputs.append(try tensor(key))
    } else if given["attention_mask"] != nil {
      inputs.append(inputs[1])
    }
    if let mask = given["attention_mask"] { inputs.append(try tensor(mask)) }
    return inputs
  }

  /// Keras' call: query, value and key as arguments, the mask and `use_causal_mask` as keywords.
  public func kerasCall(tensors: [ConfigValue]) -> (args: [ConfigValue], kwargs: ConfigDictionary) {
    var kwargs: ConfigDictionary = [:]
    if tensors.count > 3 { kwargs["attention_mask"] = tensors[3] }
    if useCausalMask { kwargs["use_causal_mask"] = true }
    if returnAttentionScores { kwargs["return_attention_scores"] = true }
    return (Array(tensors.prefix(3)), kwargs)
  }
}

extension MultiHeadAttention {
  /// Applies the layer to symbolic tensors, as Keras' `mha(query, value, key=…,
  /// attention_mask=…, use_causal_mask=…, return_attention_scores=…)` in a functional model: the
  /// output, and with `returnAttentionScores` the probabilities as its call's second output
  /// (``StrataCore/SymbolicTensor/outputsOfItsCall()``).
  public func callAsFunction(
    _ query: some SymbolicInput, _ value: some SymbolicInput, key: (any SymbolicInput)? = nil,
    attentionMask: (any SymbolicInput)? = nil, useCausalMask: Bool = false,
    returnAttentionScores: Bool = false
  ) throws -> SymbolicTensor {
    self.useCausalMask = useCausalMask
    self.returnAttentionScores = returnAttentionScores
    var inputs = [try query.symbolicTensor, try value.symbolicTensor]
    if let key {
      inputs.append(try key.symbolicTensor)
    } else if attentionMask != nil {
      inputs.append(inputs[1])
    }
    if let attentionMask { inputs.append(try attentionMask.symbolicTensor) }
    return try apply(to: inputs, takesList: true, name: nil)
  }
}

/// The keywords of an attention layer's Keras call: the tensors among `tensors`, and
/// `use_causal_mask` (`nil` when not given) and `return_attention_scores` (false unless
/// `allowsScores`); `training` and `mask` are Keras' own; any other keyword is refused with the
/// closest names.
func attentionCallOptions(
  _ kwargs: ConfigDictionary, owner: String, tensors: Set<String>, allowsScores: Bool = false
) throws -> (useCausalMask: Bool?, tensors: [String: ConfigValue], returnsScores: Bool) {
  var useCausalMask: Bool?
  var returnsScores = false
  var given: [String: ConfigValue] = [:]
  for (name, value) in kwargs where !value.isNull {
    switch name {
    case _ where tensors.contains(name): given[name] = value
    case "use_causal_mask":
      guard case .bool(let flag) = value else {
        throw StrataError.invalidArgument(
          owner: owner, argument: name, value: value.description, expected: "true or false")
      }
      useCausalMask = flag
    case "return_attention_scores":
      try checkArgument(
        value == .bool(false) || (allowsScores && value == .bool(true)), owner: owner,
        argument: name, value: value.description,
        expected: allowsScores ? "true or false" : "false (the layer gives one output)")
      returnsScores = value == .bool(true)
    case "training", "mask": continue
    default:
      throw StrataError.unknownArgument(
        owner: owner, argument: name,
        suggestions: closestNames(
          to: name, in: tensors.sorted() + ["use_causal_mask", "return_attention_scores"]))
    }
  }
  return (useCausalMask, given, returnsScores)
}

/// Keras' causal mask `[1, T, S]` (1 where key step `j` is at most query step `i`), made once per
/// shape and kept: a training step reuses it.
final class CausalMask {
  private var made = Tensor(shape: [1, 0, 0])

  /// The mask for `queryLength` query steps and `keyLength` key steps.
  func mask(_ queryLength: Int, _ keyLength: Int) -> Tensor {
    guard made.shape != [1, queryLength, keyLength] else { return made }
    var mask = Tensor(shape: [1, queryLength, keyLength])
    mask.withUnsafeMutableBufferPointer { m in
      for i in 0..<queryLength {
        for j in 0...min(i, keyLength - 1) { m[i * keyLength + j] = 1 }
      }
    }
    made = mask
    return mask
  }
}
