import Foundation
@testable import Strata
@testable import StrataKeras
import StrataCore
import StrataData
import StrataTesting
import Testing

// The findings of the release audit of 19bf667, each a clear error or correct behaviour now.

// MARK: Writing to special files

@Test func writingToADeviceWritesThroughAndNeverReplacesIt() throws {
  try AtomicFile.write(Data("discarded".utf8), to: URL(fileURLWithPath: "/dev/null"))
  var status = stat()
  #expect(stat("/dev/null", &status) == 0)
  #expect(status.st_mode & S_IFMT == S_IFCHR, "/dev/null is still a character device")
  // Through a link to it, too: the link stays, the device stays.
  let link = temporaryURL("null-link")
  try FileManager.default.createSymbolicLink(
    at: link, withDestinationURL: URL(fileURLWithPath: "/dev/null"))
  try AtomicFile.write(Data("discarded".utf8), to: link)
  #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) == "/dev/null")
}

@Test func writingToAFIFOWritesThroughIt() throws {
  let fifo = temporaryURL("pipe")
  #expect(mkfifo(fifo.path, 0o600) == 0)
  final class Received: @unchecked Sendable {
    let lock = NSLock()
    var data: Data?
  }
  let received = Received()
  let reader = Thread {
    let data = FileHandle(forReadingAtPath: fifo.path)?.readDataToEndOfFile()
    received.lock.withLock { received.data = data }
  }
  reader.start()
  try AtomicFile.write(Data("through the pipe".utf8), to: fifo)
  for _ in 0..<500 where received.lock.withLock({ received.data }) == nil { usleep(10_000) }
  #expect(received.lock.withLock { received.data } == Data("through the pipe".utf8))
  var status = stat()
  #expect(lstat(fifo.path, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO)
}

@Test func aDanglingLinkIsWrittenThroughAndADirectoryIsRefused() throws {
  let target = temporaryURL("target.strata")
  let link = target.deletingLastPathComponent().appendingPathComponent("dangling.strata")
  try FileManager.default.createSymbolicLink(at: link, withDestinationURL: target)
  try AtomicFile.write(Data("made".utf8), to: link)
  #expect(FileManager.default.contents(atPath: target.path) == Data("made".utf8))
  #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: link.path)) == target.path)
  let directory = target.deletingLastPathComponent()
  let error = refusal { try AtomicFile.write(Data(), to: directory) }
  #expect(error?.description.contains("is a directory") == true, "\(String(describing: error))")
  var isDirectory: ObjCBool = false
  #expect(FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory))
  #expect(isDirectory.boolValue)
}

@Test func theCommandLineWritesPredictionsToStandardOutput() throws {
  let model = try Sequential([Dense(2, activation: "softmax", inputShape: [3])])
  let file = temporaryURL("tiny.keras")
  try model.save(to: file)
  let input = temporaryURL("x.npy")
  try NumPyArray.write(Tensor(shape: [4, 3], repeating: 0.5), to: input)
  let process = Process()
  process.executableURL = strataBinary()
  process.arguments = ["predict", file.path, "--input", input.path, "--output", "/dev/stdout"]
  let pipe = Pipe()
  process.standardOutput = pipe
  try process.run()
  let output = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  #expect(process.terminationStatus == 0)
  // The .npy bytes went down the pipe: an array of 4 rows of 2, as the file would hold.
  let written = temporaryURL("y.npy")
  try output.write(to: written)
  #expect(try NumPyArray.read(written).shape == [4, 2])
  var status = stat()
  #expect(stat("/dev/stdout", &status) == 0 && status.st_mode & S_IFMT != S_IFREG)
}

// MARK: Keras files

@Test func registeredNamesWithoutAPackageAreClearErrors() throws {
  for (name, package) in [
    (">", nil), (">Nope", nil), ("Pkg>", "Pkg"), ("a/b", nil), ("", nil),
    (String(repeating: "x", count: 100_000), nil), ("Mine>Sparkle", "Mine"),
  ] as [(String, String?)] {
    let url = try editedKerasFile("tiny_mlp") {
      $0 = $0.replacingOccurrences(
        of: "\"registered_name\": null", with: "\"registered_name\": \"\(name)\"")
      $0 = $0.replacingOccurrences(
        of: "\"class_name\": \"Dense\"", with: "\"class_name\": \"\(name.prefix(200))\"")
    }
    let reason = fileError { _ = try loadModel(from: url) }
    #expect(reason.contains("not registered") || reason.contains("cannot build"), "\(reason)")
    #expect(reason.count < 2_000, "the message stays short: \(reason.count) characters")
    if let package {
      #expect(reason.contains("plugin package '\(package)'"), "\(reason)")
    } else {
      #expect(!reason.contains("plugin package"), "\(name.prefix(20)): \(reason)")
    }
  }
}

