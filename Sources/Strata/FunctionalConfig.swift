import Foundation
import StrataCore
import StrataLayers

extension Model {
  /// The inputs and outputs of the graph a Keras functional config describes, its layers built with
  /// weights drawn from `seed`.
  static func graph(config: ConfigValue, seed: UInt64?) throws -> (
    inputs: [SymbolicTensor], outputs: [SymbolicTensor], name: String
  ) {
    let outer = config.objectValue ?? [:]
    let object = outer["config"]?.objectValue ?? outer
    func invalid(_ argument: String, _ value: ConfigValue?, _ expected: String) -> StrataError {
      .invalidArgument(
        owner: "Functional", argument: argument,
        value: String((value?.description ?? "nothing").prefix(120)), expected: expected)
    }
    guard let records = object["layers"]?.arrayValue else {
      throw invalid("layers", object["layers"], "a list of layer records")
    }
    let name = object["name"]?.stringValue ?? "functional"
    let (inputs, outputs) = try withSeededBuilds(seed: seed ?? UInt64.random(in: 0...UInt64.max)) {
      var produced: [String: [SymbolicTensor]] = [:]
      var selected: [String: SymbolicTensor] = [:]
      func tensor(_ value: ConfigValue, in layer: String) throws -> SymbolicTensor {
        let history =
          value.objectValue?["config"]?.objectValue?["keras_history"]?.arrayValue
          ?? value.arrayValue
        // Keras 3 writes [layer, call, tensor]; Keras 2 appended the call's keyword arguments.
        guard let history, history.count == 3 || history.count == 4,
          let source = history[0].stringValue,
          let call = history[1].intValue, let output = history[2].intValue, output >= 0
        else {
          throw invalid("\(layer).inbound_nodes", value, "a Keras tensor with a keras_history")
        }
        guard let calls = produced[source], call >= 0, call < calls.count else {
          throw invalid(
            "\(layer).inbound_nodes", history[0],
            "a layer listed earlier with a call \(call) (a cycle or a missing layer otherwise)")
        }
        guard output > 0 else { return calls[call] }
        // Another output of a layer of several (an LSTM's state): made once per output.
        let key = "\(source)#\(call)#\(output)"
        if let made = selected[key] { return made }
        let outputs = try calls[call].outputsOfItsCall()
        guard output < outputs.count else {
          throw invalid(
            "\(layer).inbound_nodes", value,
            "output 0 to \(outputs.count - 1) of '\(source)' (it gives \(outputs.count))")
        }
        selected[key] = outputs[output]
        return outputs[output]
      }
      for (index, record) in records.enumerated() {
        guard let record = record.objectValue, let identifier = record["class_name"]?.stringValue
        else {
          throw invalid("layers[\(index)]", records[index], "{\"class_name\": …, \"config\": …}")
        }
        var layerConfig = record["config"]?.objectValue ?? [:]
        guard let layerName = record["name"]?.stringValue ?? layerConfig["name"]?.stringValue else {
          throw invalid("layers[\(index)].name", nil, "a layer name")
        }
        guard produced[layerName] == nil else {
          throw invalid("layers[\(index)].name", .string(layerName), "a unique layer name")
        }
        // The input shape is the graph's business here; `build_config` is read as Keras reads it.
        layerConfig["input_shape"] = nil
        if let module = record["module"]?.stringValue, module.hasPrefix("keras.src.ops.") {
          let (layer, tensors) = try operationNode(
            record, identifier: identifier, module: module, name: layerName,
            tensor: { try tensor($0, in: layerName) })
          produced[layerName] = [
            try layer.apply(to: tensors, takesList: tensors.count > 1, name: layerName)
          ]
          continue
        }
        let layer = try Registries.shared.layers.make(identifier, config: layerConfig)
        if layerConfig["trainable"] == .bool(false) { layer.trainable = false }
        if let input = layer as? InputLayer {
          input.name = layerName
          produced[layerName] = [input.symbolicTensor]
          continue
        }
        var calls: [SymbolicTensor] = []
        for node in record["inbound_nodes"]?.arrayValue ?? [] {
          // Keras 2's legacy layout: a node is the list of its input tensors' histories.
          if let legacy = node.arrayValue, !legacy.isEmpty {
            let tensors = try legacy.map { try tensor($0, in: layerName) }
            calls.append(
              try layer.apply(to: tensors, takesList: tensors.count > 1, name: layerName))
            continue
          }
          if let signature = layer as? any KerasCallSignature {
            let tensors = try signature.inputs(
              ofKerasCall: node.objectValue?["args"]?.arrayValue ?? [],
              kwargs: node.objectValue?["kwargs"]?.objectValue ?? [:],
              tensor: { try tensor($0, in: layerName) })
            calls.append(try layer.apply(to: tensors, takesList: true, name: layerName))
            continue
          }
          guard let args = node.objectValue?["args"]?.arrayValue, let first = args.first else {
            throw invalid("\(layerName).inbound_nodes", node, "{\"args\": [tensor or [tensors]]}")
          }
          if let nested = layer as? ModelLayer,
            case .bool(let training)? = node.objectValue?["kwargs"]?.objectValue?["training"]
          {
            nested.training = training
          }
          if let list = first.arrayValue, first.objectValue == nil {
            let tensors = try list.map { try tensor($0, in: layerName) }
            calls.append(try layer.apply(to: tensors, takesList: true, name: layerName))
          } else {
            calls.append(
              try layer.apply(
                to: [try tensor(first, in: layerName)], takesList: false, name: layerName))
          }
        }
        guard !calls.isEmpty else {
          throw invalid("\(layerName).inbound_nodes", .array([]), "at least one call of the layer")
        }
        produced[layerName] = calls
      }
      func list(_ key: String) throws -> [SymbolicTensor] {
        guard let value = object[key], let entries = value.arrayValue, !entries.isEmpty else {
          throw invalid(key, object[key], "[name, node, 0] triples")
        }
        let triples = entries.first?.arrayValue == nil ? [value] : entries
        return try triples.map { try tensor($0, in: key) }
      }
      return (try list("input_layers"), try list("output_layers"))
    }
    return (inputs, outputs, name)
  }

