import StrataCore

/// Turns text into numbers as Keras' `TextVectorization` does: standardize, split, make n-grams,
/// then look the tokens up in a vocabulary learnt with ``adapt(_:)`` or given.
///
/// ```swift
/// let vectorize = try TextVectorization(maxTokens: 20_000, outputSequenceLength: 64)
/// try vectorize.adapt(trainingTexts)
/// let ids = try vectorize(["the cat sat"])  // (1, 64) token ids, 0-padded
/// ```
///
/// - `standardize`: `"lower_and_strip_punctuation"` (Keras' default: ASCII letters lowered, ASCII
///   punctuation removed, as TensorFlow's string ops do), `"lower"`, `"strip_punctuation"` or `nil`.
/// - `split`: `"whitespace"` (runs of ASCII whitespace), `"character"` (Unicode scalars) or `nil`.
/// - `ngrams`: `n` adds every 2- … n-gram (joined by a space) after the tokens.
/// - `outputMode`: `"int"` (ids: 0 is padding, 1 out-of-vocabulary; rows padded or cut to
///   `outputSequenceLength`, or to the longest row), `"multi_hot"`, `"count"` or `"tf_idf"` (one
///   column per vocabulary index, `max_tokens` columns with `padToMaxTokens`).
///
/// It runs on strings before a model, as the Keras guides run it in their input pipelines, or as a
/// model's text input (`model.setTextVectorization(vectorize)`, then `model.predict(texts:)`): a
/// `.keras` model whose `Input(dtype="string")` feeds a `TextVectorization` layer loads so, its
/// vocabulary read from the archive's assets, and saves back as Keras writes it. ``kerasConfig``
/// is Keras' config, vocabulary included.
public final class TextVectorization: TextPreprocessing {
  private var lookup: TokenVocabulary<String>
  /// Keras' `standardize`.
  public let standardize: String?
  /// Keras' `split`.
  public let split: String?
  /// The n-gram widths produced (Keras' `ngrams=n` is `1…n`).
  public let ngramWidths: [Int]?
  /// Keras' `output_sequence_length`.
  public let outputSequenceLength: Int?

  /// A vectorizer with Keras' arguments; `vocabulary` (and, for `"tf_idf"`, `idfWeights`) instead
  /// of ``adapt(_:)``.
  public convenience init(
    maxTokens: Int? = nil, standardize: String? = "lower_and_strip_punctuation",
    split: String? = "whitespace", ngrams: Int? = nil, outputMode: String = "int",
    outputSequenceLength: Int? = nil, padToMaxTokens: Bool = false, vocabulary: [String]? = nil,
    idfWeights: [Float]? = nil
  ) throws {
    if let ngrams {
      try checkArgument(
        ngrams >= 1 && ngrams <= 16, owner: "TextVectorization", argument: "ngrams",
        value: "\(ngrams)", expected: "a width from 1 to 16")
    }
    try self.init(
      maxTokens: maxTokens, standardize: standardize, split: split,
      ngramWidths: ngrams.map { Array(1...$0) }, outputMode: outputMode,
      outputSequenceLength: outputSequenceLength, padToMaxTokens: padToMaxTokens,
      vocabulary: vocabulary, idfWeights: idfWeights)
  }