/// An HDF5 image holding the scalar int64 dataset `optimizer/vars/0` of `value`, its datatype made
/// unsigned when `unsigned`.
func integerImage(_ value: UInt64, unsigned: Bool = false) throws -> [UInt8] {
  let file = try HDF5File(creatingIn: "x.h5")
  try file.write(integer: Int64(bitPattern: value), to: "optimizer/vars/0")
  var bytes = [UInt8](try file.image())
  if unsigned {
    // The datatype message: class 0 (integer) version 1, then the flags (0x08: signed), size 8,
    // offset 0, precision 64. The file holds one integer type, so the pattern is found once.
    let pattern: [UInt8] = [0x10, 0x08, 0, 0, 8, 0, 0, 0, 0, 0, 64, 0]
    let at = try #require(
      bytes.indices.first { bytes[$0...].starts(with: pattern) }, "the int64 datatype message")
    bytes[at + 1] = 0x00
  }
  return bytes
}

@Test func hdf5IntegersAreReadAsIntegersAtTheirTypesLimits() throws {
  for value: Int64 in [0, 16_777_217, 1 << 53 + 1, Int64.max, Int64.min, -1] {
    let reader = try HDF5Reader(bytes: integerImage(UInt64(bitPattern: value)), path: "x.h5")
    #expect(try reader.readInteger("optimizer/vars/0") == value)
  }
  let unsigned = try HDF5Reader(bytes: integerImage(1 << 40, unsigned: true), path: "x.h5")
  #expect(try unsigned.readInteger("optimizer/vars/0") == 1 << 40)
  let huge = try HDF5Reader(bytes: integerImage(UInt64.max, unsigned: true), path: "x.h5")
  #expect(
    fileError { _ = try huge.readInteger("optimizer/vars/0") }.contains(
      "18446744073709551615, beyond a signed 64-bit one"))
}

@Test func iterationCountsAtTheLimitsAreRefusedByValue() throws {
  let model = try Sequential([Dense(2, inputShape: [3])])
  try model.compile(optimizer: "adam", loss: "mse")
  try model.fit(
    Tensor(shape: [4, 3], repeating: 1), Tensor(shape: [4, 2], repeating: 0), epochs: 1, verbose: 0
  )
  let optimizer = try #require(model.optimizer)
  // A marker count, found again in the file's bytes.
  let marker = 0x0102_0304_0506
  try optimizer.restore(state: optimizer.state, iterations: marker, parameters: model.parameters)
  let file = temporaryURL("counted.keras")
  try model.save(to: file)
  var members = try ZipArchive.read(Data(contentsOf: file), path: "counted")
  var h5 = [UInt8](members["model.weights.h5"]!)
  let markerBytes = withUnsafeBytes(of: Int64(marker).littleEndian) { [UInt8]($0) }
  let at = try #require(h5.indices.first { h5[$0...].starts(with: markerBytes) })
  for (value, shown) in [(Int64.max, "9223372036854775807"), (-5, "-5")] {
    withUnsafeBytes(of: value.littleEndian) { for i in 0..<8 { h5[at + i] = $0[i] } }
    members["model.weights.h5"] = Data(h5)
    let edited = temporaryURL("edited.keras")
    try ZipArchive.write(
      ["metadata.json", "config.json", "model.weights.h5"].map { ($0, members[$0]!) }
    ).write(to: edited)
    #expect(
      fileError { _ = try loadModel(from: edited) }.contains("invalid iteration count \(shown)"))
  }
}

@Test func anHDF5GroupListingOneSymbolNodeManyTimesIsRefusedAtOnce() throws {
  // A group whose B-tree lists one symbol node 20,000 times: refused at the second listing.
  let file = try HDF5File(creatingIn: "x.h5")
  for i in 0..<3 { try file.write(Tensor([Float(i)]), to: "layers/dense/vars/\(i)") }
  var bytes = [UInt8](try file.image())
  // The group B-tree nodes ("TREE", type 0): point every child of each at its first child.
  var edited = 0
  var at = 0
  while let found = bytes[at...].firstRange(of: Array("TREE".utf8)) {
    let node = found.lowerBound
    at = node + 4
    guard bytes[node + 4] == 0, bytes[node + 5] == 0 else { continue }
    let used = Int(bytes[node + 6]) | Int(bytes[node + 7]) << 8
    guard used >= 1 else { continue }
    // Keys and children alternate after the 24-byte header: key (8), child (8), key, child, …
    // One entry more than it had (libhdf5 leaves room for 2K), every one the first child.
    let firstChild = node + 24 + 8
    let child = Array(bytes[firstChild..<(firstChild + 8)])
    let claimed = used + 1
    bytes[node + 6] = UInt8(claimed & 0xFF)
    bytes[node + 7] = UInt8(claimed >> 8)
    for k in 0..<claimed {
      bytes.replaceSubrange((firstChild + 16 * k)..<(firstChild + 16 * k + 8), with: child)
    }
    edited += 1
  }
  #expect(edited > 0)
  let reader = try HDF5Reader(bytes: bytes, path: "loop.h5")
  let reason = fileError { _ = try reader.readTensor("layers/dense/vars/0") }
  #expect(reason.contains("symbol node twice") || reason.contains("more links than"), "\(reason)")
}

