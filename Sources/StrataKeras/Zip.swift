import CZlib
import Foundation
import Strata
import StrataCore

/// The zip container of a `.keras` file: read (stored or deflated members, sizes from the central
/// directory, every member's CRC-32 checked) and written (stored members, as Keras writes them).
///
/// The archive may be hostile: every offset and size is checked against the bytes present with
/// overflow-checked arithmetic, a member may not expand past ``maximumMemberBytes`` or more than
/// ``maximumExpansion`` times its compressed size (Keras' own zip-bomb guard), and zip64, encryption
/// and methods other than stored and deflate are refused by name.
enum ZipArchive {
  /// The most bytes one member may expand to.
  static let maximumMemberBytes = Limits.maximumFileBytes
  /// The most a deflated member may expand relative to its compressed size, past 1 MiB.
  static let maximumExpansion = 100
  /// The most members an archive may list.
  static let maximumMembers = 1024

  /// Where an archive's bytes come from: a range at a time, so that a file on disk is read in
  /// pieces (its directory, each wanted member) and never held whole beside the members.
  struct Source {
    /// The archive's size in bytes.
    let size: Int
    /// `count` bytes from `offset` on; the caller keeps both inside ``size``.
    let read: (_ offset: Int, _ count: Int) throws -> [UInt8]

    /// An archive in memory.
    init(_ data: Data) {
      size = data.count
      read = { offset, count in
        [UInt8](data[(data.startIndex + offset)..<(data.startIndex + offset + count)])
      }
    }

    /// An archive in a file, read with `pread`.
    init(_ file: UntrustedFile) {
      size = file.size
      read = { try file.read(at: $0, count: $1) }
    }
  }

  /// Reads the members named in `wanted` (all when `nil`) of the zip archive `data`, by name.
  static func read(_ data: Data, path: String, wanted: Set<String>? = nil) throws -> [String: Data]
  {
    try read(Source(data), path: path, wanted: wanted).mapValues { Data($0) }
  }

  /// Reads the members named in `wanted` (all when `nil`) of the archive in `source`, by name: each
  /// member's bytes are the only copy made of them.
  static func read(_ source: Source, path: String, wanted: Set<String>? = nil) throws -> [String:
    [UInt8]]
  {
    func corrupt(_ reason: String) -> StrataError { .file(path: path, reason: reason) }
    func u16(_ bytes: [UInt8], _ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
    func u32(_ bytes: [UInt8], _ at: Int) -> Int { u16(bytes, at) | u16(bytes, at + 2) << 16 }
    // The end-of-central-directory record: 22 bytes plus a comment of at most 65,535.
    guard source.size >= 22 else { throw corrupt("is too short to be a zip archive") }
    let tailStart = max(0, source.size - 22 - 65_535)
    let tail = try source.read(tailStart, source.size - tailStart)
    var found = -1
    for start in stride(from: tail.count - 22, through: 0, by: -1)
    where u32(tail, start) == 0x0605_4B50 {
      found = start
      break
    }
    guard found >= 0 else { throw corrupt("is not a zip archive (no end of central directory)") }
    let end = tailStart + found
    let count = u16(tail, found + 10)
    let directorySize = u32(tail, found + 12)
    let directoryStart = u32(tail, found + 16)
    guard count != 0xFFFF, directoryStart != 0xFFFF_FFFF else {
      throw corrupt("is a zip64 archive, which Strata does not read (members of 4 GiB or more)")
    }
    guard count <= maximumMembers else {
      throw corrupt("lists \(count) members, more than the \(maximumMembers) Strata reads")
    }
    guard directoryStart + directorySize <= end else {
      throw corrupt("has a central directory past its end")
    }
    let directory = try source.read(directoryStart, directorySize)
    let directoryEnd = directory.count
    var members: [String: [UInt8]] = [:]
    var total = 0
    var cursor = 0
    for _ in 0..<count {
      guard cursor + 46 <= directoryEnd, u32(directory, cursor) == 0x0201_4B50 else {
        throw corrupt("has a malformed central directory")
      }
      let flags = u16(directory, cursor + 8)
      let method = u16(directory, cursor + 10)
      let crc = UInt32(u32(directory, cursor + 16))
      let compressed = u32(directory, cursor + 20)
      let size = u32(directory, cursor + 24)
      let nameLength = u16(directory, cursor + 28)
      let extraLength = u16(directory, cursor + 30)
      let commentLength = u16(directory, cursor + 32)
      let localStart = u32(directory, cursor + 42)
      let next = cursor + 46 + nameLength + extraLength + commentLength
      guard next <= directoryEnd else {
        throw corrupt("has a central directory entry past its end")
      }
      let name = String(
        decoding: directory[(cursor + 46)..<(cursor + 46 + nameLength)], as: UTF8.self)
      cursor = next
      guard wanted?.contains(name) ?? true else { continue }
      let label = "member '\(name.prefix(100))'"
      guard compressed != 0xFFFF_FFFF, size != 0xFFFF_FFFF, localStart != 0xFFFF_FFFF else {
        throw corrupt("has a zip64 \(label), which Strata does not read")
      }
      guard flags & 1 == 0 else { throw corrupt("has an encrypted \(label)") }
      guard method == 0 || method == 8 else {
        throw corrupt(
          "has \(label) compressed with method \(method) (Strata reads stored and deflate)")
      }
      guard size <= maximumMemberBytes, total + size <= maximumMemberBytes else {
        throw corrupt("has \(label) of \(size) bytes, more than Strata reads")
      }
      guard method == 0 || size <= 1 << 20 || size / max(compressed, 1) <= maximumExpansion else {
        throw corrupt(
          "has \(label) that expands \(size / max(compressed, 1)) times (a zip bomb?)")
      }
      guard method == 8 || compressed == size else {
        throw corrupt("has a stored \(label) whose sizes disagree")
      }
      guard localStart + 30 <= directoryStart else {
        throw corrupt("has \(label) without a local header")
      }
      let local = try source.read(localStart, 30)
      guard u32(local, 0) == 0x0403_4B50 else {
        throw corrupt("has \(label) without a local header")
      }
      let dataStart = localStart + 30 + u16(local, 26) + u16(local, 28)
      guard dataStart + compressed <= directoryStart else {
        throw corrupt("has \(label) past the end of its data")
      }
      guard members[name] == nil else { throw corrupt("lists \(label) twice") }
      let stored = try source.read(dataStart, compressed)
      let content = method == 0 ? stored : try inflate(stored, size: size, label, corrupt)
      let computed = content.withUnsafeBytes { StrataCore.crc32($0) }
      guard computed == crc else {
        throw corrupt("has \(label) that is corrupted (CRC-32 mismatch)")
      }
      total += size
      members[name] = content
    }
    return members
  }

  /// Inflates raw deflate data to exactly `size` bytes.
  private static func inflate(
    _ compressed: [UInt8], size: Int, _ label: String, _ corrupt: (String) -> StrataError
  ) throws -> [UInt8] {
    var output = [UInt8](repeating: 0, count: size)
    var stream = z_stream()
    guard inflateInit2_(&stream, -15, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw corrupt("cannot be inflated (zlib failed to start)") }
    defer { inflateEnd(&stream) }
    let status = compressed.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer { target -> Int32 in
        stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
        stream.avail_in = UInt32(source.count)
        stream.next_out = target.baseAddress
        stream.avail_out = UInt32(target.count)
        return CZlib.inflate(&stream, Z_FINISH)
      }
    }
    guard status == Z_STREAM_END, Int(stream.total_out) == size else {
      throw corrupt("has \(label) whose deflate data is corrupted")
    }
    return output
  }