  init(
    maxTokens: Int?, standardize: String?, split: String?, ngramWidths: [Int]?,
    outputMode: String, outputSequenceLength: Int?, padToMaxTokens: Bool, vocabulary: [String]?,
    idfWeights: [Float]?
  ) throws {
    let owner = "TextVectorization"
    let standardizations = ["lower_and_strip_punctuation", "lower", "strip_punctuation"]
    if let standardize, !standardizations.contains(standardize) {
      throw StrataError.invalidArgument(
        owner: owner, argument: "standardize", value: standardize,
        expected: standardizations.map { "\"\($0)\"" }.joined(separator: ", ") + " or nil")
    }
    if let split, !["whitespace", "character"].contains(split) {
      throw StrataError.invalidArgument(
        owner: owner, argument: "split", value: split,
        expected: "\"whitespace\", \"character\" or nil")
    }
    for width in ngramWidths ?? [] {
      try checkArgument(
        width >= 1 && width <= 16, owner: owner, argument: "ngrams", value: "\(width)",
        expected: "widths from 1 to 16")
    }
    if let outputSequenceLength {
      try checkArgument(
        outputMode == "int" && outputSequenceLength > 0 && outputSequenceLength <= 1 << 20,
        owner: owner, argument: "output_sequence_length", value: "\(outputSequenceLength)",
        expected: "a positive length, with output_mode \"int\" only")
    }
    lookup = try TokenVocabulary(
      outputMode: outputMode, maxTokens: maxTokens, padToMaxTokens: padToMaxTokens, mask: "",
      oov: "[UNK]", owner: owner, order: { $1.utf8.lexicographicallyPrecedes($0.utf8) })
    (self.standardize, self.split, self.ngramWidths) = (standardize, split, ngramWidths)
    self.outputSequenceLength = outputSequenceLength
    if let vocabulary { try lookup.set(vocabulary, idfWeights: idfWeights) }
  }

  /// A vectorizer from Keras' config (`layer.get_config()`, as `.keras` files hold it): its
  /// vocabulary and idf weights when the config lists them.
  public convenience init(kerasConfig config: ConfigDictionary) throws {
    let owner = "TextVectorization"
    func string(_ key: String, _ fallback: String?) throws -> String? {
      guard let value = config[key] else { return fallback }
      if value.isNull { return nil }
      guard let text = value.stringValue else {
        throw StrataError.invalidArgument(
          owner: owner, argument: key, value: value.description.prefix(80).description,
          expected: "a string or null (a Python function cannot be read)")
      }
      return text
    }
    func int(_ key: String) throws -> Int? {
      guard let value = config[key], !value.isNull else { return nil }
      guard let number = value.intValue else {
        throw StrataError.invalidArgument(
          owner: owner, argument: key, value: value.description, expected: "an integer or null")
      }
      return number
    }
    var widths: [Int]?
    switch config["ngrams"] {
    case nil, .null?: widths = nil
    case .int(let n)?: widths = n >= 1 ? Array(1...n) : [n]
    case .array(let list)?: widths = list.map { $0.intValue ?? 0 }
    case let other?:
      throw StrataError.invalidArgument(
        owner: owner, argument: "ngrams", value: other.description,
        expected: "an integer, a list of integers or null")
    }
    for key in ["sparse", "ragged"] where config[key] == .bool(true) {
      throw StrataError.invalidArgument(
        owner: owner, argument: key, value: "true", expected: "false (dense outputs only)")
    }
    try self.init(
      maxTokens: try int("max_tokens"),
      standardize: try string("standardize", "lower_and_strip_punctuation"),
      split: try string("split", "whitespace"), ngramWidths: widths,
      outputMode: try string("output_mode", "int") ?? "int",
      outputSequenceLength: try int("output_sequence_length"),
      padToMaxTokens: config["pad_to_max_tokens"] == .bool(true),
      vocabulary: config["vocabulary"]?.arrayValue?.map { $0.stringValue ?? "" },
      idfWeights: config["idf_weights"]?.arrayValue?.map { Float($0.doubleValue ?? 0) })
  }

