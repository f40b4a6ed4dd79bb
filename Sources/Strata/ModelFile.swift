import Foundation
import StrataCore

/// Strata's model file: one file holding the architecture (Keras-shaped records of string identifiers),
/// the compile settings, the optimizer's state, the random generators' states and the weights.
///
/// Layout (all integers little-endian; `Docs/SavingAndLoading.md` describes it for other tools):
///
/// | bytes | content |
/// |---|---|
/// | 8 | magic `STRATA` `0x00` `0x01` |
/// | 4 | header length `H` (UInt32) |
/// | H | header: UTF-8 JSON |
/// | D | tensor data: Float32, in the order and at the offsets the header lists |
/// | 4 | CRC-32 (IEEE) of every byte before it |
enum ModelFile {
  static let magic: [UInt8] = Array("STRATA".utf8) + [0, 1]
  static let version = 1

  /// One tensor's place in the data block.
  struct Entry: Codable {
    var name: String
    var shape: [Int]
    var offset: Int
  }

  /// Serializes `header` (with `tensors` filled in) and the tensors.
  static func encode(header: [String: ConfigValue], tensors: [(String, Tensor)]) throws -> Data {
    var entries: [ConfigValue] = []
    var offset = 0
    for (name, tensor) in tensors {
      entries.append([
        "name": .string(name), "shape": .array(tensor.shape.map { .int($0) }),
        "offset": .int(offset),
      ])
      offset += tensor.count * 4
    }
    var header = header
    header["tensors"] = .array(entries)
    header["data_bytes"] = .int(offset)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let json = try encoder.encode(ConfigValue.object(header))
    var data = Data(magic)
    withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    data.reserveCapacity(data.count + offset + 4)
    for (_, tensor) in tensors {
      tensor.withUnsafeBufferPointer { values in
        #if _endian(little)
          data.append(
            UnsafeBufferPointer(
              start: UnsafeRawPointer(values.baseAddress!).assumingMemoryBound(to: UInt8.self),
              count: values.count * 4))
        #else
          for value in values {
            withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
          }
        #endif
      }
    }
    let checksum = data.withUnsafeBytes { crc32($0) }
    withUnsafeBytes(of: checksum.littleEndian) { data.append(contentsOf: $0) }
    return data
  }

  /// Checks the magic, the lengths and the checksum, and returns the header and the tensors by name.
  ///
  /// The file may be hostile: every length, offset and shape is checked with overflow-checked
  /// arithmetic against the bytes actually present, and the tensors together may not claim more bytes
  /// than the data block holds, so decoding never allocates more than the file's own size.
  static func decode(_ data: Data, path: String) throws -> (
    header: [String: ConfigValue], tensors: [String: Tensor]
  ) {
    func corrupt(_ reason: String) -> StrataError { .file(path: path, reason: reason) }
    guard data.count >= magic.count + 8 else {
      throw corrupt("is too short to be a Strata model file (\(data.count) bytes)")
    }
    guard Array(data.prefix(magic.count)) == magic else {
      throw corrupt("is not a Strata model file (bad magic number)")
    }
    let stored = data.suffix(4).withUnsafeBytes {
      UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))
    }
    let computed = data.withUnsafeBytes {
      crc32(UnsafeRawBufferPointer(rebasing: $0[0..<(data.count - 4)]))
    }
    guard stored == computed else { throw corrupt("is corrupted or truncated (checksum mismatch)") }
    let headerLength = data.withUnsafeBytes {
      Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: magic.count, as: UInt32.self)))
    }
    let dataStart = magic.count + 4 + headerLength  // at most 12 + 2^32: no overflow
    guard headerLength > 0, dataStart <= data.count - 4 else {
      throw corrupt("has a header length past its end")
    }
    let headerBytes = data.subdata(in: (magic.count + 4)..<dataStart)
    guard let header = (try? ConfigValue(json: headerBytes))?.objectValue else {
      throw corrupt("has a header that is not valid JSON")
    }
    guard header["version"]?.intValue == version else {
      throw corrupt(
        "has format version \(header["version"]?.description ?? "none"); this Strata reads version \(version)"
      )
    }
    let dataBytes = data.count - 4 - dataStart
    guard header["data_bytes"]?.intValue == dataBytes else {
      throw corrupt(
        "holds \(dataBytes) bytes of weights, but its header says \(header["data_bytes"]?.description ?? "nothing")"
      )
    }
    guard let entries = header["tensors"]?.arrayValue else { throw corrupt("has no tensor table") }
    // First the whole table, checked; then the allocations, which together fit in the data block.
    var table: [(name: String, shape: [Int], offset: Int, count: Int)] = []
    var claimed = 0
    var names = Set<String>()
    for entry in entries {
      guard let object = entry.objectValue, let name = object["name"]?.stringValue,
        let shapeValues = object["shape"]?.arrayValue, let offset = object["offset"]?.intValue
      else { throw corrupt("has a malformed tensor entry \(entry.description.prefix(200))") }
      let shape = shapeValues.compactMap(\.intValue)
      guard shape.count == shapeValues.count, shape.count <= 8 else {
        throw corrupt(
          "has tensor '\(name.prefix(100))' with a shape that is not a list of at most 8 integers")
      }
      guard names.insert(name).inserted else {
        throw corrupt("lists tensor '\(name.prefix(100))' twice")
      }
      let count: Int
      do { count = try elementCount(of: shape, owner: "tensor '\(name.prefix(100))'") } catch {
        throw corrupt("has tensor '\(name.prefix(100))' of impossible shape \(shape)")
      }
      let bytes = count * 4  // count ≤ 2^31: no overflow
      let (end, overflow) = offset.addingReportingOverflow(bytes)
      guard offset >= 0, !overflow, end <= dataBytes else {
        throw corrupt("has tensor '\(name.prefix(100))' past the end of its data")
      }
      claimed += bytes  // each ≤ dataBytes, and the sum is checked at every step
      guard claimed <= dataBytes else {
        throw corrupt("has tensors that claim more bytes than its data holds")
      }
      table.append((name, shape, offset, count))
    }
    var tensors: [String: Tensor] = [:]
    for (name, shape, offset, count) in table {
      var tensor = Tensor(shape: shape)
      tensor.withUnsafeMutableBufferPointer { values in
        data.withUnsafeBytes { raw in
          let base = raw.baseAddress! + dataStart + offset
          for i in 0..<count {
            values[i] = Float(
              bitPattern: UInt32(
                littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
          }
        }
      }
      guard tensor.withUnsafeBufferPointer({ $0.allSatisfy(\.isFinite) }) else {
        throw corrupt("has tensor '\(name.prefix(100))' holding NaN or infinite values")
      }
      tensors[name] = tensor
    }
    return (header, tensors)
  }

  /// Reads a model file: refuses anything but a regular file, checks the magic number and the size
  /// before reading the rest.
  static func read(_ url: URL) throws -> (header: [String: ConfigValue], tensors: [String: Tensor])
  {
    try decode(
      try readUntrustedFile(url, magic: magic, kind: "a Strata model file"), path: url.path)
  }
}

