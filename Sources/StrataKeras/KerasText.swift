import Foundation
import Strata
import StrataCore
import StrataData

/// Keras models that take text: an `Input(dtype="string")` feeding a `TextVectorization` layer.
///
/// Strata's graph holds numbers, so on loading the pair becomes a numeric input named after the
/// `TextVectorization` layer (its output's shape and dtype), and the vectorizer is kept beside it in
/// ``Model/textInputs``; on saving, the pair is written back as Keras writes it: the layer's config
/// with `vocabulary: null`, the vocabulary in `assets/layers/<group>/vocabulary.txt` (and
/// `…/_lookup_layer/vocabulary.txt`), tf-idf weights as `idf_weights` in the weights file.
extension KerasFile {
  /// The layers Strata reads at a text input: they turn strings into numbers.
  static let textLayerClasses: Set<String> = ["TextVectorization", "StringLookup"]
  /// The names the refusals give them.
  static let textLayerNames = "TextVectorization or StringLookup"

  private static func isTextLayer(_ record: ConfigDictionary) -> Bool {
    record["class_name"]?.stringValue.map(textLayerClasses.contains) ?? false
  }

  /// The weights group of each text layer's record, by layer name, in the order of `records`
  /// (numbered per class, as Keras numbers groups).
  static func textGroups(_ records: [ConfigValue]) -> [String: (group: String, kind: String)] {
    layerGroups(records, classes: textLayerClasses)
  }

  /// The weights group of each record of one of `classes`, by layer name (numbered per class, as
  /// Keras numbers groups).
  static func layerGroups(_ records: [ConfigValue], classes: Set<String>) -> [String: (
    group: String, kind: String
  )] {
    var groups: [String: (group: String, kind: String)] = [:]
    var counts: [String: Int] = [:]
    for record in records {
      guard let object = record.objectValue, let kind = object["class_name"]?.stringValue,
        classes.contains(kind), let name = layerName(object)
      else { continue }
      let base = snakeCase(kind)
      let count = counts[kind, default: 0]
      groups[name] = (count == 0 ? base : "\(base)_\(count)", kind)
      counts[kind] = count + 1
    }
    return groups
  }

  /// The archive members that may hold the vocabulary of a `kind` layer whose weights group is
  /// `group` (a `TextVectorization` writes its inner lookup's copy too).
  static func vocabularyMembers(group: String, kind: String) -> [String] {
    ["assets/layers/\(group)/vocabulary.txt"]
      + (kind == "TextVectorization"
        ? ["assets/layers/\(group)/_lookup_layer/vocabulary.txt"] : [])
  }

  /// The members of a `.keras` archive with `config` that hold vocabularies.
  static func textAssetMembers(of config: ConfigValue) -> Set<String> {
    let records = config.objectValue?["config"]?.objectValue?["layers"]?.arrayValue ?? []
    return Set(
      layerGroups(records, classes: textLayerClasses.union(["IntegerLookup"])).values.flatMap {
        vocabularyMembers(group: $0.group, kind: $0.kind)
      })
  }

