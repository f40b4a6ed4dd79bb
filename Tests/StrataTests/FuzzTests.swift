import Foundation
@testable import Strata
import StrataCore
import Testing

/// How many cases each fuzz test tries: 2,000 in the normal run; set `STRATA_FUZZ_CASES` (to 100000, say)
/// for a long run by hand.
let fuzzCases = ProcessInfo.processInfo.environment["STRATA_FUZZ_CASES"].flatMap(Int.init) ?? 2_000

/// The outcome of feeding one hostile input to a loader.
struct FuzzTally: CustomStringConvertible {
  var tried = 0, rejected = 0, loaded = 0, otherErrors: [String] = []
  var description: String {
    "tried \(tried), rejected \(rejected), loaded \(loaded), unexpected errors \(otherErrors.count)"
  }

  /// Feeds case `index` to `load`: a `StrataError.file` naming a path `isCase` accepts is a
  /// rejection, any other error is recorded; when it loads, `use` runs and may throw `StrataError`.
  mutating func feed<Model>(
    case index: Int, family: String, isCase: (String) -> Bool, load: () throws -> Model,
    use: (Model) throws -> Void
  ) {
    tried += 1
    do {
      let model = try load()
      loaded += 1
      do { try use(model) } catch is StrataError {}
    } catch StrataError.file(let path, _) where isCase(path) {
      rejected += 1
    } catch {
      otherErrors.append("case \(index) (\(family)): \(error)")
    }
  }

  /// Checks that `cases` inputs ran, none failed otherwise, more than `rejectedShare` of them were
  /// rejected and some loaded.
  func check(_ name: String, cases: Int, families: [String: Int], rejectedShare: Int) {
    print("\(name) fuzz: \(self); families \(families.sorted { $0.key < $1.key })")
    #expect(tried == cases)
    #expect(otherErrors.isEmpty, "\(otherErrors.prefix(5))")
    #expect(rejected > tried / rejectedShare && loaded > 0)
  }
}

/// Model files as `save` writes them, of two small trained models (an MLP with Dropout and Adam; a
/// CNN with BatchNormalization and SGD with momentum), with a batch to predict and train on.
func fuzzSeedFiles() throws -> [(data: Data, x: Tensor, y: Tensor)] {
  var generator = SeededGenerator(seed: 99)
  func random(_ shape: [Int]) -> Tensor {
    var t = Tensor(shape: shape)
    t.withUnsafeMutableBufferPointer {
      for i in $0.indices { $0[i] = Float.random(in: 0..<1, using: &generator) }
    }
    return t
  }
  let labels = Tensor((0..<8).map { Float($0 % 3) })
  let mlp = try Sequential(
    [
      Flatten(inputShape: [4, 4]), Dense(6, activation: "relu"), Dropout(0.3),
      Dense(3, activation: "softmax"),
    ], seed: 1)
  try mlp.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let mlpX = random([8, 4, 4])
  try mlp.fit(mlpX, labels, batchSize: 4, epochs: 1, verbose: 0)
  let cnn = try Sequential(
    [
      Conv2D(2, kernelSize: 3, activation: "relu", inputShape: [6, 6, 1]), BatchNormalization(),
      MaxPooling2D(), Flatten(), Dense(3, activation: "softmax"),
    ],
    seed: 2)
  try cnn.compile(
    optimizer: try SGD(learningRate: 0.1, momentum: 0.9), loss: "sparse_categorical_crossentropy")
  let cnnX = random([8, 6, 6, 1])
  try cnn.fit(cnnX, labels, batchSize: 4, epochs: 1, verbose: 0)
  return try [(mlp, mlpX), (cnn, cnnX)].map { model, x in
    let (header, tensors) = model.fileContents(weightsOnly: false)
    return (try ModelFile.encode(header: header, tensors: tensors), x, labels)
  }
}

/// Replaces the trailing CRC-32 so the loader gets past its integrity check: the mutations below model
/// a crafted file, not an accident.
func withFixedChecksum(_ data: Data) -> Data {
  guard data.count >= 4 else { return data }
  var body = data.prefix(data.count - 4)
  let checksum = body.withUnsafeBytes { crc32($0) }
  withUnsafeBytes(of: checksum.littleEndian) { body.append(contentsOf: $0) }
  return Data(body)
}

