import Foundation
@testable import Strata
@testable import StrataKeras
import StrataCore
import StrataData
import Testing

/// gen_text.py's expectations: the texts, Keras' vectorized texts and outputs.
private struct TextExpectation {
  var texts: [String]
  var vectorized: [[Double]]
  var output: Tensor
  var vocabulary: [String]

  init(_ name: String) throws {
    let data = try Data(contentsOf: kerasFile("\(name).expected.json"))
    let json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    texts = json["texts"] as! [String]
    vectorized = (json["vectorized"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
    let rows = (json["output"] as! [[NSNumber]]).map { $0.map { Float($0.doubleValue) } }
    output = try Tensor(shape: json["output_shape"] as! [Int], scalars: rows.flatMap { $0 })
    vocabulary = json["vocabulary"] as! [String]
  }

  func check(_ model: Model, _ label: String) throws {
    let ids = try model.vectorize(texts)
    #expect(ids.shape == [texts.count, vectorized.first?.count ?? 0], "\(label)")
    let worstIDs = zip(ids.scalars, vectorized.flatMap { $0 }).map { abs(Double($0) - $1) }.max()
    #expect((worstIDs ?? 1) < 1e-5, "\(label): vectorized off by \(worstIDs ?? -1)")
    let predicted = try model.predict(texts: texts)
    #expect(predicted.shape == output.shape, "\(label)")
    let worst = zip(predicted.scalars, output.scalars).map { abs($0 - $1) }.max() ?? 1
    #expect(worst < 1e-5, "\(label): predictions off by \(worst)")
  }
}

@Suite("Keras text models")
struct KerasTextTests {
  @Test(
    "a .keras model whose string input feeds TextVectorization or StringLookup loads, vectorizes and predicts like Keras, and saves back as Keras writes it",
    arguments: [
      "text_int", "text_multi_hot", "text_tf_idf", "string_lookup_int", "string_lookup_one_hot",
    ])
  func loadsAndSavesTextModels(name: String) throws {
    let expected = try TextExpectation(name)
    let model = try loadModel(from: kerasFile("\(name).keras"))
    let text = try #require(model.textInputs[0])
    #expect(text.vectorizer.vocabulary == expected.vocabulary)
    try expected.check(model, name)

    let url = temporaryURL("\(name)-saved.keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let members = try ZipArchive.read(Data(contentsOf: url), path: name)
    let isLookup = name.hasPrefix("string_lookup")
    let group = isLookup ? "string_lookup" : "text_vectorization"
    let vocabulary = try #require(
      members["assets/layers/\(group)/vocabulary.txt"], "\(members.keys.sorted())")
    #expect(
      String(decoding: vocabulary, as: UTF8.self) == expected.vocabulary.joined(separator: "\n"))
    if !isLookup {
      #expect(members["assets/layers/\(group)/_lookup_layer/vocabulary.txt"] == vocabulary)
    }
    let config = try ConfigValue(json: members["config.json"]!)
    let records = config.objectValue?["config"]?.objectValue?["layers"]?.arrayValue ?? []
    #expect(records.first?.objectValue?["config"]?.objectValue?["dtype"] == "string")
    let layer = try #require(records.dropFirst().first?.objectValue)
    #expect(layer["class_name"] == (isLookup ? "StringLookup" : "TextVectorization"))
    #expect(layer["config"]?.objectValue?["vocabulary"] == .null)
    if name == "text_tf_idf" {
      let weights = try HDF5Reader(
        bytes: [UInt8](members["model.weights.h5"]!), path: "\(name)/model.weights.h5")
      let idf = try weights.readTensor("layers/text_vectorization/vars/idf_weights")
      #expect(
        Array(idf.scalars.prefix(text.vectorizer.vocabulary.count))
          == text.vectorizer.kerasIDFWeights.prefix(text.vectorizer.vocabulary.count).map { $0 })
    }
    try expected.check(try loadModel(from: url), "\(name) saved by Strata")
  }

