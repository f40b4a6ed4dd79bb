import Foundation
import Strata
import StrataCore
import StrataLayers

/// Keras 3's `.keras` and `.weights.h5` files and Keras 2's legacy `.h5`, to and from Strata models.
enum KerasFile {
  /// Keras' `naming.to_snake_case`: the group name of a layer class in `model.weights.h5`
  /// (`Conv2D` → `conv2d`, `BatchNormalization` → `batch_normalization`, `PReLU` → `p_re_lu`).
  static func snakeCase(_ name: String) -> String { kerasSnakeCase(name) }

  /// A layer's parameters in Keras' order: trainable weights, then the others, each in creation order.
  static func kerasOrder(_ layer: any Layer) -> [Parameter] {
    let parameters = layer.parameters
    return parameters.filter(\.isTrainableByNature) + parameters.filter { !$0.isTrainableByNature }
  }

  /// Keras' class name of a layer (without a plugin's package) and its `registered_name`, `nil` for
  /// a built-in.
  static func className(of layer: any Layer) -> (name: String, registered: String?) {
    let identifier =
      (try? Registries.shared.layers.canonicalName(of: layer.identifier)) ?? layer.identifier
    let bare = String(identifier.split(separator: ">").last ?? Substring(identifier))
    if layer is ModelLayer {
      return ((layer as! ModelLayer).model is Sequential ? "Sequential" : "Functional", nil)
    }
    guard let package = (try? Registries.shared.layers.package(of: layer.identifier)) ?? nil else {
      return (bare, nil)
    }
    return (bare, "\(package)>\(bare)")
  }

  /// The group of each layer in `model.weights.h5`, as Keras names them: the class in snake case,
  /// numbered per class in model order (`dense`, `dense_1`, …).
  static func groupNames(_ layers: [any Layer]) -> [String] {
    var used: [String: Int] = [:]
    return layers.map { layer in
      let base = snakeCase(className(of: layer).name)
      if let count = used[base] {
        used[base] = count + 1
        return "\(base)_\(count + 1)"
      }
      used[base] = 0
      return base
    }
  }

  // MARK: Reading

  /// Loads a `.keras` file: the architecture, the weights and, when present, the compile settings
  /// and the optimizer's state.
  static func loadModel(keras data: Data, path: String) throws -> Model {
    try loadModel(keras: ZipArchive.Source(data), path: path)
  }

  /// Loads a `.keras` archive read from `source`: its members are the only copy of their bytes.
  static func loadModel(keras source: ZipArchive.Source, path: String) throws -> Model {
    var members = try ZipArchive.read(
      source, path: path, wanted: ["config.json", "model.weights.h5", "metadata.json"])
    guard let configBytes = members["config.json"] else {
      throw StrataError.file(path: path, reason: "holds no config.json (not a Keras 3 model file)")
    }
    guard let config = try? ConfigValue(json: Data(configBytes)) else {
      throw StrataError.file(path: path, reason: "holds a config.json that is not valid JSON")
    }
    guard let weights = members["model.weights.h5"] else {
      throw StrataError.file(path: path, reason: "holds no model.weights.h5")
    }
    members = [:]  // the reader holds the weights' bytes, the only copy of them
    let file = try HDF5Reader(bytes: weights, path: "\(path)/model.weights.h5")
    let assetNames = textAssetMembers(of: config)
    let assets =
      assetNames.isEmpty ? [:] : try ZipArchive.read(source, path: path, wanted: assetNames)
    let (numeric, texts) = try splitTextInputs(
      try inlineLookupState(config, assets: assets, weights: file, path: path), assets: assets,
      weights: file, path: path)
    let model = try build(config: numeric, budgetBytes: weights.count, path: path)
    try readWeights(of: model, from: file, prefix: "")
    for (position, text) in texts.sorted(by: { $0.key < $1.key }) {
      try model.setTextVectorization(text.vectorizer, forInput: position, name: text.inputName)
    }
    if let compile = config.objectValue?["compile_config"]?.objectValue, !compile.isEmpty {
      try model.restoreCompile(
        header: ["compile": try strataCompile(compile, path: path)], path: path)
      try readOptimizer(of: model, from: file, compile: compile)
    }
    return model
  }

  /// Loads Keras 2's legacy full-model `.h5`: the architecture from the `model_config` attribute,
  /// the weights from `model_weights`.
  static func loadModel(hdf5 data: Data, path: String) throws -> Model {
    try loadModel(hdf5: [UInt8](data), path: path)
  }