/// The values a hostile header puts where numbers, strings and lists belong.
let extremeValues: [ConfigValue] = [
  0, -1, 1, .int(1 << 31), .int(1 << 40), .int(1 << 62), .int(Int.max), .int(Int.min),
  .double(1e308), .double(-1e308),
  .double(1.5), .double(1e12), "relu", "", "../../etc/passwd", .null, true, [], [[[]]], ["a": 1],
  [.int(1 << 31), .int(1 << 31)],
  [.int(-28), 28], [.null, 28], .string(String(repeating: "x", count: 10_000)),
  // Names a loader splits or joins: a registered plugin name without a package or a name.
  ">", ">Nope", "Pkg>", "a/b", "/",
]

/// Every path to a node of `value`, for picking one to edit.
func nodePaths(_ value: ConfigValue, prefix: [String] = []) -> [[String]] {
  var paths = [prefix]
  switch value {
  case .object(let object):
    // Sorted: dictionary order differs from run to run, and a case must be reproducible from its number.
    for (key, child) in object.sorted(by: { $0.key < $1.key }) {
      paths += nodePaths(child, prefix: prefix + [key])
    }
  case .array(let array):
    for (index, child) in array.enumerated() {
      paths += nodePaths(child, prefix: prefix + ["\(index)"])
    }
  default: break
  }
  return paths
}

/// `json` with one node, picked at random, removed (operation 0), doubled (1), replaced by
/// `special[i](node)` (operation 2 + i) or by an extreme value (the rest, up to `operations`). Also
/// returns the operation and the node's path, `"3:layers/0/config"`, for the case's family.
func editingRandomNode(
  of json: ConfigValue, operations: Int,
  special: [(ConfigValue, inout SeededGenerator) -> ConfigValue],
  using generator: inout SeededGenerator
) -> (edited: ConfigValue, family: String) {
  let path = nodePaths(json).randomElement(using: &generator)!
  let operation = Int.random(in: 0..<operations, using: &generator)
  let edited =
    editing(json, at: path[...]) { node in
      switch operation {
      case 0: return nil
      case 1: return .array([node, node])
      case 2..<(2 + special.count): return special[operation - 2](node, &generator)
      default: return extremeValues.randomElement(using: &generator)!
      }
    } ?? .null
  return (edited, "\(operation):\(path.joined(separator: "/"))")
}

/// `value` with the node at `path` replaced by `transform` of it (nil removes it).
func editing(
  _ value: ConfigValue, at path: ArraySlice<String>, _ transform: (ConfigValue) -> ConfigValue?
) -> ConfigValue? {
  guard let key = path.first else { return transform(value) }
  switch value {
  case .object(var object):
    guard let child = object[key] else { return value }
    object[key] = editing(child, at: path.dropFirst(), transform)
    return .object(object)
  case .array(var array):
    guard let index = Int(key), array.indices.contains(index) else { return value }
    if let edited = editing(array[index], at: path.dropFirst(), transform) {
      array[index] = edited
    } else {
      array.remove(at: index)
    }
    return .array(array)
  default:
    return value
  }
}