  /// Keras' config of the vectorizer, its vocabulary (and idf weights) included.
  public var kerasConfig: ConfigDictionary {
    let learnt = lookup.tokens.map { ConfigValue.string($0) }
    return [
      "name": "text_vectorization", "trainable": true, "dtype": "string",
      "max_tokens": lookup.maxTokens.map { .int($0) } ?? .null,
      "standardize": standardize.map { .string($0) } ?? .null,
      "split": split.map { .string($0) } ?? .null,
      "ngrams": ngramWidths.map { .array($0.map { .int($0) }) } ?? .null,
      "output_mode": .string(lookup.outputMode.rawValue),
      "output_sequence_length": outputSequenceLength.map { .int($0) } ?? .null,
      "pad_to_max_tokens": .bool(lookup.padToMaxTokens), "sparse": false, "ragged": false,
      "vocabulary": learnt.isEmpty ? .null : .array(learnt),
      "idf_weights": lookup.outputMode == .tfIdf && !learnt.isEmpty
        ? .array(lookup.idfWeights.dropFirst().map { .double(Double($0)) }) : .null,
      "encoding": "utf-8", "vocabulary_size": .int(lookup.size),
    ]
  }

  /// The vocabulary, special tokens first: Keras' `get_vocabulary()`.
  public var vocabulary: [String] { lookup.vocabulary }
  /// The number of indices: Keras' `vocabulary_size()`.
  public var vocabularySize: Int { lookup.size }
  /// The idf weight of each index (with `"tf_idf"`).
  public var idfWeights: [Float] { lookup.idfWeights }

  /// `"TextVectorization"`.
  public var kerasClassName: String { "TextVectorization" }

  /// ``kerasConfig`` without the vocabulary and idf weights, which Keras' files keep apart.
  public var kerasAssetConfig: ConfigDictionary {
    var config = kerasConfig
    config["vocabulary"] = .null
    config["idf_weights"] = .null
    return config
  }

  /// The idf weight of each output column (`"tf_idf"`; zero past the vocabulary), as Keras'
  /// weights file holds them; empty in the other modes.
  public var kerasIDFWeights: [Float] {
    lookup.paddedIDFWeights
  }

  /// `[outputSequenceLength]` token ids, or one column per vocabulary index.
  /// - Throws: for token ids without `output_sequence_length` (their length varies with the texts).
  public func outputShape() throws -> [Int] {
    guard lookup.outputMode == .int else { return [lookup.width] }
    guard let outputSequenceLength else {
      throw StrataError.invalidArgument(
        owner: "TextVectorization", argument: "output_sequence_length", value: "None",
        expected:
          "a length for token ids at a model's input (a Strata model's shapes are fixed; the ids of each batch would be as long as its longest text)"
      )
    }
    return [outputSequenceLength]
  }

  /// `"int64"` for token ids, `"float32"` for the other modes, as Keras gives them.
  public var outputDType: String { lookup.outputDType }

  /// The model input's numbers for `texts`: ``callAsFunction(_:)``'s.
  public func modelInput(for texts: [String]) throws -> Tensor { try callAsFunction(texts) }

  /// Learns the vocabulary (and idf weights) from `texts`: Keras' `adapt`.
  public func adapt(_ texts: [String]) throws {
    try lookup.adapt(texts.map(tokens(of:)))
  }

  /// The numbers of each text: `(texts, steps)` ids, or `(texts, columns)` for the other modes.
  public func callAsFunction(_ texts: [String]) throws -> Tensor {
    let encoded = try lookup.encode(
      texts.map(tokens(of:)), length: outputSequenceLength ?? (split == nil ? 1 : nil))
    // Unsplit texts are one token each: Keras gives `(texts)` ids then.
    guard split == nil, outputSequenceLength == nil, lookup.outputMode == .int else {
      return encoded
    }
    return try encoded.reshaped(to: [texts.count])
  }

  /// The tokens of one text: standardized, split, with its n-grams.
  public func tokens(of text: String) -> [String] {
    var text = text
    if standardize == "lower" || standardize == "lower_and_strip_punctuation" {
      text = String(String.UnicodeScalarView(text.unicodeScalars.map(asciiLowercased)))
    }
    if standardize == "strip_punctuation" || standardize == "lower_and_strip_punctuation" {
      text = String(
        String.UnicodeScalarView(text.unicodeScalars.filter { !isASCIIPunctuation($0) }))
    }
    let tokens: [String]
    switch split {
    case "whitespace":
      tokens = text.unicodeScalars.split(whereSeparator: isASCIIWhitespace).map {
        String(String.UnicodeScalarView($0))
      }
    case "character": tokens = text.unicodeScalars.map { String($0) }
    default: tokens = [text]
    }
    guard let ngramWidths else { return tokens }
    var grams: [String] = []
    for width in ngramWidths where width <= tokens.count {
      for start in 0...(tokens.count - width) {
        grams.append(tokens[start..<(start + width)].joined(separator: " "))
      }
    }
    return grams
  }
}