  /// `config` with each `IntegerLookup` of the top-level graph given its vocabulary (from the
  /// archive's `assets/layers/<group>/vocabulary.txt` when an adapted layer's config holds none) and
  /// its tf-idf weights (from `layers/<group>/vars/idf_weights`): the layer keeps both in its config.
  static func inlineLookupState(
    _ config: ConfigValue, assets: [String: [UInt8]], weights: HDF5Reader?, path: String
  ) throws -> ConfigValue {
    guard var top = config.objectValue, var inner = top["config"]?.objectValue,
      var records = inner["layers"]?.arrayValue
    else { return config }
    let groups = layerGroups(records, classes: ["IntegerLookup"])
    guard !groups.isEmpty else { return config }
    for (position, record) in records.enumerated() {
      guard var object = record.objectValue, let name = layerName(object),
        let group = groups[name]?.group, var layer = object["config"]?.objectValue
      else { continue }
      let label = "IntegerLookup '\(name.prefix(100))'"
      if layer["vocabulary"]?.arrayValue == nil {
        let member = "assets/layers/\(group)/vocabulary.txt"
        guard let bytes = assets[member] else {
          throw StrataError.file(
            path: path, reason: "holds no vocabulary for \(label) (\(member) is missing)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
          throw StrataError.file(
            path: path, reason: "holds a vocabulary for \(label) that is not UTF-8")
        }
        var lines = pythonLines(text)
        while lines.last == "" { lines.removeLast() }
        layer["vocabulary"] = .array(
          try lines.enumerated().map { line, value in
            guard let number = Int(value.trimmingCharacters(in: .whitespaces)),
              abs(number) <= 1 << 24
            else {
              throw StrataError.file(
                path: path,
                reason:
                  "holds a vocabulary for \(label) whose line \(line + 1) ('\(value.prefix(40))') is not a whole number up to 2^24"
              )
            }
            return .int(number)
          })
      }
      if layer["output_mode"]?.stringValue == "tf_idf", layer["idf_weights"]?.arrayValue == nil {
        layer["idf_weights"] = try idfWeights(
          at: ["layers/\(group)/vars/idf_weights"], in: weights, label: label,
          count: layer["vocabulary"]?.arrayValue?.count ?? 0, path: path)
      }
      object["config"] = .object(layer)
      records[position] = .object(object)
    }
    inner["layers"] = .array(records)
    top["config"] = .object(inner)
    return .object(top)
  }

  private static func layerName(_ record: ConfigDictionary) -> String? {
    record["name"]?.stringValue ?? record["config"]?.objectValue?["name"]?.stringValue
  }

  private static func isStringInput(_ record: ConfigDictionary) -> Bool {
    guard record["class_name"]?.stringValue == "InputLayer",
      let dtype = record["config"]?.objectValue?["dtype"]
    else { return false }
    return (dtype.stringValue ?? dtype.objectValue?["config"]?.objectValue?["name"]?.stringValue)
      == "string"
  }

  /// The layers whose calls read an output of `source`.
  private static func readers(of source: String, in records: [ConfigValue]) -> [String] {
    func reads(_ value: ConfigValue) -> Bool {
      switch value {
      case .object(let object):
        if let history = object["keras_history"]?.arrayValue, history.first == .string(source) {
          return true
        }
        return object.values.contains(where: reads)
      case .array(let values):
        // Keras 2's node lists: [name, call, tensor, kwargs].
        if values.count >= 3, values.first == .string(source), values[1].intValue != nil {
          return true
        }
        return values.contains(where: reads)
      default: return false
      }
    }
    return records.compactMap { record in
      guard let object = record.objectValue, let nodes = object["inbound_nodes"], reads(nodes)
      else { return nil }
      return layerName(object) ?? "?"
    }
  }

  /// The text vectorizer a record describes, its vocabulary from the archive's assets (or its
  /// config) and its idf weights from the weights file.
  private static func vectorizer(
    _ record: ConfigDictionary, group: String, assets: [String: [UInt8]], weights: HDF5Reader?,
    path: String
  ) throws -> any TextPreprocessing {
    var config = record["config"]?.objectValue ?? [:]
    let kind = record["class_name"]?.stringValue ?? "TextVectorization"
    let name = layerName(record) ?? kind
    if config["vocabulary"]?.arrayValue == nil {
      guard
        let bytes = vocabularyMembers(group: group, kind: kind).lazy.compactMap({ assets[$0] })
          .first
      else {
        throw StrataError.file(
          path: path,
          reason:
            "holds no vocabulary for \(kind) '\(name.prefix(100))' (assets/layers/\(group)/vocabulary.txt is missing)"
        )
      }
      guard let text = String(validating: bytes, as: UTF8.self) else {
        throw StrataError.file(
          path: path,
          reason: "holds a vocabulary for '\(name.prefix(100))' that is not UTF-8 text")
      }
      config["vocabulary"] = .array(pythonLines(text).map(ConfigValue.string))
    }
    if config["output_mode"]?.stringValue == "tf_idf", config["idf_weights"]?.arrayValue == nil {
      config["idf_weights"] = try idfWeights(
        at: [
          "layers/\(group)/vars/idf_weights", "layers/\(group)/_lookup_layer/vars/idf_weights",
        ], in: weights, label: "\(kind) '\(name.prefix(100))'",
        count: config["vocabulary"]?.arrayValue?.count ?? 0, path: path)
    }
    do {
      return kind == "StringLookup"
        ? try StringLookup(kerasConfig: config) : try TextVectorization(kerasConfig: config)
    } catch let error as StrataError {
      throw StrataError.file(
        path: path, reason: "has a \(kind) '\(name.prefix(100))' that \(error)")
    }
  }

  /// A tf-idf layer's weights for its `count` vocabulary entries, from the first of `locations` the
  /// weights file holds (Keras pads them to `max_tokens`).
  private static func idfWeights(
    at locations: [String], in weights: HDF5Reader?, label: String, count: Int, path: String
  ) throws -> ConfigValue {
    guard let weights, let location = locations.first(where: weights.exists) else {
      throw StrataError.file(path: path, reason: "holds no idf_weights for the tf_idf \(label)")
    }
    let idf = try weights.readTensor(location)
    guard idf.rank == 1, idf.count >= count else {
      throw StrataError.file(
        path: path,
        reason:
          "holds \(idf.count) idf_weights for \(label), fewer than its \(count) vocabulary entries"
      )
    }
    return .array(idf.scalars.prefix(count).map { .double(Double($0)) })
  }

  /// Python's `str.splitlines()` (as Keras reads `vocabulary.txt`), trailing empty lines dropped.
  static func pythonLines(_ text: String) -> [String] {
    let breaks: Set<Unicode.Scalar> = [
      "\n", "\r", "\u{0B}", "\u{0C}", "\u{1C}", "\u{1D}", "\u{1E}", "\u{85}", "\u{2028}",
      "\u{2029}",
    ]
    var lines: [String] = []
    var current = String.UnicodeScalarView()
    var afterCR = false
    for scalar in text.unicodeScalars {
      if afterCR, scalar == "\n" {
        afterCR = false
        continue
      }
      afterCR = scalar == "\r"
      if breaks.contains(scalar) {
        lines.append(String(current))
        current = String.UnicodeScalarView()
      } else {
        current.append(scalar)
      }
    }
    if !current.isEmpty { lines.append(String(current)) }
    while lines.last == "" { lines.removeLast() }
    return lines
  }

  /// `config` with each string input and the `TextVectorization` layer it feeds made one numeric
  /// input named after that layer, and the vectorizers by input position.
  /// - Throws: naming the layer, for a string input that feeds anything else, or a
  ///   `TextVectorization` layer anywhere but at a string input.
  static func splitTextInputs(
    _ config: ConfigValue, assets: [String: [UInt8]], weights: HDF5Reader?, path: String
  ) throws -> (
    config: ConfigValue, texts: [Int: (inputName: String, vectorizer: any TextPreprocessing)]
  ) {
    guard var top = config.objectValue, var inner = top["config"]?.objectValue,
      var records = inner["layers"]?.arrayValue
    else { return (config, [:]) }
    let objects = records.map { $0.objectValue ?? [:] }
    let strings = objects.filter(isStringInput).compactMap(layerName)
    let textLayers = objects.filter(isTextLayer)
    guard !strings.isEmpty || !textLayers.isEmpty else { return (config, [:]) }
    let groups = textGroups(records)
    func numericInput(replacing record: ConfigDictionary, named name: String) throws -> (
      ConfigValue, any TextPreprocessing
    ) {
      let vectorize = try vectorizer(
        record, group: groups[layerName(record) ?? ""]?.group ?? "text_vectorization",
        assets: assets, weights: weights, path: path)
      let shape: [Int]
      do {
        shape = try vectorize.outputShape()
      } catch let error as StrataError {
        throw StrataError.file(
          path: path,
          reason:
            "has a \(record["class_name"]?.stringValue ?? "text layer") '\(name.prefix(100))' whose \(error)"
        )
      }
      let input: ConfigValue = [
        "class_name": "InputLayer", "name": .string(name),
        "config": [
          "name": .string(name), "batch_shape": .array([.null] + shape.map { .int($0) }),
          "dtype": .string(vectorize.outputDType),
        ],
        "inbound_nodes": [],
      ]
      return (input, vectorize)
    }
    var texts: [Int: (inputName: String, vectorizer: any TextPreprocessing)] = [:]
    if top["class_name"]?.stringValue == "Sequential" {
      guard objects.count >= 2, isStringInput(objects[0]),
        isTextLayer(objects[1]),
        strings.count == 1, textLayers.count == 1
      else {
        throw StrataError.file(
          path: path,
          reason:
            "has a Sequential model whose text (an Input of dtype string) does not go straight into one \(textLayerNames) layer, the only way Strata takes text"
        )
      }
      let inputName = layerName(objects[0]) ?? "input_layer"
      let (input, vectorize) = try numericInput(replacing: objects[1], named: inputName)
      records.replaceSubrange(0...1, with: [input])
      texts[0] = (inputName, vectorize)
    } else {
      for source in strings {
        let readers = readers(of: source, in: records)
        let index = records.firstIndex { layerName($0.objectValue ?? [:]) == readers.first }
        guard readers.count == 1, let index,
          isTextLayer(records[index].objectValue ?? [:])
        else {
          throw StrataError.file(
            path: path,
            reason:
              "has an input '\(source.prefix(100))' of dtype string that feeds \(readers.isEmpty ? "nothing" : readers.map { "'\($0.prefix(100))'" }.joined(separator: ", ")); Strata takes text through one \(textLayerNames) layer at the input"
          )
        }
        let name = readers[0]
        let (input, vectorize) = try numericInput(
          replacing: records[index].objectValue ?? [:], named: name)
        records[index] = input
        records.removeAll { layerName($0.objectValue ?? [:]) == source }
        let entries = inner["input_layers"]?.arrayValue ?? []
        let listed = entries.first?.arrayValue == nil ? [ConfigValue.array(entries)] : entries
        guard let position = listed.firstIndex(where: { $0.arrayValue?.first == .string(source) })
        else {
          throw StrataError.file(
            path: path, reason: "has a string input '\(source.prefix(100))' not among its inputs")
        }
        var updated = listed
        updated[position] = [.string(name), 0, 0]
        inner["input_layers"] = .array(updated)
        texts[position] = (source, vectorize)
      }
      if let stray = records.lazy.compactMap(\.objectValue).first(where: {
        isTextLayer($0)
      }) {
        throw StrataError.file(
          path: path,
          reason:
            "has a \(stray["class_name"]?.stringValue ?? "text layer") '\((layerName(stray) ?? "?").prefix(100))' that is not applied to a string Input; Strata vectorizes text only at a model's input"
        )
      }
    }
    inner["layers"] = .array(records)
    top["config"] = .object(inner)
    return (.object(top), texts)
  }
}

extension KerasFile {
  /// Keras' records of a model's text inputs: each numeric input that takes text written back as an
  /// `Input(dtype="string")` and the `TextVectorization` layer (named as the numeric input) it feeds.
  static func textRecords(_ inner: ConfigDictionary, of model: Model, sequential: Bool)
    -> ConfigDictionary
  {
    guard !model.textInputs.isEmpty else { return inner }
    var inner = inner
    var records = inner["layers"]?.arrayValue ?? []
    func stringInput(_ name: String) -> ConfigDictionary {
      var record: ConfigDictionary = [
        "module": "keras.layers", "class_name": "InputLayer", "registered_name": .null,
        "config": [
          "batch_shape": [.null, 1], "dtype": "string", "sparse": false, "ragged": false,
          "name": .string(name), "optional": false,
        ],
      ]
      if !sequential { (record["name"], record["inbound_nodes"]) = (.string(name), []) }
      return record
    }
    func textLayer(_ text: TextInput, name: String) -> ConfigDictionary {
      var config = text.vectorizer.kerasAssetConfig
      (config["name"], config["dtype"], config["trainable"]) = (.string(name), float32Policy, true)
      var record: ConfigDictionary = [
        "module": "keras.layers", "class_name": .string(text.vectorizer.kerasClassName),
        "config": .object(config), "registered_name": .null,
        "build_config": ["input_shape": [.null, 1]],
      ]
      if !sequential {
        record["name"] = .string(name)
        record["inbound_nodes"] = [
          [
            "args": [
              [
                "class_name": "__keras_tensor__",
                "config": [
                  "shape": [.null, 1], "dtype": "string",
                  "keras_history": [.string(text.inputName), 0, 0],
                ],
              ]
            ],
            "kwargs": [:],
          ]
        ]
      }
      return record
    }
    if sequential, let text = model.textInputs[0] {
      var name = snakeCase(text.vectorizer.kerasClassName)
      while model.layerNames.contains(name) { name += "_1" }
      let hasInput = records.first?.objectValue?["class_name"] == "InputLayer"
      records.replaceSubrange(
        0..<(hasInput ? 1 : 0),
        with: [.object(stringInput(text.inputName)), .object(textLayer(text, name: name))])
    } else {
      var entries = inner["input_layers"]?.arrayValue ?? []
      if entries.first?.arrayValue == nil { entries = [.array(entries)] }
      for (position, text) in model.textInputs.sorted(by: { $0.key < $1.key })
      where position < entries.count {
        guard let name = entries[position].arrayValue?.first?.stringValue,
          let index = records.firstIndex(where: { $0.objectValue?["name"] == .string(name) })
        else { continue }
        records.replaceSubrange(
          index...index,
          with: [.object(stringInput(text.inputName)), .object(textLayer(text, name: name))])
        entries[position] = [.string(text.inputName), 0, 0]
      }
      inner["input_layers"] = .array(entries)
    }
    inner["layers"] = .array(records)
    return inner
  }