  /// Loads Keras 2's legacy `.h5` from its bytes (kept, not copied, by the reader).
  static func loadModel(hdf5 data: [UInt8], path: String) throws -> Model {
    let file = try HDF5Reader(bytes: data, path: path)
    guard let text = try file.readStrings("/", attribute: "model_config")?.first else {
      throw StrataError.file(
        path: path,
        reason:
          "is an HDF5 file of weights only (no model_config): build the model, then call loadWeights"
      )
    }
    guard let config = try? ConfigValue(json: Data(text.utf8)) else {
      throw StrataError.file(path: path, reason: "has a model_config that is not valid JSON")
    }
    let (numeric, texts) = try splitTextInputs(config, assets: [:], weights: nil, path: path)
    let model = try build(config: numeric, budgetBytes: data.count, path: path)
    try readLegacyWeights(of: model, from: file, group: "model_weights")
    for (position, text) in texts.sorted(by: { $0.key < $1.key }) {
      try model.setTextVectorization(text.vectorizer, forInput: position, name: text.inputName)
    }
    return model
  }

  /// Builds the model a Keras config describes, its layers' weights bounded by the bytes of the file.
  static func build(config: ConfigValue, budgetBytes: Int, path: String) throws -> Model {
    let config = try strataConfig(config, path: path)
    let budget = AllocationBudget(
      elements: budgetBytes / 4, purpose: "the weights the file holds", valuesFollow: true)
    let model: Model
    do {
      model = try AllocationBudget.$current.withValue(budget) {
        try Model.make(config: config)
      }
    } catch StrataError.unknownIdentifier(let kind, var identifier, let suggestions) {
      // Keras names a registered custom object `Pkg>Name`: the package to register.
      func qualified(_ value: ConfigValue) -> String? {
        switch value {
        case .object(let object):
          if let name = object["registered_name"]?.stringValue,
            name.hasSuffix(">\(identifier)") || name == identifier
          {
            return name
          }
          return object.values.lazy.compactMap(qualified).first
        case .array(let values): return values.lazy.compactMap(qualified).first
        default: return nil
        }
      }
      identifier = qualified(config) ?? identifier
      throw unregistered(
        kind, identifier,
        package: identifier.firstIndex(of: ">").map { String(identifier[..<$0]) }
          .flatMap { $0.isEmpty ? nil : $0 },
        suggestions: suggestions, path: path)
    } catch let error as StrataError {
      throw unbuildable(error, path: path)
    }
    try model.buildForLoading(budget: budget, path: path)
    return model
  }

  /// Keras' config made Strata's: a plugin layer found by its `registered_name` (`Pkg>Name`), the
  /// same in nested models; Keras' other keys are read by the configs themselves.
  static func strataConfig(_ config: ConfigValue, path: String) throws -> ConfigValue {
    guard var top = config.objectValue, let kind = top["class_name"]?.stringValue else {
      throw StrataError.file(path: path, reason: "has a model config without a class_name")
    }
    guard ["Sequential", "Functional", "Model"].contains(kind) else {
      throw StrataError.file(
        path: path,
        reason:
          "holds a model of class '\(kind.prefix(100))' (Strata loads Sequential and Functional models)"
      )
    }
    top["class_name"] = .string(kind == "Sequential" ? "Sequential" : "Functional")
    guard var inner = top["config"]?.objectValue, let layers = inner["layers"]?.arrayValue else {
      throw StrataError.file(path: path, reason: "has a model config without layers")
    }
    inner["layers"] = .array(
      try layers.map { record in
        guard var object = record.objectValue else { return record }
        if let registered = object["registered_name"]?.stringValue, registered.contains(">") {
          object["class_name"] = .string(registered)
        }
        if let kind = object["class_name"]?.stringValue,
          ["Sequential", "Functional", "Model"].contains(kind)
        {
          return try strataConfig(.object(object), path: path)
        }
        return .object(object)
      })
    top["config"] = .object(inner)
    return .object(top)
  }

  /// Reads every layer's weights from Keras 3's layout (`layers/<group>/vars/<i>`) under `prefix`.
  static func readWeights(of model: Model, from file: HDF5Reader, prefix: String) throws {
    try model.setWeights(try weightValues(of: model, from: file, prefix: prefix))
  }