private func asciiLowercased(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
  ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
}

private func isASCIIPunctuation(_ scalar: Unicode.Scalar) -> Bool {
  scalar.isASCII && "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".unicodeScalars.contains(scalar)
}

private func isASCIIWhitespace(_ scalar: Unicode.Scalar) -> Bool {
  [" ", "\t", "\n", "\u{0B}", "\u{0C}", "\r"].contains(scalar)
}

/// Maps strings to indices as Keras' `StringLookup` does: a vocabulary learnt with ``adapt(_:)``
/// or given, index 0 for out-of-vocabulary strings (after the mask token when one is given), and
/// `"int"`, `"multi_hot"`, `"count"` or `"tf_idf"` outputs. ``invert(_:)`` maps indices back.
///
/// As a model's text input (a `.keras` model whose `Input(shape=(1,), dtype="string")` feeds a
/// `StringLookup` layer, or `model.setTextVectorization(lookup)`) it maps each sample's one
/// string: `(samples, 1)` indices, or one column per index in the other modes.
public final class StringLookup: TextPreprocessing {
  private var lookup: TokenVocabulary<String>
  private let maskToken: String?
  private let oovToken: String
  /// Keras' `"one_hot"`: one string a sample, so the multi-hot row.
  private var isOneHot = false

  /// Keras' `StringLookup(max_tokens=None, mask_token=None, oov_token="[UNK]", vocabulary=None,
  /// output_mode="int", pad_to_max_tokens=False)` (one out-of-vocabulary index).
  public init(
    maxTokens: Int? = nil, maskToken: String? = nil, oovToken: String = "[UNK]",
    vocabulary: [String]? = nil, idfWeights: [Float]? = nil, outputMode: String = "int",
    padToMaxTokens: Bool = false
  ) throws {
    lookup = try TokenVocabulary(
      outputMode: outputMode, maxTokens: maxTokens, padToMaxTokens: padToMaxTokens,
      mask: maskToken, oov: oovToken, owner: "StringLookup",
      order: { $1.utf8.lexicographicallyPrecedes($0.utf8) })
    (self.maskToken, self.oovToken) = (maskToken, oovToken)
    if let vocabulary { try lookup.set(vocabulary, idfWeights: idfWeights) }
  }