  /// Each text input's vectorizer with the weights group Keras gives its layer.
  static func textGroups(of model: Model) -> [(group: String, vectorizer: any TextPreprocessing)] {
    guard !model.textInputs.isEmpty else { return [] }
    let records =
      kerasRecord(of: model).objectValue?["config"]?.objectValue?["layers"]?.arrayValue ?? []
    let groups = textGroups(records)
    let byName = Dictionary(
      records.compactMap { record -> (String, String)? in
        guard let object = record.objectValue,
          isTextLayer(object),
          let name = object["config"]?.objectValue?["name"]?.stringValue,
          let inputName = object["inbound_nodes"]?.arrayValue?.first?.objectValue?["args"]?
            .arrayValue?.first?.objectValue?["config"]?.objectValue?["keras_history"]?.arrayValue?
            .first?.stringValue
            ?? (model is Sequential ? model.textInputs[0]?.inputName : nil)
        else { return nil }
        return (inputName, name)
      }, uniquingKeysWith: { first, _ in first })
    return model.textInputs.sorted { $0.key < $1.key }.compactMap { _, text in
      guard let name = byName[text.inputName], let group = groups[name]?.group else { return nil }
      return (group, text.vectorizer)
    }
  }

  /// Writes the empty variable groups Keras keeps for each text input's layer, and its idf weights.
  static func writeTextWeights(of model: Model, into file: HDF5File) throws {
    for (group, vectorizer) in textGroups(of: model) {
      let inner = vectorizer.kerasClassName == "TextVectorization"
      for base in ["layers/\(group)"] + (inner ? ["layers/\(group)/_lookup_layer"] : []) {
        try file.createGroup("\(base)/vars")
        let idf = vectorizer.kerasIDFWeights
        if !idf.isEmpty {
          try file.write(
            try Tensor(shape: [idf.count], scalars: idf), to: "\(base)/vars/idf_weights")
        }
      }
    }
  }

  /// The archive members holding each text input's vocabulary, as Keras writes them.
  static func textAssets(of model: Model) -> [(String, Data)] {
    textGroups(of: model).flatMap { group, vectorizer in
      let text = Data(vectorizer.vocabulary.joined(separator: "\n").utf8)
      return vocabularyMembers(group: group, kind: vectorizer.kerasClassName).reversed().map {
        ($0, text)
      }
    }
  }
}
