import Foundation
import Strata
import StrataCore
import StrataLayers

extension KerasFile {
  /// Keras' `DTypePolicy` record for float32, as Keras writes it on every layer.
  static let float32Policy: ConfigValue = [
    "module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"],
    "registered_name": .null,
  ]

  /// The Keras module of an object stored under the config key `key`.
  private static func module(forKey key: String) -> String? {
    if key.hasSuffix("initializer") { return "keras.initializers" }
    if key.hasSuffix("regularizer") { return "keras.regularizers" }
    if key.hasSuffix("constraint") { return "keras.constraints" }
    if key == "activation" { return "keras.activations" }
    if key == "learning_rate" { return "keras.optimizers.schedules" }
    return nil
  }

  /// `config` with a `module` and `registered_name` on each nested `{"class_name": …}` object, as
  /// Keras' deserializer needs them.
  static func withModules(_ config: ConfigDictionary) -> ConfigDictionary {
    config.reduce(into: ConfigDictionary()) { result, entry in
      guard var object = entry.value.objectValue, let name = object["class_name"]?.stringValue,
        let module = module(forKey: entry.key)
      else {
        result[entry.key] = entry.value
        return
      }
      if name.contains(">") {
        object["module"] = .null
        object["class_name"] = .string(String(name.split(separator: ">").last!))
        object["registered_name"] = .string(name)
      } else {
        object["module"] = .string(module)
        object["registered_name"] = .null
      }
      result[entry.key] = .object(object)
    }
  }

  /// A layer record of Strata's config made Keras': module, class and registered name, dtype
  /// policy, and the input shape the layer was built for.
  static func kerasRecord(_ record: ConfigValue, layer: (any Layer)?, inputShape: [Int]?)
    -> ConfigValue
  {
    var object = record.objectValue ?? [:]
    var config = object["config"]?.objectValue ?? [:]
    if let nested = layer as? ModelLayer {
      return kerasRecord(of: nested.model, name: config["name"]?.stringValue, extra: object)
    }
    // An operation node's record is Keras' own already.
    if layer is any KerasOperationNode { return record }
    if let layer, !(layer is InputLayer) {
      let (name, registered) = className(of: layer)
      object["class_name"] = .string(name)
      object["module"] = registered == nil ? "keras.layers" : .null
      object["registered_name"] = registered.map(ConfigValue.string) ?? .null
      if let moduleLayer = type(of: layer) as? any KerasModuleLayer.Type {
        object["module"] = .string(moduleLayer.kerasModule)
        object["registered_name"] = .string(name)
      }
      config["dtype"] = float32Policy
    } else {
      object["module"] = "keras.layers"
      object["registered_name"] = .null
      config["dtype"] = config["dtype"] ?? "float32"
      config["sparse"] = false
      config["ragged"] = false
    }
    // A wrapper's layers (Bidirectional's, TimeDistributed's) are full records of their own.
    if let container = layer as? any LayerContainer {
      for (key, sublayer) in zip(["layer", "backward_layer"], container.sublayers)
      where config[key]?.objectValue?["class_name"] != nil {
        config[key] = kerasRecord(config[key]!, layer: sublayer, inputShape: nil)
      }
    }
    object["config"] = .object(withModules(config))
    if let inputShape, layer != nil {
      object["build_config"] = ["input_shape": .array([.null] + inputShape.map { .int($0) })]
    }
    return .object(object)
  }

  /// The whole model as Keras' `config.json` record (without `compile_config`).
  static func kerasRecord(of model: Model, name: String? = nil, extra: ConfigDictionary = [:])
    -> ConfigValue
  {
    var top = model.config.objectValue ?? [:]
    var inner = top["config"]?.objectValue ?? [:]
    let records = inner["layers"]?.arrayValue ?? []
    if let sequential = model as? Sequential {
      let hasInput = records.count == model.layers.count + 1
      var shapes: [[Int]?] = [nil]
      if let input = sequential.inputShape {
        shapes = [input] + sequential.outputShapes.dropLast().map { $0 }
      }
      inner["layers"] = .array(
        records.enumerated().map { index, record in
          let position = hasInput ? index - 1 : index
          guard position >= 0 else { return kerasRecord(record, layer: nil, inputShape: nil) }
          return kerasRecord(
            record, layer: model.layers[position],
            inputShape: position < shapes.count ? shapes[position] : nil)
        })
      top["module"] = "keras"
      top["class_name"] = "Sequential"
      top["registered_name"] = .null
      if let input = sequential.inputShape {
        top["build_config"] = [
          "input_shape": model.textInputs[0] == nil
            ? .array([.null] + input.map { .int($0) }) : [.null, 1]
        ]
      }
    } else {
      inner["layers"] = .array(
        zip(records, model.layers.filter { !($0 is OutputSelector) }).map { record, layer in
          kerasRecord(record, layer: layer is InputLayer ? nil : layer, inputShape: nil)
        })
      top["module"] = "keras.src.models.functional"
      top["class_name"] = "Functional"
      top["registered_name"] = "Functional"
      top["build_config"] = ["input_shape": .null]
    }
    inner = textRecords(inner, of: model, sequential: model is Sequential)
    inner["trainable"] = true
    inner["dtype"] = float32Policy
    if let name { inner["name"] = .string(name) }
    top["config"] = .object(inner)
    for (key, value) in extra where ["name", "inbound_nodes"].contains(key) { top[key] = value }
    return .object(top)
  }

  /// Keras' class name for `identifier` in `registry`: the CamelCase name registered for the same
  /// product (`sparse_categorical_crossentropy` → `SparseCategoricalCrossentropy`), `nil` if none.
  static func kerasClass<Product>(_ identifier: String, in registry: Registry<Product>) -> String? {
    guard let canonical = try? registry.canonicalName(of: identifier) else { return nil }
    if canonical.first?.isUppercase == true, canonical.contains(where: \.isLowercase) {
      return canonical
    }
    return registry.names.first { name in
      name.first?.isUppercase == true && name.contains(where: \.isLowercase) && !name.contains(">")
        && (try? registry.canonicalName(of: name)) == canonical
    }
  }

  /// Strata's compile section as Keras' `compile_config`.
  static func kerasCompile(_ section: ConfigDictionary) -> ConfigValue {
    func object(_ record: ConfigValue?, module: String) -> ConfigValue {
      guard let record = record?.objectValue, var name = record["class_name"]?.stringValue else {
        return record ?? .null
      }
      let registries = Registries.shared
      let camel: String? =
        switch module {
        case "keras.losses": kerasClass(name, in: registries.losses)
        case "keras.metrics": kerasClass(name, in: registries.metrics)
        default: kerasClass(name, in: registries.optimizers)
        }
      if !name.contains(">") {
        // A loss or metric without a Keras class stays a string (its function name), as Keras writes it.
        guard let camel else { return .string(name) }
        name = camel
      }
      let bare = String(name.split(separator: ">").last!)
      return [
        "module": name.contains(">") ? .null : .string(module), "class_name": .string(bare),
        "config": .object(withModules(record["config"]?.objectValue ?? [:])),
        "registered_name": name.contains(">") ? .string(name) : .null,
      ]
    }
    func metrics(_ value: ConfigValue?) -> ConfigValue {
      .array((value?.arrayValue ?? []).map { object($0, module: "keras.metrics") })
    }
    var optimizer = object(section["optimizer"], module: "keras.optimizers")
    if var record = optimizer.objectValue, let name = record["class_name"]?.stringValue {
      var config = record["config"]?.objectValue ?? [:]
      config["name"] = config["name"] ?? .string(snakeCase(name))
      record["config"] = .object(config)
      optimizer = .object(record)
    }
    var compile: ConfigDictionary = [
      "optimizer": optimizer, "loss_weights": .null, "weighted_metrics": .null,
      "run_eagerly": false, "steps_per_execution": 1, "jit_compile": false,
    ]
    if let losses = section["loss"]?.objectValue, losses["class_name"] == nil {
      compile["loss"] = .object(losses.mapValues { object($0, module: "keras.losses") })
      compile["loss_weights"] = section["loss_weights"] ?? .null
      compile["metrics"] = .object((section["metrics"]?.objectValue ?? [:]).mapValues(metrics))
    } else {
      compile["loss"] = object(section["loss"], module: "keras.losses")
      compile["metrics"] = metrics(section["metrics"])
    }
    return .object(compile)
  }

  /// Writes every layer's weights in Keras 3's layout under `prefix`; the model's own `vars` group
  /// is named `name` (the model's name when `nil`; a nested model's, its name as a layer).
  static func writeWeights(
    of model: Model, into file: HDF5File, prefix: String, name modelName: String? = nil
  ) throws {
    for (layer, (group, name)) in zip(model.layers, zip(groupNames(model.layers), model.layerNames))
    where !(layer is OutputSelector) {
      let base = "\(prefix)layers/\(group)"
      if let nested = layer as? ModelLayer {
        // The nested model writes its own layers and its `vars` group, once.
        try writeWeights(of: nested.model, into: file, prefix: "\(base)/", name: name)
        continue
      }
      try file.createGroup("\(base)/vars")
      try file.write(strings: [name], scalar: true, attribute: "name", of: "\(base)/vars")
      if let nested = layer as? any KerasNestedWeights {
        for (group, groupName) in nested.kerasWeightGroupNames.sorted(by: { $0.key < $1.key }) {
          try file.createGroup("\(base)/\(group)/vars")
          try file.write(
            strings: [groupName], scalar: true, attribute: "name", of: "\(base)/\(group)/vars")
        }
        for (location, parameter) in zip(nested.kerasWeightLocations, kerasOrder(layer)) {
          try file.write(parameter.value, to: "\(base)/\(location.group)/vars/\(location.index)")
        }
        continue
      }
      for (index, parameter) in kerasOrder(layer).enumerated() {
        try file.write(parameter.value, to: "\(base)/vars/\(index)")
      }
      for (name, value) in (layer as? any KerasOwnVariables)?.kerasOwnVariables ?? [] {
        try file.write(value, to: "\(base)/vars/\(name)")
      }
    }
    try file.createGroup("\(prefix)vars")
    try file.write(
      strings: [modelName ?? model.name], scalar: true, attribute: "name", of: "\(prefix)vars")
  }

  /// The weights (and, when `withOptimizer`, the optimizer's variables) as a `.weights.h5` image.
  static func weightsImage(of model: Model, path: String, withOptimizer: Bool) throws -> Data {
    let file = try HDF5File(creatingIn: path)
    try writeWeights(of: model, into: file, prefix: "")
    try writeTextWeights(of: model, into: file)
    if withOptimizer, let compiled = model.compiled {
      let optimizer = compiled.optimizer
      try file.createGroup("optimizer/vars")
      try file.write(
        strings: [snakeCase(optimizer.identifier)], scalar: true, attribute: "name",
        of: "optimizer/vars")
      try file.write(integer: Int64(optimizer.iterations), to: "optimizer/vars/0")
      var index = 1
      if optimizer.configDictionary["learning_rate"]?.objectValue == nil {
        try file.write(Tensor(shape: [], repeating: optimizer.learningRate), to: "optimizer/vars/1")
        index = 2
      }
      let (perParameter, kept) = optimizer.kerasSlots
      var state = optimizer.state
      if state.isEmpty {  // no step taken yet: Keras' slots start at zero
        state = model.parameters.filter(\.isTrainable).flatMap {
          Array(repeating: Tensor(shape: $0.shape), count: perParameter)
        }
      }
      for start in stride(from: 0, to: state.count, by: max(perParameter, 1)) {
        for slot in kept where start + slot < state.count {
          try file.write(state[start + slot], to: "optimizer/vars/\(index)")
          index += 1
        }
      }
    }
    return try file.image()
  }

  /// The model as a `.keras` zip: `metadata.json`, `config.json` (with `compile_config` when
  /// compiled) and `model.weights.h5`, stored, in Keras' order.
  static func kerasArchive(of model: Model, path: String) throws -> Data {
    var record = kerasRecord(of: model).objectValue ?? [:]
    let (header, _) = model.fileContents(weightsOnly: false)
    if let compile = header["compile"]?.objectValue {
      record["compile_config"] = kerasCompile(compile)
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
    let metadata: ConfigValue = [
      "keras_version": "3.15.1", "date_saved": .string(formatter.string(from: Date())),
    ]
    return try ZipArchive.write(
      [
        ("metadata.json", try encoder.encode(metadata)),
        ("config.json", try encoder.encode(ConfigValue.object(record))),
        (
          "model.weights.h5",
          try weightsImage(of: model, path: "\(path)/model.weights.h5", withOptimizer: true)
        ),
      ] + textAssets(of: model))
  }
}