@Test func deeplyNestedSequentialModelsBuildInTimeLinearInTheirDepth() throws {
  // 120 Sequential models, each the only layer of the next, around one Dense.
  var config: ConfigValue = [
    "class_name": "Sequential",
    "config": [
      "name": "level0",
      "layers": [
        ["class_name": "InputLayer", "config": ["batch_shape": [.null, 3]]],
        ["class_name": "Dense", "config": ["units": 2]],
      ],
    ],
  ]
  for depth in 1...120 {
    config = [
      "class_name": "Sequential",
      "config": [
        "name": .string("level\(depth)"),
        "layers": [["class_name": "InputLayer", "config": ["batch_shape": [.null, 3]]], config],
      ],
    ]
  }
  let start = ContinuousClock.now
  let model = try Sequential(config: config)
  let elapsed = ContinuousClock.now - start
  print("a Sequential nested 120 deep built in \(elapsed)")
  #expect(model.parameters.count == 2)
  #expect(try model.predict(Tensor(shape: [1, 3], repeating: 1)).shape == [1, 2])
}

@Test func nestedSequentialModelsSaveToKerasFilesAndLoadBack() throws {
  // Found beside the nesting audit: the nested model's `vars` group was written twice.
  setRandomSeed(3)
  var model = try Sequential([Dense(3, activation: "tanh", inputShape: [4])])
  for _ in 0..<3 {
    let outer = try Sequential([Input(shape: [4])])
    try outer.add(ModelLayer(model))
    model = outer
  }
  let file = temporaryURL("nested.keras")
  try model.save(to: file)
  let loaded = try loadModel(from: file)
  let x = Tensor(shape: [2, 4], repeating: 0.7)
  #expect(try loaded.predict(x) == model.predict(x))
  #expect(loaded.parameters.count == 2)
}

// MARK: Data files

/// The 6 bytes every `.npy` file starts with.
let npyMagic: [UInt8] = [0x93] + Array("NUMPY".utf8)

@Test func aGzipBombIsStoppedAtTheSizeItsHeaderGives() throws {
  // An IDX header for 10 bytes of data, then 64 MiB of zeros: inflation stops past 14 bytes.
  var idx: [UInt8] = [0, 0, 8, 1, 0, 0, 0, 10]
  idx += [UInt8](repeating: 0, count: 64 << 20)
  let raw = temporaryURL("bomb-idx1-ubyte")
  try Data(idx).write(to: raw)
  let gzip = Process()
  gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
  gzip.arguments = ["-f", raw.path]
  try gzip.run()
  gzip.waitUntilExit()
  let url = raw.appendingPathExtension("gz")
  #expect((try? Data(contentsOf: url).count).map { $0 < 200_000 } == true, "a small file")
  let reason = fileError { _ = try IDXArray(contentsOf: url) }
  #expect(reason.contains("more than the 18 bytes its header gives"), "\(reason)")
}

@Test func fashionMNISTLabelsOutOfRangeAreRefusedByIndexAndValue() throws {
  let directory = temporaryURL("labels").deletingLastPathComponent()
  func write(_ name: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: directory.appendingPathComponent(name))
  }
  let images: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7, 9]
  for prefix in ["train", "t10k"] {
    try write("\(prefix)-images-idx3-ubyte", images)
    try write(
      "\(prefix)-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 2, 3, prefix == "t10k" ? 200 : 1])
  }
  let reason = fileError { _ = try FashionMNIST.load(from: directory) }
  #expect(reason.contains("holds the label 200 at index 1; the classes are 0 to 9"), "\(reason)")
}