  @Test("a model built in Swift takes text through setTextVectorization and round-trips .keras")
  func buildsTextModels() throws {
    let corpus = ["the cat sat", "a dog ran", "the dog sat on a mat", "cats and dogs"]
    let vectorize = try TextVectorization(maxTokens: 12, outputSequenceLength: 5)
    try vectorize.adapt(corpus)
    let model = try Sequential(
      [Embedding(12, 3), GlobalAveragePooling1D(), Dense(2)], seed: 4)
    try model.setTextVectorization(vectorize)
    let direct = try model.predict(try vectorize(corpus))
    let viaText = try model.predict(texts: corpus)
    #expect(viaText.scalars == direct.scalars)
    #expect(model.textInputs[0]?.inputName == "text_input")

    let url = temporaryURL("text-built.keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    #expect(try loaded.predict(texts: corpus).scalars == viaText.scalars)
    #expect(loaded.textInputs[0]?.vectorizer.vocabulary == vectorize.vocabulary)

    // Strata's own format holds numeric models: the refusal says what to do.
    do {
      try model.save(to: temporaryURL("text-built.strata"))
      Issue.record("a text model saved in Strata's format")
    } catch StrataError.invalidState(let message) {
      #expect(message.contains("TextVectorization") && message.contains(".keras"), "\(message)")
    }
  }

  @Test("text inputs that cannot be built are refused by name")
  func refusesTextInputs() throws {
    // The vectorizer's output must be the input's shape.
    let vectorize = try TextVectorization(maxTokens: 12, outputSequenceLength: 5)
    try vectorize.adapt(["a b c"])
    let model = try Sequential([Dense(2)], seed: 1)
    try model.build(inputShape: [4])
    #expect(throws: StrataError.self) { try model.setTextVectorization(vectorize) }
    #expect(throws: StrataError.self) { try model.predict(texts: ["a"]) }
    let unbounded = try TextVectorization(maxTokens: 12)
    try unbounded.adapt(["a b c"])
    let lengthError = fileError {
      _ = try loadModel(
        from: try editedKerasFile("text_int") {
          $0 = $0.replacingOccurrences(
            of: "\"output_sequence_length\": 8", with: "\"output_sequence_length\": null")
        })
    }
    #expect(lengthError.contains("output_sequence_length"), "\(lengthError)")
    #expect(throws: StrataError.self) { try Sequential([Dense(2)]).setTextVectorization(unbounded) }

    let missing = fileError {
      _ = try loadModel(
        from: try editedKerasFile(
          "text_int",
          dropping: [
            "assets/layers/text_vectorization/vocabulary.txt",
            "assets/layers/text_vectorization/_lookup_layer/vocabulary.txt",
          ]))
    }
    #expect(missing.contains("vocabulary") && missing.contains("text_vectorization"), "\(missing)")

    // StringLookup with more than one out-of-vocabulary index (hashed into buckets): named.
    let buckets = fileError {
      _ = try loadModel(
        from: try editedKerasFile("string_lookup_int") {
          $0 = $0.replacingOccurrences(of: "\"num_oov_indices\": 1", with: "\"num_oov_indices\": 3")
        })
    }
    #expect(buckets.contains("StringLookup") && buckets.contains("num_oov_indices"), "\(buckets)")

    // A string input feeding a Dense layer: named, with what Strata takes instead.
    let misfed = fileError {
      _ = try loadModel(
        from: try editedKerasFile("text_tf_idf") {
          $0 = $0.replacingOccurrences(
            of: "\"keras_history\": [\"text_vectorization_2\", 0, 0]",
            with: "\"keras_history\": [\"input_layer_2\", 0, 0]")
        })
    }
    #expect(misfed.contains("dtype string") && misfed.contains("dense"), "\(misfed)")
  }

  @Test("strata predict reads a text input from a file of one text a line, and refuses bad bytes")
  func predictsTextFiles() throws {
    let expected = try TextExpectation("text_multi_hot")
    let texts = temporaryURL("texts.txt")
    try Data((expected.texts.joined(separator: "\r\n") + "\n").utf8).write(to: texts)
    let output = temporaryURL("text-y.npy")
    let run = runCommand([
      "predict", kerasFile("text_multi_hot.keras").path, "--input", texts.path, "--output",
      output.path,
    ])
    #expect(run.exitCode == 0, "\(run.errors)")
    let predicted = try NumPyArray.read(output)
    #expect(predicted.shape == expected.output.shape)
    let worst = zip(predicted.scalars, expected.output.scalars).map { abs($0 - $1) }.max() ?? 1
    #expect(worst < 1e-5)

    try Data([0x61, 0x0A, 0xFF, 0x62]).write(to: texts)
    let bad = runCommand([
      "predict", kerasFile("text_multi_hot.keras").path, "--input", texts.path, "--output",
      output.path,
    ])
    #expect(
      bad.exitCode != 0 && bad.errors.contains("not UTF-8") && bad.errors.contains("offset 2"),
      "\(bad.errors)")
  }

  @Test("vocabulary.txt is split into lines as Python's splitlines splits it")
  func splitsLinesAsPython() {
    #expect(KerasFile.pythonLines("\n[UNK]\nthe\ncat") == ["", "[UNK]", "the", "cat"])
    #expect(KerasFile.pythonLines("a\r\nb\rc\u{2028}d\n\n") == ["a", "b", "c", "d"])
  }
}
