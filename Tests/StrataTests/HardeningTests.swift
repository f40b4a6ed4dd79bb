import Foundation
@testable import Strata
import StrataCore
import StrataTesting
import Testing

#if canImport(Glibc)
  import Glibc
#endif

// Regression tests for the audit of 2026-11-24: each case that crashed, hung, allocated without
// limit or gave a silently wrong result is now a clear error or the right result.

@Test func layersTooLargeToAllocateAreErrorsNamingThem() throws {
  // Each model file is refused before it allocates, naming the layer and the argument.
  let tooLarge = "at most 2147483648 elements in one tensor"
  let flatten = #"{"class_name": "Flatten", "config": {"input_shape": "#
  let files: [(json: String, error: StrataError)] = [
    // units: 1e12: refused before the kernel [784, 1e12] is allocated.
    (
      flatten + #"[28, 28]}}, {"class_name": "Dense", "config": {"units": 1e12}}"#,
      .invalidArgument(
        owner: "dense (Dense) weight", argument: "shape", value: "[784, 1000000000000]",
        expected: tooLarge)
    ),
    // A 100000x100000 input: Flatten's output alone is too large.
    (
      flatten + #"[100000, 100000]}}, {"class_name": "Dense", "config": {"units": 2}}"#,
      .invalidArgument(
        owner: "flatten (Flatten)", argument: "input_shape", value: "[100000, 100000]",
        expected: tooLarge)
    ),
    // A negative input size names input_shape, not the next layer.
    (
      flatten + #"[-28, 28]}}, {"class_name": "Dense", "config": {"units": 2}}"#,
      .invalidArgument(
        owner: "flatten (Flatten)", argument: "input_shape", value: "(None, -28, 28)",
        expected: "every dimension at least 1")
    ),
    // A size that is not an integer is an error, not dropped.
    (
      flatten + "[null, 28]}}",
      .invalidArgument(
        owner: "Flatten", argument: "input_shape", value: "[null,28]",
        expected: "a size for every axis after the batch axis")
    ),
  ]
  for (json, error) in files {
    #expect(refusal { _ = try Sequential(json: Data("[\(json)]".utf8)) } == error, "\(json)")
  }
  // filters: 2^62, whose kernel's element count overflows Int.
  let model = try Sequential()
  #expect(
    refusal {
      try model.add(
        "Conv2D", ["filters": .int(1 << 62), "kernel_size": 3, "input_shape": [28, 28, 1]])
    }
      == .invalidArgument(
        owner: "conv2d (Conv2D) weight", argument: "shape", value: "[3, 3, 1, 4611686018427387904]",
        expected: tooLarge))
  #expect(model.layers.isEmpty)
  // units: 1.5 names the argument.
  #expect(
    refusal {
      _ = try Dense(
        config: ConfigCoding.decode(Dense.Config.self, from: ["units": 1.5], owner: "Dense"))
    }
      == .invalidArgument(owner: "Dense", argument: "units", value: "1.5", expected: "an integer"))
}

@Test func tensorsFromOutsideShapesThrow() {
  #expect(
    refusal { _ = try Tensor(checkedShape: [-1]) }
      == .invalidArgument(
        owner: "Tensor", argument: "shape", value: "[-1]", expected: "no negative dimension"))
  #expect(
    refusal { _ = try Tensor(checkedShape: [1 << 40]) }
      == .invalidArgument(
        owner: "Tensor", argument: "shape", value: "[1099511627776]",
        expected: "at most 2147483648 elements in one tensor"))
  #expect(
    refusal { _ = try Tensor(shape: [1 << 32, 1 << 32], scalars: []) }
      == .invalidArgument(
        owner: "Tensor", argument: "shape", value: "[4294967296, 4294967296]",
        expected: "at most 2147483648 elements in one tensor"))
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Tensor", argument: "shape", value: "[9223372036854775807, 2]",
      expected: "a shape of 4 elements, like [4]")
  ) { try Tensor([1, 2, 3, 4]).reshaped(to: [Int.max, 2]) }
}