  /// The tensors of every parameter of `model` (nested models' included, in ``Model/parameters``
  /// order) from Keras 3's layout under `prefix`.
  static func weightValues(of model: Model, from file: HDF5Reader, prefix: String) throws
    -> [Tensor]
  {
    var values: [Tensor] = []
    for (layer, (group, name)) in zip(model.layers, zip(groupNames(model.layers), model.layerNames))
    {
      let base = "\(prefix)layers/\(group)"
      if let nested = layer as? ModelLayer {
        values += try weightValues(of: nested.model, from: file, prefix: "\(base)/")
        continue
      }
      let parameters = kerasOrder(layer)
      guard !parameters.isEmpty else { continue }
      if let nested = layer as? any KerasNestedWeights {
        let paths = nested.kerasWeightLocations.map { "\(base)/\($0.group)/vars/\($0.index)" }
        for path in paths where !file.exists(path) {
          throw StrataError.file(
            path: file.path, reason: "holds no weight '\(path.prefix(200))' for layer '\(name)'")
        }
        values += try layerWeights(layer, name: name, paths: paths, from: file)
        continue
      }
      guard file.exists("\(base)/vars") else {
        throw StrataError.file(
          path: file.path, reason: "holds no weights for layer '\(name)' (group '\(base)')")
      }
      let stored = try file.childCount("\(base)/vars")
      guard stored == parameters.count else {
        throw StrataError.file(
          path: file.path,
          reason:
            "holds \(stored) weights for layer '\(name)' ('\(base)'); the layer has \(parameters.count)"
        )
      }
      values += try layerWeights(
        layer, name: name, paths: parameters.indices.map { "\(base)/vars/\($0)" }, from: file)
    }
    return values
  }

  /// The tensors at `paths` (one per parameter, in Keras' order), each checked against its
  /// parameter's shape, returned in the layer's own parameter order.
  static func layerWeights(_ layer: any Layer, name: String, paths: [String], from file: HDF5Reader)
    throws -> [Tensor]
  {
    var byParameter: [ObjectIdentifier: Tensor] = [:]
    for (path, parameter) in zip(paths, kerasOrder(layer)) {
      let tensor = try file.readTensor(path)
      guard tensor.shape == parameter.shape else {
        throw StrataError.file(
          path: file.path,
          reason:
            "holds '\(path.prefix(200))' of shape \(tensor.shape); layer '\(name)''s '\(parameter.name)' is \(parameter.shape)"
        )
      }
      byParameter[ObjectIdentifier(parameter)] = tensor
    }
    return layer.parameters.map { byParameter[ObjectIdentifier($0)]! }
  }

  /// Reads Keras 2's layout: `group`'s `layer_names`, each layer group's `weight_names`.
  static func readLegacyWeights(of model: Model, from file: HDF5Reader, group: String) throws {
    guard let stored = try file.readStrings(group, attribute: "layer_names") else {
      throw StrataError.file(path: file.path, reason: "has no layer_names attribute at '\(group)'")
    }
    let storedNames = Set(stored)
    var values: [Tensor] = []
    for (layer, name) in zip(model.layers, model.layerNames) {
      let parameters = kerasOrder(layer)
      guard !parameters.isEmpty else { continue }
      guard storedNames.contains(name) else {
        throw StrataError.file(path: file.path, reason: "holds no weights for layer '\(name)'")
      }
      let layerGroup = group == "/" ? name : "\(group)/\(name)"
      let weightNames = try file.readStrings(layerGroup, attribute: "weight_names") ?? []
      guard weightNames.count == parameters.count else {
        throw StrataError.file(
          path: file.path,
          reason:
            "holds \(weightNames.count) weights for layer '\(name)'; the layer has \(parameters.count)"
        )
      }
      values += try layerWeights(
        layer, name: name, paths: weightNames.map { "\(layerGroup)/\($0)" }, from: file)
    }
    try model.setWeights(values)
  }

  /// Loads weights from any weights file Keras writes, or a `.keras` file's, into `model`.
  static func loadWeights(
    into model: Model, format: ModelFileFormat, file source: UntrustedFile, path: String
  ) throws {
    let image: [UInt8]
    var name = path
    if format == .keras {
      guard
        let weights = try ZipArchive.read(
          ZipArchive.Source(source), path: path, wanted: ["model.weights.h5"])["model.weights.h5"]
      else { throw StrataError.file(path: path, reason: "holds no model.weights.h5") }
      image = weights
      name = "\(path)/model.weights.h5"
    } else {
      image = try source.read(at: 0, count: source.size)
    }
    let file = try HDF5Reader(bytes: image, path: name)
    if !model.isBuilt {
      try model.buildForLoading(
        budget: AllocationBudget(elements: image.count / 4, purpose: "the weights the file holds"),
        path: path)
    }
    if file.exists("layers") {
      try readWeights(of: model, from: file, prefix: "")
    } else if file.exists("model_weights") {
      try readLegacyWeights(of: model, from: file, group: "model_weights")
    } else if try file.readStrings("/", attribute: "layer_names") != nil {
      try readLegacyWeights(of: model, from: file, group: "/")
    } else {
      throw StrataError.file(
        path: name, reason: "holds no Keras weights (no 'layers' or 'model_weights' group)")
    }
  }

