import Foundation
import StrataCore

extension Model {
  /// Builds a model from a decoded file (the header checked against its tensors): a `Sequential` or a
  /// functional model, as the architecture says.
  static func load(header: [String: ConfigValue], tensors: [String: Tensor], path: String) throws
    -> Model
  {
    guard let config = header["model"] else {
      throw StrataError.file(path: path, reason: "holds no model architecture")
    }
    let seed = header["training"]?.objectValue?["seed"]?.stringValue.flatMap {
      UInt64($0, radix: 16)
    }
    // The architecture may not make weights the file does not hold: layers are built (as soon as the
    // input shape is known) under a budget of the file's own tensors, so a header that claims a huge
    // layer is refused before that layer's weights are allocated.
    let budget = AllocationBudget(forTensorsOf: tensors)
    let model: Model
    do {
      model = try AllocationBudget.$current.withValue(budget) {
        try Model.make(config: config, seed: seed)
      }
    } catch StrataError.unknownIdentifier(let kind, let identifier, let suggestions) {
      throw unregistered(
        kind, identifier, package: header["packages"]?.objectValue?[identifier]?.stringValue,
        suggestions: suggestions, path: path)
    } catch let error as StrataError {
      throw unbuildable(error, path: path)
    }
    try model.buildForLoading(budget: budget, path: path)
    try model.restoreWeights(tensors, path: path)
    try model.restoreCompile(header: header, path: path)
    try model.restoreState(header: header, tensors: tensors, path: path)
    return model
  }

  /// ``save(to:)`` with a path, as Keras' `model.save("model.strata")`.
  public func save(_ path: String) throws { try save(to: URL(fileURLWithPath: path)) }

  /// ``saveWeights(to:)`` with a path.
  public func saveWeights(_ path: String) throws { try saveWeights(to: URL(fileURLWithPath: path)) }

  /// ``loadWeights(from:)`` with a path.
  public func loadWeights(_ path: String) throws {
    try loadWeights(from: URL(fileURLWithPath: path))
  }

  /// Loads weights saved by ``saveWeights(to:)`` or ``save(to:)`` into this model, matching them by
  /// layer name and weight name. Keras' `load_weights`.
  public func loadWeights(from url: URL) throws {
    let (format, file) = try ModelFileFormat.open(url)
    guard format == .strata else {
      try KerasFiles.codec(for: url.path).loadWeights(
        into: self, format: format, file: file, path: url.path)
      return
    }
    let (_, tensors) = try ModelFile.decode(try file.data(), path: url.path)
    if !isBuilt {
      try buildForLoading(budget: AllocationBudget(forTensorsOf: tensors), path: url.path)
    }
    try restoreWeights(tensors, path: url.path)
  }

  func restoreWeights(_ tensors: [String: Tensor], path: String) throws {
    var values: [Tensor] = []
    for (name, value) in namedWeights() {
      guard let saved = tensors[name] else {
        throw StrataError.file(path: path, reason: "holds no weight '\(name)'")
      }
      guard saved.shape == value.shape else {
        throw StrataError.file(
          path: path,
          reason:
            "holds weight '\(name)' of shape \(saved.shape), but the model's is \(value.shape)")
      }
      values.append(saved)
    }
    try setWeights(values)
  }

  /// Compiles the model as the file records, if it records a compile.
  package func restoreCompile(header: [String: ConfigValue], path: String) throws {
    guard let section = header["compile"] else { return }
    guard let compile = section.objectValue else {
      throw StrataError.file(path: path, reason: "has compile settings that are not an object")
    }
    func spec(_ key: String) throws -> (String, ConfigDictionary) {
      guard let object = compile[key]?.objectValue, let name = object["class_name"]?.stringValue
      else {
        throw StrataError.file(path: path, reason: "has compile settings without a \(key)")
      }
      return (name, object["config"]?.objectValue ?? [:])
    }
    func metricList(_ value: ConfigValue?) throws -> [any MetricConvertible] {
      let specs = value?.arrayValue ?? []
      return try specs.map { spec in
        if let name = spec.stringValue { return name }
        guard let name = spec.objectValue?["class_name"]?.stringValue else {
          throw StrataError.file(
            path: path,
            reason:
              "has metrics that are not identifiers: \(ConfigValue.array(specs).description.prefix(200))"
          )
        }
        return try Registries.shared.metrics.make(
          name, config: spec.objectValue?["config"]?.objectValue ?? [:])
      }
    }
    func loss(_ value: ConfigValue?, _ key: String) throws -> any Loss {
      guard let object = value?.objectValue, let name = object["class_name"]?.stringValue else {
        throw StrataError.file(path: path, reason: "has compile settings without a \(key)")
      }
      return try Registries.shared.losses.make(name, config: object["config"]?.objectValue ?? [:])
    }
    do {
      let (optimizerName, optimizerConfig) = try spec("optimizer")
      let optimizer = try Registries.shared.optimizers.make(optimizerName, config: optimizerConfig)
      if let losses = compile["loss"]?.objectValue, losses["class_name"] == nil {
        let weights = compile["loss_weights"]?.objectValue ?? [:]
        let metrics = compile["metrics"]?.objectValue ?? [:]
        try self.compile(
          optimizer: optimizer,
          loss: try losses.mapValues { try loss($0, "loss") },
          lossWeights: try weights.mapValues { value in
            guard let weight = value.doubleValue else {
              throw StrataError.file(path: path, reason: "has a loss weight that is not a number")
            }
            return Float(weight)
          },
          metrics: try metrics.mapValues { try metricList($0) })
      } else {
        try self.compile(
          optimizer: optimizer, loss: try loss(compile["loss"], "loss"),
          metrics: try metricList(compile["metrics"]))
      }
    } catch let error as StrataError {
      if case .file = error { throw error }
      throw StrataError.file(
        path: path, reason: "has compile settings Strata cannot restore: \(error)")
    }
  }