/// A structure-aware mutation of a model file, chosen and parameterized by `generator`.
func mutateModelFile(_ file: Data, using generator: inout SeededGenerator) -> (Data, String) {
  var bytes = [UInt8](file)
  let headerLength = Int(
    UInt32(
      littleEndian: file.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }))
  let headerRange = 12..<(12 + headerLength)
  func randomIndex() -> Int { Int.random(in: 0..<bytes.count, using: &generator) }
  switch Int.random(in: 0..<100, using: &generator) {
  case 0..<8:  // on-disk corruption: the checksum is left as it was
    bytes[randomIndex()] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
    return (Data(bytes), "raw-bitflip")
  case 8..<28:  // byte edits anywhere, checksum recomputed
    let kind = Int.random(in: 0..<5, using: &generator)
    let at = randomIndex()
    switch kind {
    case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
    case 1:
      for i in at..<min(bytes.count, at + 8) {
        bytes[i] = UInt8.random(in: 0...255, using: &generator)
      }
    case 2: bytes.removeSubrange(at..<bytes.count)
    case 3:
      bytes.insert(
        contentsOf: (0..<Int.random(in: 1...16, using: &generator)).map { _ in
          UInt8.random(in: 0...255, using: &generator)
        }, at: at)
    default:
      bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...64, using: &generator)))
    }
    return (withFixedChecksum(Data(bytes + [0, 0, 0, 0])), "crcfix-\(kind)")
  case 28..<34:  // the header length field
    let values: [UInt32] = [
      0, 1, 2, 3, UInt32(headerLength - 1), UInt32(headerLength + 1), UInt32(headerLength + 4),
      0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF,
    ]
    let value = values.randomElement(using: &generator)!
    withUnsafeBytes(of: value.littleEndian) { for i in 0..<4 { bytes[8 + i] = $0[i] } }
    return (withFixedChecksum(Data(bytes)), "headerlen-\(value)")
  case 34..<80:  // one node of the header JSON edited, the file re-serialized whole
    guard let header = try? JSONDecoder().decode(ConfigValue.self, from: Data(bytes[headerRange]))
    else { return (file, "none") }
    let (edited, family) = editingRandomNode(
      of: header, operations: 10,
      special: [
        { node, generator in
          var deep = node
          for _ in 0..<Int.random(in: 10...400, using: &generator) { deep = .array([deep]) }
          return deep
        },
        { node, _ in
          guard case .object(var object) = node else { return node }
          object["unknown_key"] = 1
          return .object(object)
        },
      ], using: &generator)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    guard let json = try? encoder.encode(edited) else { return (file, "none") }
    var data = Data(bytes[0..<8])
    withUnsafeBytes(of: UInt32(json.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    data.append(contentsOf: bytes[headerRange.upperBound...])
    return (withFixedChecksum(data), "json-\(family)")
  default:  // the data block: ranges swapped, doubled, or filled with NaN and infinities
    let dataStart = headerRange.upperBound, dataEnd = bytes.count - 4
    guard dataEnd - dataStart >= 16 else { return (file, "none") }
    let kind = Int.random(in: 0..<4, using: &generator)
    let length = Int.random(in: 1...min(256, (dataEnd - dataStart) / 2), using: &generator) & ~3
    let a = dataStart + (Int.random(in: 0...(dataEnd - dataStart - length), using: &generator) & ~3)
    let b = dataStart + (Int.random(in: 0...(dataEnd - dataStart - length), using: &generator) & ~3)
    switch kind {
    case 0: for i in 0..<length { bytes.swapAt(a + i, b + i) }
    case 1: bytes.insert(contentsOf: bytes[dataStart..<dataEnd], at: dataEnd)
    case 2:
      let special: [Float] = [.nan, .infinity, -.infinity, .greatestFiniteMagnitude, -0.0]
      let value = special.randomElement(using: &generator)!
      for i in stride(from: a, to: a + length, by: 4) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) {
          for j in 0..<4 { bytes[i + j] = $0[j] }
        }
      }
    default: bytes.swapAt(a, b)
    }
    return (withFixedChecksum(Data(bytes)), "section-\(kind)")
  }
}

/// Hostile model files never crash, hang or allocate without limit: each is refused with a file error
/// naming the file, or loads into a model that predicts and trains a step without trapping.
@Test func fuzzedModelFilesAreRefusedOrLoadSafely() throws {
  let seeds = try fuzzSeedFiles()
  var generator = SeededGenerator(seed: 2026_11_24)
  var tally = FuzzTally()
  var families: [String: Int] = [:]
  for index in 0..<fuzzCases {
    let (file, x, y) = seeds[index % seeds.count]
    let (mutated, family) = mutateModelFile(file, using: &generator)
    families[String(family.prefix { $0 != "-" }), default: 0] += 1
    tally.feed(case: index, family: family, isCase: { $0 == "case\(index)" }) {
      let (header, tensors) = try ModelFile.decode(mutated, path: "case\(index)")
      return try Sequential.load(header: header, tensors: tensors, path: "case\(index)")
    } use: { model in
      // A model that loads is used: predictions and a training step must not trap either.
      _ = try model.predict(x)
      if model.optimizer != nil { try model.fit(x, y, batchSize: 8, epochs: 1, verbose: 0) }
    }
  }
  tally.check("Model-file", cases: fuzzCases, families: families, rejectedShare: 2)
}
