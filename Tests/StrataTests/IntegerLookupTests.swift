import Foundation
@testable import Strata
@testable import StrataKeras
import StrataCore
import StrataData
import Testing

/// gen_lookup.py's expectations: the integer input, Keras' lookups and outputs, the vocabulary.
private struct LookupExpectation {
  var input: Tensor
  var lookup: Tensor
  var output: Tensor
  var vocabulary: [Int]

  init(_ name: String) throws {
    let data = try Data(contentsOf: kerasFile("\(name).expected.json"))
    let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    func matrix(_ key: String) throws -> Tensor {
      let rows = try #require(json[key] as? [[NSNumber]], "\(key)")
      return try Tensor(
        shape: [rows.count, rows.first?.count ?? 0],
        scalars: rows.flatMap { $0.map { Float($0.doubleValue) } })
    }
    (input, lookup, output) = (try matrix("input"), try matrix("lookup"), try matrix("output"))
    vocabulary = try #require(json["vocabulary"] as? [Int])
  }
}

private func largestDifference(_ a: Tensor, _ b: Tensor) -> Float {
  guard a.shape == b.shape else { return .infinity }
  return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
}

@Suite("IntegerLookup in Keras graphs")
struct IntegerLookupTests {
  @Test(
    "a .keras model with an IntegerLookup in its graph looks up and predicts like Keras, and saves back so that it loads again",
    arguments: [
      "integer_lookup_int", "integer_lookup_multi_hot", "integer_lookup_tf_idf",
      "integer_lookup_one_hot", "integer_lookup_count", "integer_lookup_invert",
    ])
  func loadsPredictsAndSaves(name: String) throws {
    let expected = try LookupExpectation(name)
    let model = try loadModel(from: kerasFile("\(name).keras"))
    let lookup = try #require(model.layers.compactMap { $0 as? IntegerLookupLayer }.first)
    #expect(lookup.config.vocabulary == expected.vocabulary, "\(name)")
    #expect(lookup.vocabularySize == expected.vocabulary.count)
    let alone = try Sequential([
      Input(shape: [expected.input.shape[1]], dtype: "int64"),
      IntegerLookupLayer(config: lookup.config),
    ])
    #expect(largestDifference(try alone.predict(expected.input), expected.lookup) == 0, "\(name)")
    #expect(largestDifference(try model.predict(expected.input), expected.output) < 1e-5, "\(name)")

    let url = temporaryURL("\(name)-saved.keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let members = try ZipArchive.read(Data(contentsOf: url), path: name)
    let config = try ConfigValue(json: try #require(members["config.json"]))
    let records = config.objectValue?["config"]?.objectValue?["layers"]?.arrayValue ?? []
    let record = try #require(
      records.compactMap(\.objectValue).first { $0["class_name"] == "IntegerLookup" })
    #expect(
      record["config"]?.objectValue?["vocabulary"]
        == .array(expected.vocabulary.map { .int($0) }))
    if name == "integer_lookup_tf_idf" {
      let weights = try HDF5Reader(
        bytes: [UInt8](try #require(members["model.weights.h5"])), path: name)
      let idf = try weights.readTensor("layers/integer_lookup/vars/idf_weights")
      #expect(idf.shape == [8])
    }
    let reloaded = try loadModel(from: url)
    #expect(largestDifference(try reloaded.predict(expected.input), expected.output) < 1e-5)
  }

  @Test("Keras' index layout: mask, out-of-vocabulary indices by value mod their count, columns")
  func indexLayout() throws {
    let input = try Tensor(shape: [2, 4], scalars: [5, 0, 7, -3, 9, 9, 5, 4])
    func run(_ layer: IntegerLookupLayer) throws -> [Float] {
      try Sequential([Input(shape: [4], dtype: "int64"), layer]).predict(input).scalars
    }
    // int: 0 is the mask, 1...3 the out-of-vocabulary indices, then 5 and 9.
    #expect(
      try run(IntegerLookupLayer(vocabulary: [5, 9], numOovIndices: 3, maskToken: 0))
        == [4, 0, 2, 1, 5, 5, 4, 2])
    // count: no mask index; the mask adds nothing; -3 mod 2 = 1, 7 mod 2 = 1, 4 mod 2 = 0.
    #expect(
      try run(
        IntegerLookupLayer(vocabulary: [5, 9], numOovIndices: 2, maskToken: 0, outputMode: "count"))
        == [0, 2, 1, 0, 1, 0, 1, 2])
    // Padded to max_tokens columns.
    #expect(
      try run(
        IntegerLookupLayer(
          vocabulary: [5, 9], outputMode: "multi_hot", maxTokens: 5, padToMaxTokens: true))
        == [1, 1, 0, 0, 0, 1, 1, 1, 0, 0])
    // tf-idf: the vocabulary without its oov entry gives that index the mean weight.
    #expect(
      try run(IntegerLookupLayer(vocabulary: [5, 9], outputMode: "tf_idf", idfWeights: [2, 4]))
        == [3 * 3, 2, 0, 3, 2, 4 * 2])
    // Inverted: index 0 is the mask token, unknown indices give the oov token.
    let inverted = try IntegerLookupLayer(vocabulary: [10, 20], maskToken: 0, invert: true)
    let indices = try Tensor(shape: [1, 4], scalars: [0, 1, 2, 3])
    #expect(
      try Sequential([Input(shape: [4], dtype: "int64"), inverted]).predict(indices).scalars
        == [0, -1, 10, 20])
  }

  @Test("an IntegerLookup learnt with StrataData feeds an Embedding that trains, and saves")
  func adaptedLookupTrainsInAModel() throws {
    let values: [Float] = [3, 8, 3, 3, 8, 15, 42, 8, 3, 15, 15, 15]
    let adapter = try StrataData.IntegerLookup()
    try adapter.adapt(try Tensor(shape: [4, 3], scalars: values))
    #expect(adapter.vocabulary == [-1, 15, 3, 8, 42])
    let model = try Sequential(seed: 2)
    try model.add(Input(shape: [3], dtype: "int64"))
    try model.add(adapter.layer())
    try model.add(Embedding(5, 4))
    try model.add(Flatten())
    try model.add(Dense(1))
    try model.compile(optimizer: "adam", loss: "mse")
    var generator = SeededGenerator(seed: 5)
    let choices: [Float] = [3, 8, 15, 42, 99]
    var x: [Float] = [], y: [Float] = []
    for _ in 0..<48 {
      let row = (0..<3).map { _ in choices[Int(generator.nextUniform() * 5) % 5] }
      x += row
      y.append(row.contains(42) ? 1 : 0)
    }
    let inputs = try Tensor(shape: [48, 3], scalars: x)
    let history = try model.fit(
      inputs, try Tensor(shape: [48, 1], scalars: y), batchSize: 8, epochs: 60, verbose: 0)
    let losses = try #require(history["loss"])
    #expect(losses.last! < losses.first! * 0.3, "\(losses)")
    let url = temporaryURL("adapted-lookup.keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    #expect(
      largestDifference(try loadModel(from: url).predict(inputs), try model.predict(inputs)) == 0)
  }

  @Test("bad IntegerLookup arguments and inputs are refused by name")
  func refusals() throws {
    func message(_ body: () throws -> Any) -> String {
      do {
        _ = try body()
        return "no error"
      } catch { return "\(error)" }
    }
    let strict = try IntegerLookupLayer(vocabulary: [1, 2], numOovIndices: 0)
    let model = try Sequential([Input(shape: [2], dtype: "int64"), strict])
    let unknown = message { try model.predict(try Tensor(shape: [1, 2], scalars: [1, 7])) }
    #expect(unknown.contains("IntegerLookup") && unknown.contains("7"), "\(unknown)")
    let fraction = message { try model.predict(try Tensor(shape: [1, 2], scalars: [1, 1.5])) }
    #expect(fraction.contains("IntegerLookup") && fraction.contains("1.5"), "\(fraction)")
    let cases: [(String, ConfigDictionary)] = [
      ("vocabulary", [:]),
      ("oov_method", ["vocabulary": [1], "oov_method": "farmhash"]),
      ("invert", ["vocabulary": [1], "invert": true, "output_mode": "multi_hot"]),
      ("output_mode", ["vocabulary": [1], "output_mode": "binary"]),
      ("vocabulary", ["vocabulary": [1, 1]]),
      ("vocabulary", ["vocabulary": [0, 1], "mask_token": 0]),
      ("num_oov_indices", ["vocabulary": [1], "num_oov_indices": -1]),
      ("idf_weights", ["vocabulary": [1, 2], "output_mode": "tf_idf", "idf_weights": [1]]),
      ("max_tokens", ["vocabulary": [1, 2, 3], "max_tokens": 3]),
      ("pad_to_max_tokens", ["vocabulary": [1], "pad_to_max_tokens": true]),
    ]
    for (argument, config) in cases {
      let text = message { try Registries.shared.layers.make("IntegerLookup", config: config) }
      #expect(text.contains("IntegerLookup") && text.contains(argument), "\(argument): \(text)")
    }
    let wide = message {
      try Sequential([
        Input(shape: [2, 3], dtype: "int64"),
        IntegerLookupLayer(vocabulary: [1], outputMode: "multi_hot"),
      ])
    }
    #expect(wide.contains("IntegerLookup") && wide.contains("(None, 2, 3)"), "\(wide)")
  }

  /// A `.keras` file whose adapted lookup's vocabulary asset is missing, not UTF-8, or not whole
  /// numbers is refused, naming the file, the layer and what is wrong.
  @Test func damagedVocabularyAssetsAreNamed() throws {
    func reason(
      _ name: String, _ member: String, _ replacement: Data?
    ) throws -> String {
      let source = kerasFile("\(name).keras")
      var members = try ZipArchive.read(Data(contentsOf: source), path: source.path)
      #expect(members[member] != nil, "\(name) has no \(member)")
      members[member] = replacement
      let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("damaged-\(UUID().uuidString).keras")
      defer { try? FileManager.default.removeItem(at: url) }
      try ZipArchive.write(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        .write(to: url)
      do {
        _ = try loadModel(from: url)
        return "loaded"
      } catch StrataError.file(let path, let reason) {
        #expect(path == url.path)
        return reason
      }
    }
    let integer = "assets/layers/integer_lookup/vocabulary.txt"
    let missing = try reason("integer_lookup_tf_idf", integer, nil)
    #expect(
      missing.hasPrefix("holds no vocabulary for IntegerLookup '")
        && missing.hasSuffix("(\(integer) is missing)"), "\(missing)")
    let binary = Data([0xFF, 0xFE, 0x0A])
    let notText = try reason("integer_lookup_tf_idf", integer, binary)
    #expect(notText.hasSuffix("that is not UTF-8"), "\(notText)")
    let notNumbers = try reason("integer_lookup_tf_idf", integer, Data("3\nabc\n".utf8))
    #expect(
      notNumbers.hasSuffix("whose line 2 ('abc') is not a whole number up to 2^24"),
      "\(notNumbers)")
    let strings = try reason(
      "string_lookup_int", "assets/layers/string_lookup/vocabulary.txt", binary)
    #expect(strings.hasSuffix("that is not UTF-8 text"), "\(strings)")
  }
}
