import Foundation
import StrataCore
import StrataData
import Testing

/// Keras' cases (generate_text_preprocessing.py): constructor arguments, the data adapted on,
/// Keras' vocabulary and outputs.
private let textCases: [ConfigDictionary] = {
  let url = Bundle.module.url(
    forResource: "text_preprocessing", withExtension: "json", subdirectory: "Fixtures")!
  let root = try! ConfigValue(json: Data(contentsOf: url))
  return root.objectValue!["cases"]!.arrayValue!.map { $0.objectValue! }
}()

private func cases(_ kind: String) -> [ConfigDictionary] {
  textCases.filter { $0["kind"] == .string(kind) }
}

/// The case of `kind` described as `description`.
private func textCase(_ kind: String, _ description: String) throws -> ConfigDictionary {
  try #require(cases(kind).first { $0["desc"] == .string(description) })
}

/// The descriptions of `kind`'s cases (test arguments that print short).
private func descriptions(_ kind: String) -> [String] {
  cases(kind).compactMap { $0["desc"]?.stringValue }
}

private func strings(_ value: ConfigValue?) -> [String] {
  value?.arrayValue?.map { $0.stringValue ?? "" } ?? []
}

private func tensor(_ value: ConfigValue?) throws -> Tensor {
  let object = try #require(value?.objectValue)
  return try Tensor(
    shape: object["shape"]?.arrayValue?.compactMap(\.intValue) ?? [],
    scalars: object["data"]?.arrayValue?.map { Float($0.doubleValue ?? .nan) } ?? [])
}

private func expectClose(_ got: Tensor, _ want: Tensor, _ label: String) {
  #expect(got.shape == want.shape, "\(label): shape \(got.shape), Keras \(want.shape)")
  let worst = zip(got.scalars, want.scalars).map { abs($0 - $1) }.max() ?? 0
  #expect(worst <= 1e-5, "\(label): off by \(worst)")
}

/// The error `body` throws, or `nil`.
private func refusal(_ body: () throws -> some Any) -> (any Error)? {
  do {
    _ = try body()
    return nil
  } catch { return error }
}

@Suite struct TextPreprocessingTests {
  @Test func fixtureHoldsEveryKind() {
    #expect(cases("TextVectorization").count == 12)
    #expect(cases("StringLookup").count == 6)
    #expect(cases("IntegerLookup").count == 4)
    #expect(cases("pad_sequences").count == 4)
    #expect(cases("timeseries").count == 3)
  }

  /// Made from Keras' arguments and adapted on the same texts: Keras' vocabulary and outputs; made
  /// from Keras' config (vocabulary included): the same outputs.
  @Test(arguments: descriptions("TextVectorization"))
  func textVectorizationMatchesKeras(_ label: String) throws {
    let fixture = try textCase("TextVectorization", label)
    let arguments = fixture["arguments"]?.objectValue ?? [:]
    let vectorize = try TextVectorization(kerasConfig: arguments)
    if let corpus = fixture["adapt"], !corpus.isNull { try vectorize.adapt(strings(corpus)) }
    #expect(vectorize.vocabulary == strings(fixture["vocabulary"]), "\(label)")
    let input = strings(fixture["input"])
    let want = try tensor(fixture["output"])
    expectClose(try vectorize(input), want, label)
    // Keras' config leaves an adapted vocabulary out (its files keep it apart); given back as the
    // `vocabulary` argument it makes the same vectorizer, as Strata's own config does.
    if var config = fixture["config"]?.objectValue, !label.hasPrefix("tf_idf") {
      config["vocabulary"] = fixture["vocabulary"]
      let restored = try TextVectorization(kerasConfig: config)
      #expect(restored.vocabulary == vectorize.vocabulary, "\(label) from config")
      expectClose(try restored(input), want, "\(label) from config")
    }
    let again = try TextVectorization(kerasConfig: vectorize.kerasConfig)
    #expect(again.idfWeights == vectorize.idfWeights, "\(label)")
    expectClose(try again(input), want, "\(label) from Strata's config")
  }

  @Test(arguments: descriptions("StringLookup"))
  func stringLookupMatchesKeras(_ label: String) throws {
    let fixture = try textCase("StringLookup", label)
    let arguments = fixture["arguments"]?.objectValue ?? [:]
    let lookup = try StringLookup(
      maxTokens: arguments["max_tokens"]?.intValue, maskToken: arguments["mask_token"]?.stringValue,
      vocabulary: arguments["vocabulary"].map(strings),
      outputMode: arguments["output_mode"]?.stringValue ?? "int")
    if let documents = fixture["adapt"]?.arrayValue {
      try lookup.adapt(documents.map(strings))
    }
    #expect(lookup.vocabulary == strings(fixture["vocabulary"]), "\(label)")
    if let indices = fixture["input_indices"]?.arrayValue {
      let flat = indices.flatMap { $0.arrayValue ?? [] }.map { Float($0.intValue ?? 0) }
      let inverted = try lookup.invert(try Tensor(shape: [flat.count], scalars: flat))
      #expect(inverted == fixture["inverted"]?.arrayValue?.flatMap(strings), "\(label)")
      return
    }
    let input = fixture["input"]?.arrayValue?.map(strings) ?? []
    expectClose(try lookup(input), try tensor(fixture["output"]), label)
  }

