import Foundation
import StrataCore

/// A vocabulary learnt from data or given, and the lookup of tokens in it: what Keras'
/// `StringLookup`, `IntegerLookup` and `TextVectorization` share (its `IndexLookup`).
///
/// In `"int"` mode with a mask token (`TextVectorization`'s `""`), index 0 is the mask (padding)
/// and index 1 the out-of-vocabulary token; without one, or in `"multi_hot"`, `"count"` and
/// `"tf_idf"`, index 0 is out-of-vocabulary.
/// `adapt` keeps the most frequent tokens, ties broken as Keras breaks them (the token sorting later
/// byte by byte comes first), up to `max_tokens` indices in all.
public struct TokenVocabulary<Token: Hashable & Sendable>: Sendable {
  /// The output modes Keras names.
  public enum OutputMode: String, Sendable, CaseIterable {
    /// Token ids, one per token.
    case int
    /// One column per vocabulary index: 1 where the token occurs.
    case multiHot = "multi_hot"
    /// One column per vocabulary index: how often the token occurs.
    case count
    /// The counts times each index's inverse document frequency.
    case tfIdf = "tf_idf"
  }

  /// How tokens become numbers.
  public let outputMode: OutputMode
  /// Keras' `max_tokens`: the most indices, the special ones included; `nil` for no limit.
  public let maxTokens: Int?
  /// Keras' `pad_to_max_tokens`: the multi-hot, count and tf-idf outputs are `max_tokens` wide.
  public let padToMaxTokens: Bool
  /// The special tokens at the front: the mask (in `"int"` mode) and the out-of-vocabulary token.
  public let specialTokens: [Token]
  /// The learnt or given tokens, after the special ones.
  public private(set) var tokens: [Token] = []
  /// Each token's index.
  private var index: [Token: Int] = [:]
  /// The tf-idf weight of each index (with `"tf_idf"`).
  public private(set) var idfWeights: [Float] = []
  private let owner: String
  private let order: @Sendable (Token, Token) -> Bool

