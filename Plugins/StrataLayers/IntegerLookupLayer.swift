import StrataCore

/// Maps whole numbers to vocabulary indices inside a model, as Keras' `IntegerLookup` layer does
/// (or, with `invert`, indices back to the numbers); registered as `"IntegerLookup"`.
///
/// Keras: `IntegerLookup(max_tokens=None, num_oov_indices=1, mask_token=None, oov_token=-1,
/// vocabulary=None, vocabulary_dtype="int64", idf_weights=None, invert=False, output_mode="int",
/// pad_to_max_tokens=False)`. The indices are laid out as Keras lays them: in `"int"` mode the mask
/// (when `mask_token` is set) at 0, then `num_oov_indices` out-of-vocabulary indices, then the
/// vocabulary; in the other modes the mask has no index and a masked value adds nothing. A value
/// outside the vocabulary takes out-of-vocabulary index `value mod num_oov_indices` (Keras'
/// `"floormod"`); with `num_oov_indices = 0` it is an error naming the value.
///
/// `output_mode` `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"` gives one column per index
/// (`max_tokens` columns with `pad_to_max_tokens`); multi-hot, count and tf-idf take one row of values
/// per sample. The layer has no weights and passes no gradient (its input is integers). To learn a
/// vocabulary from data, adapt `StrataData`'s `IntegerLookup` and take its `layer()`.
///
/// The config is kept normalized: ``Config/vocabulary`` holds the special tokens first, as Keras'
/// `get_vocabulary()`, and ``Config/idfWeights`` one weight per index, so that a saved file loads in
/// Keras with the same lookups.
public final class IntegerLookupLayer: Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig, ConfigReadsMoreKeys {
    /// Keras' `invert`: indices to values instead of values to indices.
    public var invert: Bool = false
    /// Keras' `max_tokens`: the most indices, the special ones included.
    public var maxTokens: Int?
    /// Keras' `num_oov_indices`: how many indices out-of-vocabulary values share.
    public var numOovIndices: Int = 1
    /// Keras' `oov_token`: the value an inverted lookup gives for an unknown index.
    public var oovToken: Int = -1
    /// Keras' `mask_token`: the value that stands for padding.
    public var maskToken: Int?
    /// Keras' `output_mode`: `"int"`, `"one_hot"`, `"multi_hot"`, `"count"` or `"tf_idf"`.
    public var outputMode: String = "int"
    /// Keras' `pad_to_max_tokens`: `max_tokens` columns in the column modes.
    public var padToMaxTokens: Bool = false
    /// Keras' `vocabulary_dtype`: `"int64"` or `"int32"`.
    public var vocabularyDtype: String = "int64"
    /// Keras' `idf_weights` (`"tf_idf"` only).
    public var idfWeights: [Float]?
    /// Keras' `vocabulary`: the known values, with or without the special tokens in front.
    public var vocabulary: [Int]?
    /// Keras' `vocabulary_size`, as Keras writes it (recomputed from the vocabulary).
    public var vocabularySize: Int?
    /// Keras' `oov_method`: `"floormod"` (Strata has no FarmHash).
    public var oovMethod: String = "floormod"

    /// Keras' defaults.
    public init() {}