/// The error for a file that names an identifier nobody registered: the plugin package to register
/// when the file says which, else the closest registered names.
package func unregistered(
  _ kind: String, _ identifier: String, package: String?, suggestions: [String], path: String
) -> StrataError {
  let hint =
    package.map {
      " It comes from the plugin package '\($0.prefix(100))': call `try register(…Plugin.self)` from that package before loading."
    }
    ?? (suggestions.isEmpty
      ? "" : " Did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?")
  return .file(
    path: path,
    reason: "names the \(kind) '\(identifier.prefix(200))', which is not registered.\(hint)")
}

extension AllocationBudget {
  /// A budget of the elements of a file's tensors: a model built from the file's header may not
  /// allocate more weights than the file holds.
  convenience init(forTensorsOf tensors: [String: Tensor]) {
    self.init(
      elements: tensors.values.reduce(0) { $0 + $1.count }, purpose: "the weights the file holds")
  }
}

/// `UInt64`s as hexadecimal strings: JSON numbers lose precision above 2^53.
func hexStrings(_ values: [UInt64]) -> ConfigValue {
  .array(values.map { .string(String($0, radix: 16)) })
}
func unhex(_ value: ConfigValue?) -> [UInt64]? {
  value?.arrayValue?.compactMap { $0.stringValue.flatMap { UInt64($0, radix: 16) } }
}

extension Model {
  /// The tensors a file holds for this model: each weight as `layer/parameter` (Keras' naming), then
  /// the optimizer's slots.
  func namedWeights() -> [(String, Tensor)] {
    zip(layers, layerNames).flatMap { layer, name in
      layer.parameters.map { ("\(name)/\($0.name)", $0.value) }
    }
  }

  /// The packages of any plugin identifiers the model uses, so that loading can say which plugin is missing.
  func pluginPackages() -> ConfigValue {
    var packages: [String: ConfigValue] = [:]
    func scan(_ value: ConfigValue) {
      switch value {
      case .string(let name):
        for registry in [
          Registries.shared.activations.package(of:), Registries.shared.initializers.package(of:),
        ] {
          if let package = try? registry(name) { packages[name] = .string(package) }
        }
      case .array(let values): values.forEach(scan)
      case .object(let object): object.values.forEach(scan)
      default: break
      }
    }
    for layer in layers {
      if let package = try? Registries.shared.layers.package(of: layer.identifier) {
        packages[layer.identifier] = .string(package)
      }
      scan(.object(layer.configDictionary))
    }
    return .object(packages)
  }