  /// A lookup from Keras' config (as `.keras` files hold it), its vocabulary and idf weights when
  /// the config lists them. One out-of-vocabulary index and `invert=False` only.
  public convenience init(kerasConfig config: ConfigDictionary) throws {
    let owner = "StringLookup"
    if let count = config["num_oov_indices"], count != .int(1) {
      throw StrataError.invalidArgument(
        owner: owner, argument: "num_oov_indices", value: count.description, expected: "1")
    }
    for (key, allowed) in [("invert", ConfigValue.bool(false)), ("sparse", .bool(false))] {
      if let value = config[key], value != allowed {
        throw StrataError.invalidArgument(
          owner: owner, argument: key, value: value.description, expected: allowed.description)
      }
    }
    func string(_ key: String) throws -> String? {
      guard let value = config[key], !value.isNull else { return nil }
      guard let text = value.stringValue else {
        throw StrataError.invalidArgument(
          owner: owner, argument: key, value: value.description.prefix(80).description,
          expected: "a string or null")
      }
      return text
    }
    var maxTokens: Int?
    if let value = config["max_tokens"], !value.isNull {
      guard let number = value.intValue else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "max_tokens", value: value.description,
          expected: "an integer or null")
      }
      maxTokens = number
    }
    let mode = try string("output_mode") ?? "int"
    let maskToken = try string("mask_token")
    if mode == "one_hot", let maskToken {
      throw StrataError.invalidArgument(
        owner: owner, argument: "mask_token", value: "'\(maskToken.prefix(40))'",
        expected: "null with output_mode \"one_hot\"")
    }
    try self.init(
      maxTokens: maxTokens, maskToken: maskToken, oovToken: try string("oov_token") ?? "[UNK]",
      vocabulary: config["vocabulary"]?.arrayValue?.map { $0.stringValue ?? "" },
      idfWeights: config["idf_weights"]?.arrayValue?.map { Float($0.doubleValue ?? 0) },
      outputMode: mode == "one_hot" ? "multi_hot" : mode,
      padToMaxTokens: config["pad_to_max_tokens"] == .bool(true))
    isOneHot = mode == "one_hot"
  }

  /// `"StringLookup"`.
  public var kerasClassName: String { "StringLookup" }

  /// Keras' config, its vocabulary and idf weights left out (Keras' files keep them apart).
  public var kerasAssetConfig: ConfigDictionary {
    [
      "name": "string_lookup", "trainable": true, "invert": false,
      "max_tokens": lookup.maxTokens.map { .int($0) } ?? .null, "num_oov_indices": 1,
      "oov_token": .string(oovToken), "mask_token": maskToken.map { .string($0) } ?? .null,
      "output_mode": .string(isOneHot ? "one_hot" : lookup.outputMode.rawValue), "sparse": false,
      "pad_to_max_tokens": .bool(lookup.padToMaxTokens), "idf_weights": .null,
      "vocabulary": .null, "vocabulary_size": .int(lookup.size), "oov_method": "floormod",
      "salt": .null, "encoding": "utf-8",
    ]
  }

  /// The idf weight of each output column (`"tf_idf"`), as Keras' weights file holds them.
  public var kerasIDFWeights: [Float] {
    lookup.paddedIDFWeights
  }

  /// `[1]` index per sample's string, or one column per vocabulary index.
  public func outputShape() throws -> [Int] {
    lookup.outputMode == .int ? [1] : [lookup.width]
  }

  /// `"int64"` for indices, `"float32"` for the other modes, as Keras gives them.
  public var outputDType: String { lookup.outputDType }

  /// The vocabulary, special tokens first.
  public var vocabulary: [String] { lookup.vocabulary }
  /// The number of indices.
  public var vocabularySize: Int { lookup.size }

  /// Learns the vocabulary from `documents`, each a list of strings.
  public func adapt(_ documents: [[String]]) throws { try lookup.adapt(documents) }

  /// Learns the vocabulary from single strings.
  public func adapt(_ strings: [String]) throws { try lookup.adapt(strings.map { [$0] }) }

  /// Each document's indices (`"int"`: padded with the mask index to the longest), or its
  /// multi-hot, count or tf-idf row.
  public func callAsFunction(_ documents: [[String]]) throws -> Tensor {
    try lookup.encode(documents, length: nil)
  }

  /// The index of each string, `(strings)` in `"int"` mode.
  public func callAsFunction(_ strings: [String]) throws -> Tensor {
    let encoded = try lookup.encode(strings.map { [$0] }, length: 1)
    return lookup.outputMode == .int ? try encoded.reshaped(to: [strings.count]) : encoded
  }

  /// A model input's numbers for `texts`, one string per sample: `(samples, 1)` indices, or a row
  /// per sample in the other modes.
  public func modelInput(for texts: [String]) throws -> Tensor {
    try lookup.encode(texts.map { [$0] }, length: 1)
  }

  /// The strings of indices (Keras' `invert=True`); an index outside the vocabulary is an error.
  public func invert(_ indices: Tensor) throws -> [String] {
    try indices.scalars.map { value in
      guard value == value.rounded(), let token = lookup.token(at: Int(exactly: value) ?? -1)
      else {
        throw StrataError.invalidArgument(
          owner: "StringLookup", argument: "indices", value: "\(value)",
          expected: "whole numbers from 0 to \(lookup.size - 1)")
      }
      return token
    }
  }
}