/// A small saved model's header and tensors, to edit and load again.
func savedMLP() throws -> (
  header: [String: ConfigValue], tensors: [(String, Tensor)], x: Tensor, y: Tensor
) {
  let model = try Sequential(
    [
      Flatten(inputShape: [4, 4]), Dense(5, activation: "relu"), Dropout(0.2),
      Dense(3, activation: "softmax"),
    ], seed: 4)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let x = try Tensor(shape: [6, 4, 4], scalars: (0..<96).map { Float($0 % 7) / 7 })
  let y = Tensor([0, 1, 2, 0, 1, 2])
  try model.fit(x, y, batchSize: 3, epochs: 1, verbose: 0)
  let (header, tensors) = model.fileContents(weightsOnly: false)
  return (header, tensors, x, y)
}

/// Loads a header and tensors through the whole file format (encoded with a valid checksum).
func loadEdited(_ header: [String: ConfigValue], _ tensors: [(String, Tensor)]) throws -> Sequential
{
  let url = temporaryURL("edited.strata")
  try ModelFile.encode(header: header, tensors: tensors).write(to: url)
  return try Sequential.load(from: url)
}

func fileReason(_ body: () throws -> Void) -> String {
  guard case .file(_, let reason)? = refusal(body) else { return "not a file error" }
  return reason
}

@Test func craftedModelFilesAreRefusedBeforeTheyAllocate() throws {
  let (header, tensors, x, _) = try savedMLP()
  #expect(
    try loadEdited(header, tensors).predict(x) == (try loadEdited(header, tensors).predict(x)))
  func edited(_ path: [String], _ value: ConfigValue?) -> [String: ConfigValue] {
    editing(.object(header), at: path[...]) { _ in value }!.objectValue!
  }
  // units 2^20 in a file of a few KB: refused at the first weight that does not fit the file's tensors,
  // before it is allocated (it took 25 s and 6.5 GB).
  let start = ContinuousClock.now
  let huge = fileReason {
    _ = try loadEdited(
      edited(["model", "config", "layers", "2", "config", "units"], .int(1 << 20)), tensors)
  }
  #expect(
    huge.contains("a weight that fits in the weights the file holds")
      && huge.contains("[16, 1048576]"), "\(huge)")
  #expect(ContinuousClock.now - start < .seconds(5))
  // iterations = Int.max used to load and then trap on the first training step.
  #expect(
    fileReason {
      _ = try loadEdited(
        edited(["compile", "optimizer_state", "iterations"], .int(Int.max)), tensors)
    }
    .contains("invalid iteration count"))
  #expect(
    fileReason {
      _ = try loadEdited(edited(["compile", "optimizer_state", "iterations"], -1), tensors)
    }.contains("invalid iteration count"))
  #expect(
    fileReason {
      _ = try loadEdited(
        edited(["compile", "optimizer_state", "learning_rate"], .double(1e308)), tensors)
    }
    .contains("invalid learning rate"))
  // Malformed generator states are errors, never silently dropped (a resumed run would not be exact).
  #expect(
    fileReason {
      _ = try loadEdited(
        edited(["training", "generators", "shuffle"], ["xyz", "1", "2", "3"]), tensors)
    }
    .contains("malformed state for the random generator 'shuffle'"))
  #expect(
    fileReason { _ = try loadEdited(edited(["training", "generators", "dropout"], nil), tensors) }
      .contains("no valid state for the random generator 'dropout'"))
  // Metrics that are not names, compile settings that are not an object.
  #expect(
    fileReason { _ = try loadEdited(edited(["compile", "metrics"], [1]), tensors) }.contains(
      "metrics that are not identifiers"))
  #expect(
    fileReason { _ = try loadEdited(edited(["compile"], 3), tensors) }
      == "has compile settings that are not an object")
  // Tensor tables: non-integer shape entries, duplicates, overlapping claims, non-finite values.
  var table = header
  table["tensors"] = [["name": "dense/kernel", "shape": [16, 5, "relu"], "offset": 0]]
  let url = temporaryURL("table.strata")
  func decodeReason(_ header: [String: ConfigValue], data: [UInt8]) -> String {
    var header = header
    header["data_bytes"] = .int(data.count)
    header["version"] = 1
    let json = try! JSONEncoder().encode(ConfigValue.object(header))
    var file = Data(ModelFile.magic)
    withUnsafeBytes(of: UInt32(json.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(json)
    file.append(contentsOf: data)
    let crc = file.withUnsafeBytes { crc32($0) }
    withUnsafeBytes(of: crc.littleEndian) { file.append(contentsOf: $0) }
    return fileReason { _ = try ModelFile.decode(file, path: url.path) }
  }
  let bytes = [UInt8](repeating: 0, count: 64)
  #expect(
    decodeReason(table, data: bytes)
      == "has tensor 'dense/kernel' with a shape that is not a list of at most 8 integers")
  table["tensors"] = [
    ["name": "a", "shape": [4], "offset": 0], ["name": "a", "shape": [4], "offset": 16],
  ]
  #expect(decodeReason(table, data: bytes) == "lists tensor 'a' twice")
  table["tensors"] = .array(
    (0..<5).map { ["name": .string("t\($0)"), "shape": [16], "offset": 0] })
  #expect(
    decodeReason(table, data: bytes) == "has tensors that claim more bytes than its data holds")
  table["tensors"] = [["name": "a", "shape": [.int(1 << 31), .int(1 << 31)], "offset": 0]]
  #expect(
    decodeReason(table, data: bytes)
      == "has tensor 'a' of impossible shape [2147483648, 2147483648]")
  table["tensors"] = [["name": "a", "shape": [4], "offset": .int(Int.max - 2)]]
  #expect(decodeReason(table, data: bytes) == "has tensor 'a' past the end of its data")
  table["tensors"] = [["name": "a", "shape": [1], "offset": 0]]
  #expect(
    decodeReason(table, data: [0, 0, 0xC0, 0x7F]) == "has tensor 'a' holding NaN or infinite values"
  )
}