  /// The header and tensors of a full save: architecture, compile settings, optimizer and generator states.
  package func fileContents(weightsOnly: Bool, extra: [String: ConfigValue] = [:]) -> (
    [String: ConfigValue], [(String, Tensor)]
  ) {
    var header: [String: ConfigValue] = [
      "format": "strata-model", "version": .int(ModelFile.version),
      "kind": .string(weightsOnly ? "weights" : "model"),
      "model": config, "packages": pluginPackages(),
    ]
    var tensors = namedWeights()
    if !weightsOnly {
      var generators: [String: ConfigValue] = ["shuffle": hexStrings(shuffleGenerator.state)]
      for (layer, name) in zip(layers, layerNames) {
        if let random = layer as? any RandomizedLayer {
          generators[name] = hexStrings(random.generatorState)
        }
      }
      header["training"] = [
        "seed": .string(String(seed, radix: 16)), "generators": .object(generators),
      ]
      if let compiled {
        // Names as given; a metric object with its config, as Keras saves it.
        func metricList(_ list: [any MetricConvertible]) -> ConfigValue {
          .array(
            list.map { spec -> ConfigValue in
              guard let metric = spec as? any Metric else { return .string(spec.metricName) }
              return [
                "class_name": .string(type(of: metric).identifier),
                "config": .object(metric.configDictionary),
              ]
            })
        }
        func lossRecord(_ loss: any Loss) -> ConfigValue {
          ["class_name": .string(loss.identifier), "config": .object(loss.configDictionary)]
        }
        var section: [String: ConfigValue] = [
          "optimizer": [
            "class_name": .string(compiled.optimizer.identifier),
            "config": .object(compiled.optimizer.configDictionary),
          ],
          "optimizer_state": [
            "iterations": .int(compiled.optimizer.iterations),
            "learning_rate": .double(Double(compiled.optimizer.learningRate)),
          ],
        ]
        if compiled.perOutput {
          // Keyed by output name, as Keras' compile config keys a dictionary of losses.
          let names = outputNames
          section["loss"] = .object(
            Dictionary(uniqueKeysWithValues: zip(names, compiled.losses.map(lossRecord))))
          section["loss_weights"] = .object(
            Dictionary(
              uniqueKeysWithValues: zip(names, compiled.lossWeights.map { .double(Double($0)) })))
          section["metrics"] = .object(
            Dictionary(uniqueKeysWithValues: zip(names, compiled.metrics.map(metricList))))
        } else {
          section["loss"] = lossRecord(compiled.loss)
          section["metrics"] = metricList(compiled.metrics.first ?? [])
        }
        header["compile"] = .object(section)
        tensors += compiled.optimizer.state.enumerated().map {
          ("optimizer/\($0.offset)", $0.element)
        }
      }
    }
    for (key, value) in extra { header[key] = value }
    return (header, tensors)
  }

  /// Saves the whole model: architecture, weights, compile settings, optimizer state and the random
  /// generators' states, so that ``load(from:)`` gives a model that predicts identically and trains on
  /// exactly as this one would. The file is written atomically.
  /// - Throws: `StrataError.invalidState(_:)` for a model that is not built yet, or one that takes
  ///   text in any format but `.keras`; a file error.
  public func save(to url: URL) throws {
    guard isBuilt else {
      throw StrataError.invalidState("\(name): build the model (or fit it) before saving it.")
    }
    if url.pathExtension.lowercased() == "keras" {
      try AtomicFile.write(
        try KerasFiles.codec(for: url.path).kerasArchive(of: self, path: url.path), to: url)
      return
    }
    if let (position, text) = textInputs.min(by: { $0.key < $1.key }) {
      throw StrataError.invalidState(
        "\(name): input \(position) takes text through a \(text.vectorizer.kerasClassName); save the model as .keras (Strata's own files hold numeric models; saveWeights works)."
      )
    }
    let (header, tensors) = fileContents(weightsOnly: false)
    try AtomicFile.write(try ModelFile.encode(header: header, tensors: tensors), to: url)
  }

  /// Saves only the weights (with the architecture, to check them against on loading). Keras' `save_weights`.
  public func saveWeights(to url: URL) throws {
    guard isBuilt else {
      throw StrataError.invalidState(
        "\(name): build the model (or fit it) before saving its weights.")
    }
    if url.pathExtension.lowercased() == "h5" {
      try AtomicFile.write(
        try KerasFiles.codec(for: url.path).weightsImage(
          of: self, path: url.path, withOptimizer: false), to: url)
      return
    }
    let (header, tensors) = fileContents(weightsOnly: true)
    try AtomicFile.write(try ModelFile.encode(header: header, tensors: tensors), to: url)
  }
}