@Test func float64ValuesBeyondFloat32AreRefusedNotMadeInfinite() throws {
  func npy(_ values: [Double]) -> Data {
    var header = "{'descr': '<f8', 'fortran_order': False, 'shape': (\(values.count),), }"
    header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
    var data = Data(npyMagic + [1, 0, UInt8(header.utf8.count), 0])
    data.append(Data(header.utf8))
    for value in values {
      withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
    }
    return data
  }
  let url = temporaryURL("big.npy")
  try npy([1, 2, 1e300]).write(to: url)
  let reason = fileError { _ = try NumPyArray.read(url) }
  #expect(reason.contains("holds 1e+300 at element 2, beyond float32's range"), "\(reason)")
  // Infinities and values in range are kept as they are.
  try npy([1.5, -.infinity, 3e38]).write(to: url)
  #expect(try NumPyArray.read(url).scalars == [1.5, -.infinity, 3e38])
  #expect(try NumPyArray.decode(npy([1.5, 3e38]), path: "x").scalars == [1.5, 3e38])
}

@Test func npyArraysAreReadInPiecesOfEveryType() throws {
  // Larger than one 1 MiB piece, so the data is read and converted in several.
  let count = 300_000
  var header = "{'descr': '<i4', 'fortran_order': False, 'shape': (\(count),), }"
  header += String(repeating: " ", count: (64 - (10 + header.utf8.count + 1) % 64) % 64) + "\n"
  var data = Data(npyMagic + [1, 0, UInt8(header.utf8.count), 0])
  data.append(Data(header.utf8))
  for i in 0..<count {
    withUnsafeBytes(of: Int32(i - 5).littleEndian) { data.append(contentsOf: $0) }
  }
  let url = temporaryURL("ints.npy")
  try data.write(to: url)
  let tensor = try NumPyArray.read(url)
  #expect(tensor.shape == [count])
  #expect(tensor.scalars.enumerated().allSatisfy { $0.element == Float($0.offset - 5) })
  // A file cut short names the bytes it holds and needs.
  try data.prefix(data.count - 4).write(to: url)
  #expect(fileError { _ = try NumPyArray.read(url) }.contains("needs \(count * 4)"))
}

// MARK: Metrics and gradients

@Test func aucTakesItsWholeKerasConfig() throws {
  // The config Keras' AUC().get_config() writes, as a .keras compile config holds it.
  let keras: ConfigDictionary = [
    "name": "auc", "dtype": "float32", "num_thresholds": 200, "curve": "ROC",
    "summation_method": "interpolation", "multi_label": false, "num_labels": .null,
    "label_weights": .null, "from_logits": false,
  ]
  let metric = try Registries.shared.metrics.make("AUC", config: keras)
  #expect((metric as? AUC)?.config == AUC.Config())
  // from_logits: the same area as on the sigmoid of the logits.
  let logits = try Tensor(shape: [6, 1], scalars: [-2, 0.5, 1, -0.3, 3, -1])
  let targets = try Tensor(shape: [6, 1], scalars: [0, 1, 1, 0, 1, 1])
  let fromLogits = try AUC(config: .init(fromLogits: true))
  try fromLogits.update(prediction: logits, target: targets)
  let probabilities = try AUC()
  try probabilities.update(
    prediction: Tensor(shape: [6, 1], scalars: logits.scalars.map { 1 / (1 + exp(-$0)) }),
    target: targets)
  #expect(fromLogits.result == probabilities.result)
  #expect(fromLogits.result > 0.5 && fromLogits.result < 1)
  // label_weights of 2 count a label's predictions twice, as the same data given twice would.
  let weighted = try AUC(config: .init(labelWeights: [2, 1]))
  let p = try Tensor(shape: [3, 2], scalars: [0.9, 0.2, 0.3, 0.7, 0.6, 0.4])
  let t = try Tensor(shape: [3, 2], scalars: [1, 0, 0, 1, 0, 1])
  try weighted.update(prediction: p, target: t)
  let repeated = try AUC()
  let columns = [0, 0, 1]
  try repeated.update(
    prediction: Tensor(
      shape: [3, 3], scalars: (0..<3).flatMap { r in columns.map { p.scalars[r * 2 + $0] } }),
    target: Tensor(
      shape: [3, 3], scalars: (0..<3).flatMap { r in columns.map { t.scalars[r * 2 + $0] } }))
  #expect(abs(weighted.result - repeated.result) < 1e-6)
  // Given thresholds replace the evenly spaced ones: with one at 0.5, the ROC points are (1, 1),
  // (1/3, 2/3) and (0, 0), and the trapezoids' area is 5/9 + 1/9.
  let coarse = try AUC(config: .init(thresholds: [0.5]))
  try coarse.update(prediction: p, target: t)
  #expect(abs(coarse.result - 2.0 / 3.0) < 1e-6)
  // Arguments Keras refuses are refused here too, by name.
  #expect(
    refusal { try AUC(config: .init(numLabels: 3)) }?.description.contains("num_labels") == true)
  #expect(
    refusal { try AUC(config: .init(labelWeights: [-1])) }?.description.contains("label_weights")
      == true)
}