    /// Keras' `salt`, read (only `null`: it seeds FarmHash) and not written.
    public static let readOnlyKeys: Set<String> = ["salt"]
  }

  /// The registry key: Keras' `IntegerLookup`.
  public static let identifier = "IntegerLookup"
  /// The arguments the layer was made with, normalized (see the type's description).
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let mode: Mode
  private let oovStart: Int
  private let tokenStart: Int
  /// The known values, special tokens left out.
  private let tokens: [Int]
  /// Each known value's index.
  private let index: [Int: Int]
  /// One tf-idf weight per output column.
  private let columnWeights: [Float]
  private var inputShape: [Int] = []
  private var outputShape: [Int] = []

  private enum Mode: String, CaseIterable {
    case int
    case oneHot = "one_hot"
    case multiHot = "multi_hot"
    case count
    case tfIdf = "tf_idf"
  }

  /// The largest magnitude a value may have: floats hold every whole number up to it.
  private static let valueLimit = 1 << 24

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `IntegerLookupLayer(vocabulary: [12, 36, 42])`, as Keras' `IntegerLookup(vocabulary=[12, 36, 42])`.
  public convenience init(
    vocabulary: [Int], numOovIndices: Int = 1, maskToken: Int? = nil, oovToken: Int = -1,
    outputMode: String = "int", idfWeights: [Float]? = nil, maxTokens: Int? = nil,
    padToMaxTokens: Bool = false, invert: Bool = false, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.vocabulary = vocabulary
    (config.numOovIndices, config.maskToken, config.oovToken) = (numOovIndices, maskToken, oovToken)
    (config.outputMode, config.idfWeights, config.maxTokens) = (outputMode, idfWeights, maxTokens)
    (config.padToMaxTokens, config.invert) = (padToMaxTokens, invert)
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config given: Config, inputShape: [Int]?) throws {
    let owner = "IntegerLookup"
    guard let mode = Mode(rawValue: given.outputMode) else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "output_mode", value: given.outputMode,
        expected: "one of " + Mode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
    }
    try checkArgument(
      !given.invert || mode == .int, owner: owner, argument: "invert", value: "true",
      expected: "false unless output_mode is \"int\"")
    try checkArgument(
      given.oovMethod == "floormod", owner: owner, argument: "oov_method", value: given.oovMethod,
      expected: "\"floormod\" (Strata has no FarmHash)")
    try checkArgument(
      ["int64", "int32"].contains(given.vocabularyDtype), owner: owner,
      argument: "vocabulary_dtype", value: given.vocabularyDtype, expected: "\"int64\" or \"int32\""
    )
    try checkArgument(
      given.numOovIndices >= 0 && given.numOovIndices <= 1 << 16, owner: owner,
      argument: "num_oov_indices", value: "\(given.numOovIndices)", expected: "0 to 65536")
    for (argument, value) in [("mask_token", given.maskToken), ("oov_token", given.oovToken)] {
      guard let value else { continue }
      try checkArgument(
        abs(value) <= Self.valueLimit, owner: owner, argument: argument, value: "\(value)",
        expected: "a whole number up to 2^24 in magnitude")
    }
    try checkArgument(
      !given.padToMaxTokens || given.maxTokens != nil, owner: owner,
      argument: "pad_to_max_tokens", value: "true", expected: "false without max_tokens")
    guard let vocabulary = given.vocabulary else {
      throw StrataError.missingArgument(owner: owner, argument: "vocabulary")
    }
    let oovStart = given.maskToken != nil && mode == .int ? 1 : 0
    let tokenStart = oovStart + given.numOovIndices
    let special =
      Array(repeating: given.maskToken ?? 0, count: oovStart)
      + Array(repeating: given.oovToken, count: given.numOovIndices)
    let hasSpecial = vocabulary.starts(with: special)
    let tokens = hasSpecial ? Array(vocabulary.dropFirst(special.count)) : vocabulary
    var index: [Int: Int] = [:]
    for (i, token) in tokens.enumerated() {
      try checkArgument(
        abs(token) <= Self.valueLimit, owner: owner, argument: "vocabulary",
        value: "\(token) at \(i)", expected: "whole numbers up to 2^24 in magnitude")
      try checkArgument(
        token != given.maskToken && !(given.invert && token == given.oovToken), owner: owner,
        argument: "vocabulary", value: "\(token) at \(i)",
        expected: "no mask token (nor, inverted, the oov token) among the values")
      guard index.updateValue(tokenStart + i, forKey: token) == nil else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "vocabulary", value: "\(token) twice",
          expected: "each value once")
      }
    }
    let size = tokenStart + tokens.count
    if let maxTokens = given.maxTokens {
      try checkArgument(
        maxTokens > tokenStart && maxTokens <= Self.valueLimit, owner: owner,
        argument: "max_tokens", value: "\(maxTokens)",
        expected: "more than the \(tokenStart) special indices, at most 2^24")
      try checkArgument(
        size <= maxTokens, owner: owner, argument: "vocabulary", value: "\(size) indices",
        expected: "at most max_tokens = \(maxTokens), the special ones included")
    }
    var weights: [Float] = []
    if mode == .tfIdf {
      guard let idf = given.idfWeights, idf.count == vocabulary.count else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "idf_weights", value: "\(given.idfWeights?.count ?? 0) weights",
          expected: "one per vocabulary entry (\(vocabulary.count)) for output_mode \"tf_idf\"")
      }
      // Keras gives the special indices the mean weight when the vocabulary leaves them out.
      let mean = idf.isEmpty ? 0 : idf.reduce(0, +) / Float(idf.count)
      weights = (hasSpecial ? [] : Array(repeating: mean, count: tokenStart)) + idf
    } else {
      try checkArgument(
        given.idfWeights == nil, owner: owner, argument: "idf_weights", value: "a list",
        expected: "null unless output_mode is \"tf_idf\"")
    }
    var config = given
    config.vocabulary = special + tokens
    config.idfWeights = mode == .tfIdf ? weights : nil
    config.vocabularySize = size
    self.config = config
    let depth = given.padToMaxTokens ? given.maxTokens ?? size : size
    columnWeights = weights + Array(repeating: 0, count: max(depth - weights.count, 0))
    (self.mode, self.oovStart, self.tokenStart) = (mode, oovStart, tokenStart)
    (self.tokens, self.index) = (tokens, index)
    declaredInputShape = inputShape
  }

  /// The number of indices, the special ones included: Keras' `vocabulary_size()`.
  public var vocabularySize: Int { tokenStart + tokens.count }

  /// The columns of the one-hot, multi-hot, count and tf-idf outputs.
  private var depth: Int {
    config.padToMaxTokens ? config.maxTokens ?? vocabularySize : vocabularySize
  }

  /// `"int"` keeps the input's shape; `"one_hot"` adds a column axis (replacing a last axis of 1);
  /// the other modes turn each sample's row into one row of columns.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    switch mode {
    case .int:
      outputShape = inputShape
    case .oneHot:
      outputShape = (inputShape.last == 1 ? Array(inputShape.dropLast()) : inputShape) + [depth]
    case .multiHot, .count, .tfIdf:
      guard inputShape.count == 1 else {
        throw StrataError.shapeMismatch(
          layer: "IntegerLookup",
          received: "an input of shape \(kerasShape(inputShape))",
          expected: "one row of values per sample, (None, n), for output_mode \"\(mode.rawValue)\"")
      }
      outputShape = [depth]
    }
    _ = try elementCount(of: outputShape, owner: "IntegerLookup")
    self.inputShape = inputShape
    return outputShape
  }

  /// The index of each value (or, inverted, the value of each index), or each sample's columns.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "IntegerLookup", expected: inputShape)
    let batch = x.shape.first ?? 0
    let values = try x.withUnsafeBufferPointer { values in
      try values.map { value -> Int in
        guard value == value.rounded(), abs(value) <= Float(Self.valueLimit) else {
          throw StrataError.invalidArgument(
            owner: "IntegerLookup", argument: "input", value: "\(value)",
            expected: "whole numbers up to 2^24 in magnitude")
        }
        return Int(value)
      }
    }
    if config.invert {
      return try Tensor(shape: x.shape, scalars: values.map { Float(token(at: $0)) })
    }
    let indices = try values.map(lookup)
    if mode == .int { return try Tensor(shape: x.shape, scalars: indices.map(Float.init)) }
    let depth = self.depth
    let perRow = mode == .oneHot ? 1 : x.count / max(batch, 1)
    var columns = [Float](repeating: 0, count: indices.count / max(perRow, 1) * depth)
    for (i, column) in indices.enumerated() where column >= 0 && column < depth {
      let at = i / perRow * depth + column
      columns[at] = mode == .oneHot || mode == .multiHot ? 1 : columns[at] + 1
    }
    if mode == .tfIdf {
      for i in columns.indices { columns[i] *= columnWeights[i % depth] }
    }
    return try Tensor(shape: [batch] + outputShape, scalars: columns)
  }

  /// The index of `value`; `-1` for a masked value outside `"int"` mode (it adds no column).
  private func lookup(_ value: Int) throws -> Int {
    if value == config.maskToken { return mode == .int ? 0 : -1 }
    if let known = index[value] { return known }
    guard config.numOovIndices > 0 else {
      throw StrataError.invalidArgument(
        owner: "IntegerLookup", argument: "input", value: "\(value)",
        expected: "a value in the vocabulary (num_oov_indices is 0)")
    }
    let remainder = value % config.numOovIndices
    return oovStart + (remainder < 0 ? remainder + config.numOovIndices : remainder)
  }

  /// The value at `index` (inverted lookup): the mask token at 0 when there is one, the oov token
  /// for an index that holds no value.
  private func token(at index: Int) -> Int {
    if let mask = config.maskToken, index == 0 { return mask }
    guard index >= tokenStart, index < tokenStart + tokens.count else { return config.oovToken }
    return tokens[index - tokenStart]
  }

  /// No gradient reaches integer inputs: zeros of the input's shape.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    Tensor(shape: [outputGradient.shape.first ?? 0] + inputShape)
  }
}

extension IntegerLookupLayer: KerasOwnVariables {
  /// Keras keeps a tf-idf lookup's weights (one per column) as `vars/idf_weights`.
  public var kerasOwnVariables: [(name: String, value: Tensor)] {
    guard mode == .tfIdf, let weights = try? Tensor(shape: [depth], scalars: columnWeights)
    else { return [] }
    return [("idf_weights", weights)]
  }
}