  /// Restores the optimizer's state (into the compiled optimizer) and the random generators' states.
  func restoreState(header: [String: ConfigValue], tensors: [String: Tensor], path: String) throws {
    func corrupt(_ reason: String) -> StrataError { .file(path: path, reason: reason) }
    if let training = header["training"] {
      guard let generators = training.objectValue?["generators"]?.objectValue else {
        throw corrupt("has a training section without generator states")
      }
      func state(_ key: String) throws -> [UInt64] {
        guard let values = generators[key]?.arrayValue, values.count == 4 else {
          throw corrupt(
            "has no valid state for the random generator '\(key.prefix(100))' (4 hexadecimal words)"
          )
        }
        let words = values.compactMap { $0.stringValue.flatMap { UInt64($0, radix: 16) } }
        guard words.count == 4, words.contains(where: { $0 != 0 }) else {
          throw corrupt("has a malformed state for the random generator '\(key.prefix(100))'")
        }
        return words
      }
      shuffleGenerator.state = try state("shuffle")
      for (layer, name) in zip(layers, layerNames) {
        if let random = layer as? any RandomizedLayer { random.generatorState = try state(name) }
      }
    }
    guard let optimizer = compiled?.optimizer,
      let state = header["compile"]?.objectValue?["optimizer_state"]?.objectValue
    else {
      return
    }
    let slotCount = tensors.keys.filter { $0.hasPrefix("optimizer/") }.count
    let saved = try (0..<slotCount).map { index in
      guard let slot = tensors["optimizer/\(index)"] else {
        throw corrupt("has optimizer slots that are not numbered 0 to \(slotCount - 1)")
      }
      return slot
    }
    if let value = state["learning_rate"] {
      guard let rate = value.doubleValue, rate.isFinite, rate >= 0, Float(rate).isFinite else {
        throw corrupt(
          "has an invalid learning rate \(value.description.prefix(100)); expected a finite number ≥ 0"
        )
      }
      optimizer.learningRate = Float(rate)
    }
    // Iterations count steps: at most 2^53, where a Double still counts them exactly.
    let iterations = state["iterations"]?.intValue ?? 0
    guard (0...(1 << 53)).contains(iterations),
      state["iterations"] == nil || state["iterations"]?.intValue != nil
    else {
      throw corrupt(
        "has an invalid iteration count \(state["iterations"]?.description.prefix(100) ?? ""); expected an integer from 0 to 2^53"
      )
    }
    if !saved.isEmpty || iterations > 0 {
      do {
        try optimizer.restore(state: saved, iterations: iterations, parameters: parameters)
      } catch {
        throw StrataError.file(
          path: path, reason: "holds an optimizer state that does not fit the model: \(error)")
      }
    }
  }
}

extension Sequential {
  /// Loads a `Sequential` saved by ``save(to:)``.
  /// - Throws: `StrataError.file(path:reason:)` for a missing, truncated or corrupted file, weights of
  ///   the wrong shape, an identifier nobody registered (naming the plugin package when recorded), or a
  ///   functional model (load that with `loadModel(from:)`).
  public static func load(from url: URL) throws -> Sequential {
    guard let model = try loadModel(from: url) as? Sequential else {
      throw StrataError.file(
        path: url.path, reason: "holds a functional model: load it with loadModel(from:)")
    }
    return model
  }

  /// ``load(from:)`` with a path, as Keras' `keras.models.load_model("model.strata")`.
  public static func load(_ path: String) throws -> Sequential {
    try load(from: URL(fileURLWithPath: path))
  }
}

