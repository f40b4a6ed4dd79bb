import Foundation
@testable import Strata
@testable import StrataKeras
import StrataCore
import Testing

/// Raw deflate data of `bytes`, from the system's `gzip` (its 10-byte header and 8-byte trailer cut).
func deflated(_ bytes: [UInt8]) throws -> [UInt8] {
  let file = temporaryURL("member")
  try Data(bytes).write(to: file)
  let gzip = Process()
  gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
  gzip.arguments = ["-n", "-9", "-f", file.path]
  try gzip.run()
  gzip.waitUntilExit()
  let compressed = [UInt8](try Data(contentsOf: file.appendingPathExtension("gz")))
  return Array(compressed[10..<(compressed.count - 8)])
}

/// One member of a zip archive built field by field, each field overridable to make it hostile.
struct ZipEntry {
  var name: String
  var data: [UInt8]
  var method = 0
  var flags = 0
  var crc: UInt32? = nil
  var compressedSize: Int? = nil
  var size: Int? = nil
  var localOffsetShift = 0
  var nameLengthInDirectory: Int? = nil
  var content: [UInt8]
}

extension ZipEntry {
  /// `data` stored, or deflated with `method` 8.
  init(_ name: String, _ data: [UInt8], deflate: Bool = false) throws {
    self.init(
      name: name, data: data, method: deflate ? 8 : 0,
      content: deflate ? try deflated(data) : data)
  }
}

/// A zip archive of `entries`, with the end record's count, directory size and start overridable.
func zipArchive(
  _ entries: [ZipEntry], count: Int? = nil, directorySize: Int? = nil, directoryShift: Int = 0,
  directorySignature: UInt32 = 0x0201_4B50
) -> Data {
  var archive: [UInt8] = [], directory: [UInt8] = []
  func put16(_ v: Int, _ into: inout [UInt8]) { into += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
  func put32(_ v: Int, _ into: inout [UInt8]) {
    put16(v & 0xFFFF, &into)
    put16(v >> 16 & 0xFFFF, &into)
  }
  for entry in entries {
    let crc = Int(entry.crc ?? entry.data.withUnsafeBytes { StrataCore.crc32($0) })
    let name = Array(entry.name.utf8)
    let offset = archive.count
    put32(0x0403_4B50, &archive)
    for v in [20, entry.flags, entry.method, 0, 0] { put16(v, &archive) }
    for v in [crc, entry.compressedSize ?? entry.content.count, entry.size ?? entry.data.count] {
      put32(v, &archive)
    }
    put16(name.count, &archive)
    put16(0, &archive)
    archive += name + entry.content
    put32(Int(directorySignature), &directory)
    for v in [20, 20, entry.flags, entry.method, 0, 0] { put16(v, &directory) }
    for v in [crc, entry.compressedSize ?? entry.content.count, entry.size ?? entry.data.count] {
      put32(v, &directory)
    }
    for v in [entry.nameLengthInDirectory ?? name.count, 0, 0, 0, 0] { put16(v, &directory) }
    put32(0, &directory)
    put32(offset + entry.localOffsetShift, &directory)
    directory += name
  }
  let start = archive.count
  archive += directory
  put32(0x0605_4B50, &archive)
  for v in [0, 0, count ?? entries.count, count ?? entries.count] { put16(v, &archive) }
  put32(directorySize ?? directory.count, &archive)
  put32(start + directoryShift, &archive)
  put16(0, &archive)
  return Data(archive)
}

/// A `.keras` file whose members are deflated (Python's zipfile with ZIP_DEFLATED writes these)
/// loads like the stored one: the members are inflated, their CRCs checked.
@Test func deflatedKerasMembersLoadLikeStoredOnes() throws {
  let stored = try Data(contentsOf: kerasFile("tiny_mlp.keras"))
  let members = try ZipArchive.read(stored, path: "tiny_mlp")
  let entries = try ["metadata.json", "config.json", "model.weights.h5"].map {
    try ZipEntry($0, [UInt8](members[$0]!), deflate: true)
  }
  #expect(entries[2].content.count < entries[2].data.count, "the weights compress")
  let deflatedFile = zipArchive(entries)
  let a = try KerasFile.loadModel(keras: stored, path: "stored")
  let b = try KerasFile.loadModel(keras: deflatedFile, path: "deflated")
  let x = Tensor(shape: [2, 28, 28], repeating: 0.3)
  #expect(try a.predict(x) == b.predict(x))
}

/// Every field of the container checked: each hostile archive is refused with what is wrong.
@Test func hostileZipArchivesAreRefusedByWhatIsWrong() throws {
  let data = Array("{\"x\": 1}".utf8) + [UInt8](repeating: 32, count: 200)
  let good = try ZipEntry("config.json", data, deflate: true)
  func reason(_ archive: Data) -> String {
    fileError { _ = try ZipArchive.read(archive, path: "z") }
  }
  #expect(try ZipArchive.read(zipArchive([good]), path: "z")["config.json"] == Data(data))
  var corrupted = good
  corrupted.content[2] ^= 0xFF
  corrupted.content[3] ^= 0x55
  let cases: [(Data, String)] = [
    (zipArchive([corrupted]), "corrupted"),
    (zipArchive([with(good) { $0.method = 12 }]), "compressed with method 12"),
    (zipArchive([with(good) { $0.flags = 1 }]), "encrypted"),
    (zipArchive([with(good) { $0.size = 0xFFFF_FFFF }]), "zip64"),
    (
      zipArchive([
        with(good) {
          $0.method = 0; $0.content = data; $0.size = 5
        }
      ]), "sizes disagree"
    ),
    (zipArchive([with(good) { $0.localOffsetShift = 3 }]), "without a local header"),
    (zipArchive([with(good) { $0.localOffsetShift = 100_000 }]), "without a local header"),
    (zipArchive([with(good) { $0.compressedSize = good.content.count + 500 }]), "past the end"),
    (zipArchive([with(good) { $0.crc = 7 }]), "CRC-32"),
    (zipArchive([with(good) { $0.nameLengthInDirectory = 60_000 }]), "entry past its end"),
    (zipArchive([good], count: 0xFFFF), "zip64 archive"),
    (zipArchive([good], count: 2000), "lists 2000 members"),
    (zipArchive([good], directorySize: 100_000), "central directory past its end"),
    (zipArchive([good], directorySignature: 0x1234_5678), "malformed central directory"),
    (zipArchive([good, good]), "twice"),
    (Data([0x50, 0x4B, 5, 6]), "too short"),
    (Data(repeating: 0, count: 100), "no end of central directory"),
  ]
  for (archive, expected) in cases {
    let found = reason(archive)
    #expect(found.contains(expected), "expected '\(expected)': \(found)")
  }
}

/// `value` changed by `edit`.
func with<T>(_ value: T, _ edit: (inout T) -> Void) -> T {
  var copy = value
  edit(&copy)
  return copy
}