@Test func modelFilesThatAreNotFilesAreNamedErrors() throws {
  let directory = temporaryURL("dir.strata")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  #expect(
    refusal { _ = try Sequential.load(from: directory) }
      == .file(path: directory.path, reason: "is a directory, not a model file"))
  let fifo = temporaryURL("fifo.strata")
  #expect(mkfifo(fifo.path, 0o600) == 0)
  #expect(
    refusal { _ = try Sequential.load(from: fifo) }
      == .file(path: fifo.path, reason: "is not a regular file, not a model file"))
  let short = temporaryURL("short.strata")
  try Data("STR".utf8).write(to: short)
  #expect(
    refusal { _ = try Sequential.load(from: short) }
      == .file(path: short.path, reason: "is too short to be a model file (3 bytes)"))
  let text = temporaryURL("text.strata")
  try Data("not a model at all".utf8).write(to: text)
  #expect(
    refusal { _ = try Sequential.load(from: text) }
      == .file(
        path: text.path,
        reason:
          "is not a model file Strata reads (a Strata model, a Keras .keras zip or an HDF5 .h5 file)"
      ))
}

/// Keras 3's cross-entropies, exactly, where Strata used to differ (values computed by Keras 3.15).
@Test func crossentropyEdgeCasesMatchKeras() throws {
  // The true class's probability is clipped at 1 − ε: Keras passes no gradient through the clip.
  let target = try Tensor([[1, 0]]), prediction = try Tensor([[1, 0]])
  #expect(try CategoricalCrossentropy().gradient(target, prediction).scalars == [0, 0])
  #expect(try SparseCategoricalCrossentropy().gradient(Tensor([0]), prediction).scalars == [0, 0])
  // Inside the range the gradient is unchanged: −y/p + Σy/Σp over the unclipped entries.
  let inside = try CategoricalCrossentropy().gradient(Tensor([[0, 1]]), Tensor([[0.25, 0.75]]))
    .scalars
  #expect(abs(inside[0] - 1) < 1e-6 && abs(inside[1] - (1 - 1 / 0.75)) < 1e-6)
  // Binary cross-entropy clips, then takes log(p) with no +ε: −log(1e-7) = 16.1181 (Keras), not 15.42.
  #expect(abs(try BinaryCrossentropy()(Tensor([[1]]), Tensor([[0]])) - 16.118_095) < 1e-4)
  // At 1, the clip gives the float32 below 1 (1 − 2^-23 · 1): −log(1.1920929e-7) = 15.9424, as in Keras.
  #expect(abs(try BinaryCrossentropy()(Tensor([[0]]), Tensor([[1]])) - 15.942_385) < 1e-3)
  let bce = try BinaryCrossentropy()(Tensor([[1, 0]]), Tensor([[0.8, 0.3]]))
  #expect(abs(bce - Float(-(log(0.8) + log(0.7)) / 2)) < 1e-6)
}