  @Test(arguments: descriptions("IntegerLookup"))
  func integerLookupMatchesKeras(_ label: String) throws {
    let fixture = try textCase("IntegerLookup", label)
    let arguments = fixture["arguments"]?.objectValue ?? [:]
    let lookup = try IntegerLookup(
      maxTokens: arguments["max_tokens"]?.intValue, maskToken: arguments["mask_token"]?.intValue,
      outputMode: arguments["output_mode"]?.stringValue ?? "int")
    try lookup.adapt(try tensor(fixture["adapt"]))
    let vocabulary = fixture["vocabulary"]?.arrayValue?.compactMap { $0.intValue }
    #expect(lookup.vocabulary == vocabulary, "\(label)")
    expectClose(try lookup(try tensor(fixture["input"])), try tensor(fixture["output"]), label)
  }

  @Test(arguments: descriptions("pad_sequences"))
  func padSequencesMatchesKeras(_ label: String) throws {
    let fixture = try textCase("pad_sequences", label)
    let arguments = fixture["arguments"]?.objectValue ?? [:]
    let sequences = fixture["input"]?.arrayValue?.map {
      $0.arrayValue?.compactMap(\.intValue) ?? []
    }
    let padded = try padSequences(
      try #require(sequences), maxLength: arguments["maxlen"]?.intValue,
      padding: arguments["padding"]?.stringValue ?? "pre",
      truncating: arguments["truncating"]?.stringValue ?? "pre",
      value: Float(arguments["value"]?.doubleValue ?? 0))
    expectClose(padded, try tensor(fixture["output"]), label)
  }

  @Test(arguments: descriptions("timeseries"))
  func timeseriesWindowsMatchKeras(_ label: String) throws {
    let fixture = try textCase("timeseries", label)
    let arguments = fixture["arguments"]?.objectValue ?? [:]
    let windows = try timeseriesDatasetFromArray(
      try tensor(fixture["data"]), targets: try tensor(fixture["targets"]),
      sequenceLength: try #require(arguments["sequence_length"]?.intValue),
      sequenceStride: arguments["sequence_stride"]?.intValue ?? 1,
      samplingRate: arguments["sampling_rate"]?.intValue ?? 1,
      startIndex: arguments["start_index"]?.intValue, endIndex: arguments["end_index"]?.intValue)
    expectClose(windows.x, try tensor(fixture["x"]), label)
    expectClose(try #require(windows.y), try tensor(fixture["y"]), label)
  }

  /// Class folders of .txt files: sorted texts and labels, a validation split that does not
  /// overlap, and a non-UTF-8 file named with its offset.
  @Test func textFoldersLoad() throws {
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("texts-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: root) }
    for (folder, texts) in [
      ("neg", ["awful", "bad, really"]), ("pos", ["good", "great", "fine ✓"]),
    ] {
      let directory = root.appendingPathComponent(folder)
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      for (i, text) in texts.enumerated() {
        try Data(text.utf8).write(to: directory.appendingPathComponent("\(i).txt"))
      }
    }
    let all = try textDatasetFromDirectory(root, shuffle: false)
    #expect(all.classNames == ["neg", "pos"])
    #expect(all.texts == ["awful", "bad, really", "good", "great", "fine ✓"])
    #expect(all.labels.scalars == [0, 0, 1, 1, 1])
    let short = try textDatasetFromDirectory(root, labelMode: .categorical, maxLength: 3)
    #expect(Set(short.texts) == ["awf", "bad", "goo", "gre", "fin"])
    #expect(short.labels.shape == [5, 2])
    let training = try textDatasetFromDirectory(
      root, seed: 4, validationSplit: 0.4, subset: .training)
    let validation = try textDatasetFromDirectory(
      root, seed: 4, validationSplit: 0.4, subset: .validation)
    #expect(training.texts.count == 3 && validation.texts.count == 2)
    #expect(Set(training.texts).isDisjoint(with: validation.texts))
    try Data([0x61, 0x62, 0xFF, 0x63]).write(
      to: root.appendingPathComponent("pos").appendingPathComponent("bad.txt"))
    let error = "\(try #require(refusal { try textDatasetFromDirectory(root) }))"
    #expect(error.contains("bad.txt") && error.contains("UTF-8") && error.contains("offset 2"))
  }

  @Test func refusalsNameTheArgument() throws {
    func message(_ body: () throws -> some Any) -> String {
      do {
        _ = try body()
        return ""
      } catch { return "\(error)" }
    }
    #expect(message { try TextVectorization(split: "words") }.contains("split"))
    #expect(message { try TextVectorization(standardize: "upper") }.contains("standardize"))
    #expect(message { try TextVectorization(outputMode: "binary") }.contains("output_mode"))
    let length = message { try TextVectorization(outputMode: "count", outputSequenceLength: 4) }
    #expect(length.contains("output_sequence_length"))
    #expect(message { try TextVectorization(maxTokens: 1) }.contains("max_tokens"))
    #expect(message { try StringLookup(vocabulary: ["a", "a"]) }.contains("twice"))
    #expect(message { try StringLookup(vocabulary: ["a"]).invert(Tensor(scalar: 5)) }.contains("5"))
    let function = message {
      try TextVectorization(kerasConfig: ["standardize": ["class_name": "custom"]])
    }
    #expect(function.contains("standardize") && function.contains("Python"))
    #expect(message { try padSequences([[1]], padding: "middle") }.contains("padding"))
    let long = message {
      try timeseriesDatasetFromArray(
        Tensor(shape: [5, 2]), targets: nil, sequenceLength: 6)
    }
    #expect(long.contains("sequenceLength") && long.contains("6"))
    let targets = message {
      try timeseriesDatasetFromArray(
        Tensor(shape: [5, 2]), targets: Tensor(shape: [4]), sequenceLength: 2)
    }
    #expect(targets.contains("targets"))
  }
}