  /// A zip archive of `members` in order, stored uncompressed with their CRC-32s.
  static func write(_ members: [(name: String, data: Data)], date: Date = Date()) throws -> Data {
    var archive = Data()
    var directory = Data()
    func put16(_ value: Int, _ into: inout Data) {
      withUnsafeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian) {
        into.append(contentsOf: $0)
      }
    }
    func put32(_ value: Int, _ into: inout Data) {
      withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian) {
        into.append(contentsOf: $0)
      }
    }
    // MS-DOS date and time, as zip records them.
    let parts = Calendar(identifier: .gregorian).dateComponents(
      in: TimeZone(identifier: "UTC")!, from: date)
    let dosTime = (parts.hour ?? 0) << 11 | (parts.minute ?? 0) << 5 | (parts.second ?? 0) / 2
    let dosDate =
      max((parts.year ?? 1980) - 1980, 0) << 9 | (parts.month ?? 1) << 5 | (parts.day ?? 1)
    for (name, data) in members {
      try checkArgument(
        data.count < 0xFFFF_FFFF && archive.count < 0xFFFF_FFFF,
        owner: "zip", argument: name, value: "\(data.count) bytes",
        expected: "members under 4 GiB (Strata writes no zip64)")
      let crc = data.withUnsafeBytes { StrataCore.crc32($0) }
      let offset = archive.count
      let nameBytes = Data(name.utf8)
      // Local header: version 2.0, no flags, stored.
      put32(0x0403_4B50, &archive)
      for value in [20, 0, 0, dosTime, dosDate] { put16(value, &archive) }
      for value in [Int(crc), data.count, data.count] { put32(value, &archive) }
      put16(nameBytes.count, &archive)
      put16(0, &archive)
      archive.append(nameBytes)
      archive.append(data)
      // Its central directory entry.
      put32(0x0201_4B50, &directory)
      for value in [20, 20, 0, 0, dosTime, dosDate] { put16(value, &directory) }
      for value in [Int(crc), data.count, data.count] { put32(value, &directory) }
      for value in [nameBytes.count, 0, 0, 0, 0] { put16(value, &directory) }
      put32(0o100644 << 16, &directory)
      put32(offset, &directory)
      directory.append(nameBytes)
    }
    let directoryStart = archive.count
    archive.append(directory)
    put32(0x0605_4B50, &archive)
    for value in [0, 0, members.count, members.count] { put16(value, &archive) }
    put32(directory.count, &archive)
    put32(directoryStart, &archive)
    put16(0, &archive)
    return archive
  }
}