  /// The layer standing for a Keras operation node (`x + 3.0`, `x * y` on Keras tensors) and the
  /// tensors it is applied to: ``ScalarOperation`` for a tensor and a number, the merge layer of the
  /// same name for two tensors.
  static func operationNode(
    _ record: ConfigDictionary, identifier: String, module: String, name: String,
    tensor: (ConfigValue) throws -> SymbolicTensor
  ) throws -> (any Layer, [SymbolicTensor]) {
    let nodes = record["inbound_nodes"]?.arrayValue ?? []
    guard nodes.count == 1, let node = nodes[0].objectValue, let args = node["args"]?.arrayValue,
      (node["kwargs"]?.objectValue ?? [:]).isEmpty
    else {
      throw StrataError.invalidArgument(
        owner: identifier, argument: "\(name).inbound_nodes",
        value: String((record["inbound_nodes"]?.description ?? "nothing").prefix(120)),
        expected: "one call with positional arguments (Keras' operation node)")
    }
    let isTensor = { (value: ConfigValue) in
      value.objectValue?["class_name"]?.stringValue == "__keras_tensor__"
    }
    let tensors = try args.filter(isTensor).map(tensor)
    let constants = args.filter { !isTensor($0) }.compactMap(\.doubleValue)
    if tensors.count == 2, args.count == 2 {
      let merges = ["Add", "Subtract", "Multiply", "Maximum", "Minimum"]
      guard merges.contains(identifier) else {
        throw StrataError.unknownIdentifier(
          kind: "operation between two tensors (\(module))", identifier: identifier,
          suggestions: closestNames(to: identifier, in: merges))
      }
      return (
        try Registries.shared.layers.make(identifier, config: ["name": .string(name)]), tensors
      )
    }
    guard tensors.count == 1, constants.count == 1, args.count == 2 else {
      throw StrataError.invalidArgument(
        owner: identifier, argument: "\(name).args",
        value: String(ConfigValue.array(args).description.prefix(120)),
        expected: "a tensor and a number, or two tensors")
    }
    var config = ScalarOperation.Config()
    config.operation = identifier
    config.constant = constants[0]
    config.constantFirst = !isTensor(args[0])
    config.module = module
    return (try ScalarOperation(config: config), tensors)
  }

  // MARK: Summary

  /// The classic Keras table: each layer's name and type, output shape and parameter count (and, for a
  /// functional model, the calls it is connected to), then the totals. Printed through ``Console``.
  public func summary(lineLength: Int? = nil) {
    Console.line(summaryText(lineLength: lineLength))
  }

  /// The table ``summary(lineLength:)`` prints, as a string; 65 columns for a `Sequential` and 98 for
  /// a functional model unless given.
  public func summaryText(lineLength: Int? = nil) -> String { summaryTable(lineLength: lineLength) }

  /// Keras' functional table, with the "Connected to" column.
  func functionalSummary(lineLength: Int) -> String {
    let rows = summaryRows.map {
      [$0.name + " (\($0.type))", $0.outputShape, "\($0.params)", $0.connectedTo]
    }
    // Keras' column stops (0.33, 0.55, 0.67, 1.0 of the line), widened rather than cutting a field.
    let stops = [0.33, 0.22, 0.12].enumerated().map { column, share in
      max(Int(Double(lineLength) * share), (rows.map { $0[column].count }.max() ?? 0) + 2)
    }
    func row(_ fields: [String]) -> String {
      zip(fields, stops).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined()
        + fields[3]
    }
    let width = max(lineLength, stops.reduce(0, +) + (rows.map { $0[3].count }.max() ?? 0))
    let thin = String(repeating: "_", count: width), thick = String(repeating: "=", count: width)
    var lines = [
      "Model: \"\(name)\"", thin,
      row(["Layer (type)", "Output Shape", "Param #", "Connected to"]), thick,
    ]
    for (i, fields) in rows.enumerated() {
      lines.append(row(fields))
      lines.append(i == rows.count - 1 ? thick : thin)
    }
    lines += totals(of: parameters) + [thin]
    return lines.joined(separator: "\n")
  }