/// Loads any model saved by `save(to:)`, `Sequential` or functional. Keras' `keras.models.load_model`.
public func loadModel(from url: URL) throws -> Model {
  let (format, file) = try ModelFileFormat.open(url)
  switch format {
  case .strata:
    let (header, tensors) = try ModelFile.decode(try file.data(), path: url.path)
    return try Model.load(header: header, tensors: tensors, path: url.path)
  case .keras, .hdf5:
    return try KerasFiles.codec(for: url.path).loadModel(from: file, format: format, path: url.path)
  }
}

/// ``loadModel(from:)`` with a path.
public func loadModel(_ path: String) throws -> Model {
  try loadModel(from: URL(fileURLWithPath: path))
}

/// The error for a file whose architecture does not build: `error` (what the model refused), named
/// with the file.
package func unbuildable(_ error: StrataError, path: String) -> StrataError {
  .file(
    path: path,
    reason: "holds an architecture Strata cannot build: \(error.description.prefix(500))")
}

/// The model file formats Strata reads, told apart by their first bytes.
public enum ModelFileFormat: String, Sendable, CaseIterable {
  /// Strata's own file (`.strata`, any extension): magic `STRATA`.
  case strata
  /// Keras 3's `.keras` zip of `config.json`, `model.weights.h5` and `metadata.json`.
  case keras
  /// An HDF5 file: Keras 3's `.weights.h5`, or Keras 2's legacy full-model or weights `.h5`.
  case hdf5

  /// The format of a file starting with `bytes`; `nil` when it is none of them.
  public init?(bytes: Data) {
    if bytes.starts(with: ModelFile.magic) {
      self = .strata
    } else if bytes.starts(with: [0x50, 0x4B, 0x03, 0x04])
      || bytes.starts(with: [0x50, 0x4B, 0x05, 0x06])
    {
      self = .keras
    } else if bytes.starts(with: [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]) {  // HDF5
      self = .hdf5
    } else {
      return nil
    }
  }

  /// Opens the file at `url` (a regular file within ``Limits/maximumFileBytes``) and tells its
  /// format from its first bytes; the rest is read by the format's reader, in the pieces it needs.
  /// - Throws: ``StrataError/file(path:reason:)`` for a missing file or one of no known format.
  package static func open(_ url: URL) throws -> (ModelFileFormat, UntrustedFile) {
    let file = try UntrustedFile(url, kind: "a model file")
    guard file.size >= 8 else {
      throw StrataError.file(
        path: url.path, reason: "is too short to be a model file (\(file.size) bytes)")
    }
    guard let format = ModelFileFormat(bytes: Data(try file.read(at: 0, count: 8))) else {
      throw StrataError.file(
        path: url.path,
        reason:
          "is not a model file Strata reads (a Strata model, a Keras .keras zip or an HDF5 .h5 file)"
      )
    }
    return (format, file)
  }
}

extension Model {
  /// A model from a Keras config, `Sequential` or functional as the config says: by its
  /// `class_name` (`"Sequential"`; `"Functional"` or `"Model"`), or, for a bare config (a nested
  /// model's, `get_config()`'s, a list of layer records), by whether it names `input_layers`. The one
  /// place that decides, for `.keras` and Strata files, the command line's JSON and nested models.
  /// - Parameter seed: fixes the initial weights, dropout and shuffling; random when `nil`.
  public static func make(config: ConfigValue, seed: UInt64? = nil) throws -> Model {
    let object = config.objectValue
    switch object?["class_name"]?.stringValue {
    case "Sequential": return try Sequential(config: config, seed: seed)
    case "Functional", "Model": return try Model(config: config, seed: seed)
    default:
      let inner = object?["config"]?.objectValue ?? object
      return inner?["input_layers"] != nil
        ? try Model(config: config, seed: seed) : try Sequential(config: config, seed: seed)
    }
  }

  /// ``make(config:seed:)`` from JSON (`model.to_json()`, a `get_config()` dumped), parsed once.
  public static func make(json: Data, seed: UInt64? = nil) throws -> Model {
    try make(config: try modelConfig(json: json, owner: "Model"), seed: seed)
  }

  /// A model's config from JSON; JSON that does not parse is an error naming `owner`'s `json`.
  static func modelConfig(json: Data, owner: String) throws -> ConfigValue {
    do {
      return try ConfigValue(json: json)
    } catch StrataError.invalidArgument(_, _, let found, let expected) {
      throw StrataError.invalidArgument(
        owner: owner, argument: "json",
        value: "that is not valid JSON (\(found.dropFirst(5)): expected \(expected))",
        expected: "a Keras model config")
    }
  }
}
