import Foundation
@testable import Strata
@testable import StrataKeras
import StrataCore
import Testing

/// A structure-aware mutation of a `.keras` file: zip fields edited (left to the CRC and bounds
/// checks), or one member edited (a node of `config.json`, bytes of `model.weights.h5`) and the zip
/// written again, CRCs recomputed, so the mutation reaches the parsers behind the checksum.
func mutateKerasFile(_ file: Data, using generator: inout SeededGenerator) -> (Data, String) {
  var bytes = [UInt8](file)
  func randomIndex(_ count: Int) -> Int { Int.random(in: 0..<count, using: &generator) }
  let choice = Int.random(in: 0..<100, using: &generator)
  if choice < 20 {  // the container: any byte, or a 32-bit field set to an extreme
    let at = randomIndex(bytes.count)
    if choice < 10 {
      bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
      return (Data(bytes), "zip-bitflip")
    }
    let values: [UInt32] = [
      0, 1, 0xFFFF, 0xFFFF_FFFF, 0x7FFF_FFFF, UInt32(bytes.count), 100_000_000,
    ]
    let value = values.randomElement(using: &generator)!
    withUnsafeBytes(of: value.littleEndian) {
      for i in 0..<4 where at + i < bytes.count { bytes[at + i] = $0[i] }
    }
    return (Data(bytes), "zip-field")
  }
  guard var members = try? ZipArchive.read(file, path: "seed") else { return (file, "none") }
  var family: String
  if choice < 55 {  // config.json: one node edited
    guard let config = try? ConfigValue(json: members["config.json"]!) else {
      return (file, "none")
    }
    let (edited, node) = editingRandomNode(
      of: config, operations: 8,
      special: [
        { _, _ in "channels_first" },
        { _, _ in ["class_name": "DTypePolicy", "config": ["name": "mixed_float16"]] },
        { node, generator in  // the node inside Sequential models nested 1 to 150 deep
          (0..<Int.random(in: 1...150, using: &generator)).reduce(node) { inner, _ in
            ["class_name": "Sequential", "config": ["name": "nest", "layers": [inner]]]
          }
        },
      ], using: &generator)
    members["config.json"] = try? JSONEncoder().encode(edited)
    family = "config-\(node)"
  } else {  // model.weights.h5: bytes edited behind the zip's CRC
    var h5 = [UInt8](members["model.weights.h5"]!)
    let kind = Int.random(in: 0..<7, using: &generator)
    let at = randomIndex(h5.count)
    // The offsets of the group B-tree nodes, for structures that point back into themselves.
    func offsets(of signature: String) -> [Int] {
      let tag = Array(signature.utf8)
      return h5.indices.filter { h5[$0...].starts(with: tag) }
    }
    switch kind {
    case 5:  // a B-tree child pointing at its own node, or at a sibling's symbol node again
      guard let node = offsets(of: "TREE").randomElement(using: &generator) else { break }
      let used = Int(h5[node + 6]) | Int(h5[node + 7]) << 8
      let slot = node + 32 + 16 * Int.random(in: 0..<max(used, 1), using: &generator)
      let target =
        Bool.random(using: &generator) ? node : offsets(of: "SNOD").randomElement(using: &generator)
      withUnsafeBytes(of: UInt64(target ?? node).littleEndian) {
        for i in 0..<8 where slot + i < h5.count { h5[slot + i] = $0[i] }
      }
      if Bool.random(using: &generator), node + 7 < h5.count { h5[node + 6] = 0xFF }
    case 6:  // an 8-byte integer at its type's limits
      let values: [UInt64] = [
        UInt64(Int64.max), UInt64.max, 1 << 53 + 1, 1 << 24 + 1, UInt64(bitPattern: Int64.min),
      ]
      withUnsafeBytes(of: values.randomElement(using: &generator)!.littleEndian) {
        for i in 0..<8 where at + i < h5.count { h5[at + i] = $0[i] }
      }
    case 0: h5[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
    case 1:
      for i in at..<min(h5.count, at + 8) { h5[i] = UInt8.random(in: 0...255, using: &generator) }
    case 2: h5.removeSubrange(at..<h5.count)
    case 3:
      let value: UInt8 = [0x00, 0xFF, 0x7F, 0x80].randomElement(using: &generator)!
      for i in at..<min(h5.count, at + 8) { h5[i] = value }
    default:
      h5.removeSubrange(at..<min(h5.count, at + Int.random(in: 1...64, using: &generator)))
    }
    members["model.weights.h5"] = Data(h5)
    family = "h5-\(kind)"
  }
  let order = ["metadata.json", "config.json", "model.weights.h5"]
  let rezipped = try? ZipArchive.write(
    order.compactMap { name in members[name].map { (name, $0) } })
  return (rezipped ?? file, family)
}

/// Hostile Keras files never crash: each is refused with a file error naming it, or loads into a
/// model that predicts and trains a step without trapping.
@Test func fuzzedKerasFilesAreRefusedOrLoadSafely() throws {
  let seeds = ["tiny_mlp", "tiny_cnn", "tiny_bn", "tiny_adam", "tiny_residual", "tiny_two_inputs"]
    .map { try! Data(contentsOf: kerasFile("\($0).keras")) }
  let inputs = try [
    "tiny_mlp", "tiny_cnn", "tiny_bn", "tiny_adam", "tiny_residual", "tiny_two_inputs",
  ]
  .map { try KerasExpectation($0).inputs }
  let legacy = try Data(contentsOf: kerasFile("tiny_legacy.h5"))
  var generator = SeededGenerator(seed: 2026_12_03)
  var tally = FuzzTally()
  var families: [String: Int] = [:]
  let cases = max(fuzzCases / 2, 50)
  for index in 0..<cases {
    let path = "case\(index)"
    let isLegacy = index % 7 == 6
    let mutated: Data
    let family: String
    if isLegacy {  // the legacy .h5: bytes edited (HDF5 keeps no checksum over them)
      var bytes = [UInt8](legacy)
      let at = Int.random(in: 0..<bytes.count, using: &generator)
      for i in at..<min(bytes.count, at + Int.random(in: 1...8, using: &generator)) {
        bytes[i] = UInt8.random(in: 0...255, using: &generator)
      }
      (mutated, family) = (Data(bytes), "legacy")
    } else {
      (mutated, family) = mutateKerasFile(seeds[index % 7 % seeds.count], using: &generator)
    }
    families[String(family.prefix { $0 != ":" && $0 != "-" }), default: 0] += 1
    // STRATA_FUZZ_TRACE=1 prints each case before it runs; =N also writes case N to /tmp/fuzzcase.bin.
    if ProcessInfo.processInfo.environment["STRATA_FUZZ_TRACE"] != nil {
      FileHandle.standardError.write(Data("case \(index) \(family)\n".utf8))
      if ProcessInfo.processInfo.environment["STRATA_FUZZ_TRACE"] == "\(index)" {
        try? mutated.write(to: URL(fileURLWithPath: "/tmp/fuzzcase.bin"))
      }
    }
    tally.feed(case: index, family: family, isCase: { $0.hasPrefix(path) }) {
      isLegacy
        ? try KerasFile.loadModel(hdf5: mutated, path: path)
        : try KerasFile.loadModel(keras: mutated, path: path)
    } use: { model in
      let x = isLegacy ? [Tensor(shape: [2, 5], repeating: 0.5)] : inputs[index % 7 % seeds.count]
      _ = try model.predict(x)
    }
  }
  tally.check("Keras-file", cases: cases, families: families, rejectedShare: 4)
}