  /// One row of ``summaryText(lineLength:)``.
  public struct SummaryRow: Equatable, Sendable {
    /// The layer's name.
    public var name: String
    /// Its type (Keras' class name).
    public var type: String
    /// Its output shape as Keras prints it: `(None, 5, 5, 3)`.
    public var outputShape: String
    /// Its parameter count.
    public var params: Int
    /// The calls feeding it: `dense[0][0], dense[1][0]`, or `-` for an input.
    public var connectedTo: String
  }

  /// The rows of the summary, one per layer.
  public var summaryRows: [SummaryRow] {
    layers.indices.filter { !(layers[$0] is OutputSelector) }.map { layerIndex in
      let calls = nodes.indices.filter { nodeIndexOfLayer($0) == layerIndex }
      let sources = calls.flatMap { nodes[$0].inputs }.map { tensor -> String in
        let h = historyEntry(of: tensor)
        return "\(h.name)[\(h.call)][\(h.tensor)]"
      }
      let shapes = (layers[layerIndex] as? any MultiOutputLayer)?.outputShapes
      let shape = calls.first.map { nodeOutputShape($0) } ?? []
      let type = layers[layerIndex].identifier.split(separator: ">").last.map(String.init) ?? ""
      return SummaryRow(
        name: layerNames[layerIndex], type: type,
        outputShape: shapes.map { "[" + $0.map { kerasShape($0) }.joined(separator: ", ") + "]" }
          ?? kerasShape(shape),
        params: layers[layerIndex].parameterCount,
        connectedTo: sources.isEmpty ? "-" : sources.joined(separator: ", "))
    }
  }
}

extension Model {
  // MARK: Keras' config

  /// Which call of its layer a node is, the layer's name, and which of the call's outputs:
  /// Keras' `[name, node, tensor]`.
  func history(of tensor: SymbolicTensor) -> ConfigValue {
    let h = historyEntry(of: tensor)
    return [.string(h.name), .int(h.call), .int(h.tensor)]
  }

  /// Keras' functional config (`model.get_config()`): every layer with its `inbound_nodes`, then
  /// `input_layers` and `output_layers`.
  var functionalConfig: ConfigValue {
    var records: [ConfigValue] = []
    // An output selector is no layer of Keras': its readers name the layer's output instead.
    for (layerIndex, layer) in layers.enumerated() where !(layer is OutputSelector) {
      var config = layer.savedConfig(name: layerNames[layerIndex])
      if let input = layer as? InputLayer {
        config["batch_shape"] = .array([.null] + input.shape.map { .int($0) })
      }
      let identifier =
        (try? Registries.shared.layers.canonicalName(of: layer.identifier)) ?? layer.identifier
      var inbound: [ConfigValue] = []
      for (i, node) in nodes.enumerated() where nodeLayer[i].layer == layerIndex {
        guard !node.inputs.isEmpty else { continue }
        let tensors: [ConfigValue] = node.inputs.map { tensor in
          [
            "class_name": "__keras_tensor__",
            "config": [
              "shape": .array([.null] + tensor.shape.map { .int($0) }), "dtype": "float32",
              "keras_history": history(of: tensor),
            ],
          ]
        }
        if let signature = layer as? any KerasCallSignature {
          let (args, kwargs) = signature.kerasCall(tensors: tensors)
          inbound.append(["args": .array(args), "kwargs": .object(kwargs)])
          continue
        }
        let training = (layer as? ModelLayer)?.training
        inbound.append([
          "args": .array(node.takesList ? [.array(tensors)] : tensors),
          "kwargs": .object(training.map { ["training": .bool($0)] } ?? [:]),
        ])
      }
      if let operation = layer as? any KerasOperationNode,
        let node = nodes.indices.first(where: { nodeLayer[$0].layer == layerIndex })
      {
        records.append(
          .object(
            operation.kerasRecord(
              name: layerNames[layerIndex],
              tensors: nodes[node].inputs.map { tensor in
                [
                  "class_name": "__keras_tensor__",
                  "config": [
                    "shape": .array([.null] + tensor.shape.map { .int($0) }), "dtype": "float32",
                    "keras_history": history(of: tensor),
                  ],
                ]
              })))
        continue
      }
      records.append([
        "module": "keras.layers", "class_name": .string(identifier), "config": .object(config),
        "registered_name": .null, "name": .string(layerNames[layerIndex]),
        "inbound_nodes": .array(inbound),
      ])
    }
    func list(_ tensors: [SymbolicTensor]) -> ConfigValue {
      tensors.count == 1 ? history(of: tensors[0]) : .array(tensors.map(history(of:)))
    }
    return [
      "class_name": "Functional",
      "config": [
        "name": .string(name), "trainable": true, "layers": .array(records),
        "input_layers": list(inputs), "output_layers": list(outputs),
      ],
    ]
  }
}