@Test func kerasArgumentsAreHonouredOrRefusedByName() throws {
  // InputLayer takes `shape` and Keras 3.15's `optional`.
  let model = try Sequential()
  try model.add("InputLayer", ["shape": [4], "optional": false, "name": "input"])
  try model.add("Dense", ["units": 2])
  #expect(model.inputShape == [4] && model.outputShape == [2])
  // `optional` inputs, channels_first, float64, sparse inputs and quantization are refused, not
  // ignored: (layer, config, argument, value, expected).
  let refused: [(String, ConfigDictionary, String, String, String)] = [
    (
      "InputLayer", ["shape": [4], "optional": true], "optional", "true",
      "false (every input is required)"
    ),
    (
      "Conv2D", ["filters": 2, "kernel_size": 3, "data_format": "channels_first"], "data_format",
      "\"channels_first\"",
      "\"channels_last\" (images as (height, width, channels); Strata has no channels_first)"
    ),
    ("Dense", ["units": 2, "dtype": "float64"], "dtype", "\"float64\"", "\"float32\""),
    ("InputLayer", ["shape": [4], "sparse": true], "sparse", "true", "false (dense tensors only)"),
    (
      "Dense", ["units": 2, "quantization_config": ["mode": "int8"]], "quantization_config",
      #"{"mode":"int8"}"#, "null (quantized layers are not supported)"
    ),
  ]
  for (layer, config, argument, value, expected) in refused {
    #expect(
      refusal { _ = try Registries.shared.layers.make(layer, config: config) }
        == .invalidArgument(owner: layer, argument: argument, value: value, expected: expected))
  }
  // Their accepted values pass.
  let policy: ConfigValue = [
    "module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"],
  ]
  for (layer, config): (String, ConfigDictionary) in [
    ("Conv2D", ["filters": 2, "kernel_size": 3, "data_format": "channels_last"]),
    ("Dense", ["units": 2, "dtype": policy]), ("Dense", ["units": 2, "quantization_config": nil]),
  ] {
    _ = try Registries.shared.layers.make(layer, config: config)
  }
  // A learning rate of NaN names the argument (it used to be a JSON encoding error).
  guard
    case .invalidArgument(_, let argument, _, _)? = refusal({
      _ = try Registries.shared.optimizers.make("adam", config: ["learning_rate": .double(.nan)])
    })
  else { return }
  #expect(argument == "learning_rate")
}

/// NaN behaves as in Keras: it propagates through ReLU to the predictions and the loss, and
/// TerminateOnNaN stops the run at the first batch.
@Test func nanInTheDataIsVisible() throws {
  let model = try Sequential(
    [Flatten(inputShape: [2, 2]), Dense(4, activation: "relu"), Dense(3, activation: "softmax")],
    seed: 2)
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  var x = try Tensor(shape: [4, 2, 2], scalars: (0..<16).map { Float($0) / 16 })
  x[1, 0, 1] = .nan
  let predictions = try model.predict(x)
  #expect((0..<3).allSatisfy { predictions[1, $0].isNaN })
  #expect((0..<3).allSatisfy { predictions[0, $0].isFinite })
  let stop = TerminateOnNaN()
  let history = try model.fit(
    x, Tensor([0, 1, 2, 0]), batchSize: 2, epochs: 3, verbose: 0, shuffle: false, callbacks: [stop])
  #expect(stop.terminatedAtBatch == 0)
  #expect(history.epochs.count == 1)
  #expect(history["loss"]!.first!.isNaN)
}

@Test func checkpointPatternsAreParsedNotFormattedByC() throws {
  let logs: Logs = ["val_loss": 0.123_456, "accuracy": 0.5]
  #expect(
    try formatCheckpointPath("ck-{epoch:02d}-{val_loss:.2f}.strata", epoch: 4, logs: logs)
      == "ck-05-0.12.strata")
  #expect(
    try formatCheckpointPath("{epoch}-{accuracy:.3f}-{val_loss:8.3e}", epoch: 0, logs: logs)
      == "1-0.500-1.235e-01")
  #expect(try formatCheckpointPath("{epoch:4d}|{val_loss:.2}", epoch: 8, logs: logs) == "   9|0.12")
  for bad in [
    "ck-{epoch:999999999d}", "ck-{epoch:s}", "ck-{epoch:n}", "ck-{epoch:%n}", "ck-{epoch:.2d}",
    "ck-{epoch",
  ] {
    guard
      case .invalidArgument(let owner, let argument, _, _)? = refusal({
        _ = try formatCheckpointPath(bad, epoch: 0, logs: logs)
      })
    else { continue }
    #expect(owner == "ModelCheckpoint" && argument == "filepath")
  }
}