/// Maps integers (held as whole floats) to indices as Keras' `IntegerLookup` does: the vocabulary
/// learnt or given, index 0 for out-of-vocabulary values (after the mask when one is given).
public final class IntegerLookup {
  private var lookup: TokenVocabulary<Int>
  private let maskToken: Int?
  private let oovToken: Int

  /// Keras' `IntegerLookup(max_tokens=None, mask_token=None, oov_token=-1, vocabulary=None,
  /// output_mode="int", pad_to_max_tokens=False)` (one out-of-vocabulary index).
  public init(
    maxTokens: Int? = nil, maskToken: Int? = nil, oovToken: Int = -1, vocabulary: [Int]? = nil,
    idfWeights: [Float]? = nil, outputMode: String = "int", padToMaxTokens: Bool = false
  ) throws {
    lookup = try TokenVocabulary(
      outputMode: outputMode, maxTokens: maxTokens, padToMaxTokens: padToMaxTokens,
      mask: maskToken, oov: oovToken, owner: "IntegerLookup", order: { $0 > $1 })
    (self.maskToken, self.oovToken) = (maskToken, oovToken)
    if let vocabulary { try lookup.set(vocabulary, idfWeights: idfWeights) }
  }

  /// The same lookup as a model layer, Keras' `IntegerLookup` inside a graph (registered as
  /// `"IntegerLookup"`; `import Strata` registers it): adapt here, then add the layer to a model.
  public func layer() throws -> any Layer {
    var config: ConfigDictionary = [
      "vocabulary": .array(lookup.vocabulary.map { .int($0) }), "oov_token": .int(oovToken),
      "output_mode": .string(lookup.outputMode.rawValue),
      "pad_to_max_tokens": .bool(lookup.padToMaxTokens),
    ]
    if let maskToken { config["mask_token"] = .int(maskToken) }
    if let maxTokens = lookup.maxTokens { config["max_tokens"] = .int(maxTokens) }
    if lookup.outputMode == .tfIdf {
      config["idf_weights"] = .array(lookup.idfWeights.map { .double(Double($0)) })
    }
    return try Registries.shared.layers.make("IntegerLookup", config: config)
  }

  /// The vocabulary, special tokens first.
  public var vocabulary: [Int] { lookup.vocabulary }
  /// The number of indices.
  public var vocabularySize: Int { lookup.size }

  /// Learns the vocabulary from the values of `data` (each row a document).
  public func adapt(_ data: Tensor) throws { try lookup.adapt(try documents(data)) }

  /// The index of each value (`"int"`: the input's shape), or each row's multi-hot, count or tf-idf.
  public func callAsFunction(_ data: Tensor) throws -> Tensor {
    let rows = try documents(data)
    guard lookup.outputMode == .int else { return try lookup.encode(rows, length: nil) }
    return try lookup.encode(rows, length: rows.first?.count ?? 0).reshaped(to: data.shape)
  }

  private func documents(_ data: Tensor) throws -> [[Int]] {
    let limit: Float = 16_777_216
    let values = try data.scalars.map { (value: Float) throws -> Int in
      guard value == value.rounded(), abs(value) <= limit else {
        throw StrataError.invalidArgument(
          owner: "IntegerLookup", argument: "input", value: "\(value)",
          expected: "whole numbers up to 2^24 in magnitude")
      }
      return Int(value)
    }
    let width = data.rank >= 2 ? data.count / max(data.shape[0], 1) : 1
    return stride(from: 0, to: values.count, by: max(width, 1)).map {
      Array(values[$0..<min($0 + width, values.count)])
    }
  }
}