  /// Keras' `compile_config` as the compile section of a Strata file.
  static func strataCompile(_ compile: ConfigDictionary, path: String) throws -> ConfigValue {
    func record(_ value: ConfigValue?, _ what: String) throws -> ConfigValue {
      if let name = value?.stringValue { return ["class_name": .string(name), "config": [:]] }
      guard var object = value?.objectValue, object["class_name"]?.stringValue != nil else {
        throw StrataError.file(
          path: path,
          reason:
            "has a compile_config \(what) Strata cannot read: \(value?.description.prefix(200) ?? "none")"
        )
      }
      if let registered = object["registered_name"]?.stringValue, registered.contains(">") {
        object["class_name"] = .string(registered)
      }
      return ["class_name": object["class_name"]!, "config": object["config"] ?? [:]]
    }
    var section: ConfigDictionary = ["optimizer": try record(compile["optimizer"], "optimizer")]
    for key in ["weighted_metrics", "loss_weights"] where !(compile[key]?.isNull ?? true) {
      if key == "loss_weights", compile["loss"]?.objectValue?["class_name"] == nil,
        compile["loss"]?.objectValue != nil
      {
        section["loss_weights"] = compile[key]
        continue
      }
      throw StrataError.file(
        path: path, reason: "has compile setting '\(key)', which Strata does not restore")
    }
    if let losses = compile["loss"]?.objectValue, losses["class_name"] == nil {
      section["loss"] = .object(try losses.mapValues { try record($0, "loss") })
      section["metrics"] = compile["metrics"]?.objectValue.map(ConfigValue.object) ?? [:]
    } else {
      section["loss"] = try record(compile["loss"], "loss")
      var metrics = compile["metrics"]?.arrayValue ?? []
      if metrics.count == 1, let inner = metrics[0].arrayValue { metrics = inner }
      section["metrics"] = .array(
        try metrics.map { $0.stringValue != nil ? $0 : try record($0, "metric") })
    }
    return .object(section)
  }

  /// Restores the optimizer's iteration count, learning rate and slots from `optimizer/vars`.
  static func readOptimizer(of model: Model, from file: HDF5Reader, compile: ConfigDictionary)
    throws
  {
    guard let optimizer = model.compiled?.optimizer, file.exists("optimizer/vars") else { return }
    let count = try file.childCount("optimizer/vars")
    guard count > 0 else { return }
    let iterations = try file.readInteger("optimizer/vars/0")
    guard (0...(1 << 53)).contains(iterations) else {
      throw StrataError.file(
        path: file.path, reason: "has an invalid iteration count \(iterations)")
    }
    let schedule =
      compile["optimizer"]?.objectValue?["config"]?.objectValue?["learning_rate"]?.objectValue
      != nil
    var first = 1
    if !schedule, count > 1 {
      let tensor = try file.readTensor("optimizer/vars/1")
      let rate = tensor.withUnsafeBufferPointer { $0.first ?? -1 }
      guard tensor.count == 1, rate >= 0 else {
        throw StrataError.file(
          path: file.path, reason: "has an invalid learning rate at 'optimizer/vars/1'")
      }
      optimizer.learningRate = rate
      first = 2
    }
    let stored = try (first..<count).map { try file.readTensor("optimizer/vars/\($0)") }
    // Keras' slots per trainable weight, placed among Strata's (the others start at zero).
    let (perParameter, kept) = optimizer.kerasSlots
    let trainable = model.parameters.filter(\.isTrainable)
    if stored.isEmpty && iterations == 0 { return }  // compiled, never trained: nothing to restore
    guard stored.count == trainable.count * kept.count else {
      throw StrataError.file(
        path: file.path,
        reason:
          "holds \(stored.count) optimizer slots; \(optimizer.identifier) keeps \(kept.count) for each of the model's \(trainable.count) trainable weights"
      )
    }
    var slots: [Tensor] = []
    for (index, parameter) in trainable.enumerated() {
      var own = Array(repeating: Tensor(shape: parameter.shape), count: perParameter)
      for (position, slot) in kept.enumerated() {
        own[slot] = stored[index * kept.count + position]
      }
      slots += own
    }
    do {
      try optimizer.restore(state: slots, iterations: Int(iterations), parameters: model.parameters)
    } catch {
      throw StrataError.file(
        path: file.path, reason: "holds an optimizer state that does not fit the model: \(error)")
    }
  }
}