@Test func atomicWritesKeepModesFollowLinksAndCleanUp() throws {
  let url = temporaryURL("private.strata")
  try AtomicFile.write(Data("one".utf8), to: url)
  #expect(chmod(url.path, 0o600) == 0)
  try AtomicFile.write(Data("two".utf8), to: url)
  var status = stat()
  #expect(stat(url.path, &status) == 0 && status.st_mode & 0o777 == 0o600)
  #expect(try String(contentsOf: url, encoding: .utf8) == "two")
  // A link is written through: its target changes, the link stays a link.
  let link = url.deletingLastPathComponent().appendingPathComponent("link.strata")
  try FileManager.default.createSymbolicLink(at: link, withDestinationURL: url)
  try AtomicFile.write(Data("three".utf8), to: link)
  #expect(try String(contentsOf: url, encoding: .utf8) == "three")
  #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) == url.path)
  // A temporary file of a writer that died is removed; one of a live process (this one) is not.
  let directory = url.deletingLastPathComponent()
  let dead = directory.appendingPathComponent(".private.strata.999999.12345.tmp")
  let live = directory.appendingPathComponent(".private.strata.\(getpid()).777.tmp")
  try Data("torn".utf8).write(to: dead)
  try Data("in progress".utf8).write(to: live)
  #expect(AtomicFile.removeStaleTemporaries(of: url) == 1)
  #expect(
    !FileManager.default.fileExists(atPath: dead.path)
      && FileManager.default.fileExists(atPath: live.path))
}

@Test func errorsReadWellEverywhere() throws {
  let error: Error = StrataError.invalidArgument(
    owner: "Dropout", argument: "rate", value: "1.0", expected: "a rate in [0, 1)")
  #expect(error.localizedDescription == "Dropout: invalid rate 1.0; expected a rate in [0, 1).")
  // Suggestions have no duplicates ('acuracy' used to suggest accuracy three times).
  let model = try Sequential([Dense(3, inputShape: [2])])
  guard
    case .unknownIdentifier(_, _, let suggestions)? = refusal({
      try model.compile(optimizer: "adam", loss: "mse", metrics: ["acuracy"])
    })
  else { return }
  #expect(suggestions == ["accuracy"])
}

@Test func emptyModelsSayWhatIsMissing() throws {
  let model = try Sequential(json: Data("[]".utf8))
  try model.compile(optimizer: "adam", loss: "mse")
  #expect(
    refusal { _ = try model.fit(Tensor([1, 2]), Tensor([1, 2]), verbose: 0) }
      == .invalidState("sequential has no layers: add layers before fit."))
}

/// A Nadam state restored with a huge (but valid) step count: its momentum product is rebuilt step by
/// step only until it underflows, so loading takes no time instead of 2^53 iterations.
@Test(.timeLimit(.minutes(1)))
func hugeStepCountsRestoreQuickly() throws {
  let model = try Sequential([Dense(2, inputShape: [3])], seed: 1)
  try model.compile(optimizer: "nadam", loss: "mse")
  try model.fit(Tensor(shape: [4, 3], repeating: 1), Tensor(shape: [4, 2]), verbose: 0)
  var (header, tensors) = model.fileContents(weightsOnly: false)
  header = editing(.object(header), at: ["compile", "optimizer_state", "iterations"]) { _ in
    .int(1 << 53)
  }!.objectValue!
  let loaded = try loadEdited(header, tensors)
  #expect(loaded.optimizer?.iterations == 1 << 53)
  try loaded.fit(Tensor(shape: [4, 3], repeating: 1), Tensor(shape: [4, 2]), verbose: 0)
  #expect(loaded.weights.allSatisfy { $0.scalars.allSatisfy(\.isFinite) })
}