  /// A vocabulary for `outputMode`; `order` is the tie-break ordering of tokens of equal counts
  /// (the first token of a tie gets the smaller index).
  init(
    outputMode: String, maxTokens: Int?, padToMaxTokens: Bool, mask: Token?, oov: Token,
    owner: String, order: @escaping @Sendable (Token, Token) -> Bool
  ) throws {
    guard let mode = OutputMode(rawValue: outputMode) else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "output_mode", value: outputMode,
        expected: "one of "
          + OutputMode.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", "))
    }
    self.outputMode = mode
    specialTokens = (mode == .int ? mask.map { [$0] } ?? [] : []) + [oov]
    if let maxTokens {
      try checkArgument(
        maxTokens > specialTokens.count && maxTokens <= 1 << 24, owner: owner,
        argument: "max_tokens", value: "\(maxTokens)",
        expected: "more than the \(specialTokens.count) special tokens, at most 2^24")
    }
    try checkArgument(
      !padToMaxTokens || maxTokens != nil, owner: owner, argument: "pad_to_max_tokens",
      value: "true", expected: "false without max_tokens")
    self.maxTokens = maxTokens
    self.padToMaxTokens = padToMaxTokens
    self.owner = owner
    self.order = order
  }

  /// The whole vocabulary, special tokens first: Keras' `get_vocabulary()`.
  public var vocabulary: [Token] { specialTokens + tokens }

  /// The number of indices: Keras' `vocabulary_size()`.
  public var size: Int { specialTokens.count + tokens.count }

  /// The width of a multi-hot, count or tf-idf row.
  var width: Int { padToMaxTokens ? maxTokens ?? size : size }

  /// The idf weight of each output column (`"tf_idf"`; zero past the vocabulary), as Keras'
  /// weights file holds them; empty in the other modes.
  var paddedIDFWeights: [Float] {
    guard outputMode == .tfIdf else { return [] }
    return idfWeights + [Float](repeating: 0, count: max(width - size, 0))
  }

  /// The element type Keras gives the output: `"int64"` for ids, `"float32"` for the other modes.
  var outputDType: String { outputMode == .int ? "int64" : "float32" }

  /// Sets the vocabulary (special tokens left out, or given first as Keras returns them).
  mutating func set(_ given: [Token], idfWeights givenWeights: [Float]? = nil) throws {
    var list = given
    if list.starts(with: specialTokens) { list.removeFirst(specialTokens.count) }
    var seen: [Token: Int] = [:]
    for (i, token) in list.enumerated() {
      guard !specialTokens.contains(token) else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "vocabulary", value: "\(token) at \(i)",
          expected: "no special token (mask or out-of-vocabulary) inside the list")
      }
      guard seen.updateValue(i, forKey: token) == nil else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "vocabulary", value: "\(token) twice",
          expected: "each token once")
      }
    }
    if let maxTokens, specialTokens.count + list.count > maxTokens {
      throw StrataError.invalidArgument(
        owner: owner, argument: "vocabulary", value: "\(specialTokens.count + list.count) tokens",
        expected: "at most max_tokens = \(maxTokens), the special tokens included")
    }
    if outputMode == .tfIdf {
      guard let givenWeights,
        givenWeights.count == specialTokens.count + list.count
          || givenWeights.count == list.count
      else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "idf_weights", value: "\(givenWeights?.count ?? 0) weights",
          expected: "one per vocabulary token for output_mode \"tf_idf\"")
      }
      idfWeights =
        givenWeights.count == list.count
        ? Array(repeating: givenWeights.reduce(0, +) / Float(max(list.count, 1)), count: 1)
          + givenWeights
        : givenWeights
    }
    tokens = list
    index = [:]
    for (i, token) in vocabulary.enumerated() { index[token] = i }
  }

  /// Learns the vocabulary from `documents`, each a list of tokens.
  mutating func adapt(_ documents: [[Token]]) throws {
    var counts: [Token: Int] = [:]
    var documentCounts: [Token: Int] = [:]
    for document in documents {
      for token in document { counts[token, default: 0] += 1 }
      if outputMode == .tfIdf {
        for token in Set(document) { documentCounts[token, default: 0] += 1 }
      }
    }
    for special in specialTokens { counts[special] = nil }
    var learnt = counts.sorted { a, b in
      a.value != b.value ? a.value > b.value : order(a.key, b.key)
    }
    .map(\.key)
    if let maxTokens { learnt = Array(learnt.prefix(maxTokens - specialTokens.count)) }
    guard outputMode == .tfIdf else { return try set(learnt) }
    let weights = learnt.map { token in
      Float(log(1 + Double(documents.count) / Double(1 + documentCounts[token, default: 0])))
    }
    try set(learnt, idfWeights: weights)
  }

  /// The index of `token`: the out-of-vocabulary index when it is not known.
  func lookup(_ token: Token) -> Int { index[token] ?? specialTokens.count - 1 }

  /// The token at `index`, or `nil` outside the vocabulary.
  func token(at index: Int) -> Token? {
    index >= 0 && index < size ? vocabulary[index] : nil
  }

  /// One row per document: ids padded with 0 (or cut) to `length` in `"int"` mode, the longest
  /// document's length when `nil`; multi-hot, counts or tf-idf otherwise.
  func encode(_ documents: [[Token]], length: Int?) throws -> Tensor {
    switch outputMode {
    case .int:
      let steps = length ?? documents.map(\.count).max() ?? 0
      var ids = [Float](repeating: 0, count: documents.count * steps)
      for (row, document) in documents.enumerated() {
        for (t, token) in document.prefix(steps).enumerated() {
          ids[row * steps + t] = Float(lookup(token))
        }
      }
      return try Tensor(shape: [documents.count, steps], scalars: ids)
    case .multiHot, .count, .tfIdf:
      let width = self.width
      var values = [Float](repeating: 0, count: documents.count * width)
      for (row, document) in documents.enumerated() {
        for token in document {
          let i = row * width + lookup(token)
          values[i] = outputMode == .multiHot ? 1 : values[i] + 1
        }
        if outputMode == .tfIdf {
          for j in 0..<min(width, idfWeights.count) { values[row * width + j] *= idfWeights[j] }
        }
      }
      return try Tensor(shape: [documents.count, width], scalars: values)
    }
  }
}
