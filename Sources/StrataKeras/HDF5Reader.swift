import Foundation
import Strata
import StrataCore

/// A reader of the HDF5 that Keras (through h5py) writes, in Swift, every field bounds-checked: the
/// file may be hostile, and Debian's libhdf5 1.10.8 dereferences corrupted heap and header fields
/// (Strata's fuzz test crashed it in `H5HG_read` and in a `memmove` within 6,000 cases), so untrusted
/// files are never handed to it. libhdf5 writes Strata's own files (``HDF5File``).
///
/// Read: superblock versions 0 and 1; version-1 object headers and their continuations; groups as
/// symbol tables (v1 B-tree, local heap); contiguous and compact datasets of IEEE floats and
/// integers; attributes of fixed-length and variable-length strings (global heap). Refused by name:
/// newer superblocks and object headers (h5py's `libver="latest"`), chunked or filtered (compressed)
/// datasets, and anything malformed.
final class HDF5Reader {
  /// The file's name in errors.
  let path: String
  let bytes: [UInt8]
  var offsetSize = 8
  var lengthSize = 8
  var base = 0
  var root = 0
  /// Each group's links, by object header address: a path is resolved from the root every time.
  var linkCache: [Int: [String: Int]] = [:]
  /// The symbol-table entries read so far, over all groups: bounded by the room the file has.
  var entriesRead = 0

  /// Reads the superblock of the HDF5 file `bytes`, which the reader keeps (no copy is made).
  init(bytes: [UInt8], path: String) throws {
    self.path = path
    self.bytes = bytes
    guard bytes.count >= 8, bytes.prefix(8).elementsEqual(HDF5File.signature) else {
      throw StrataError.file(path: path, reason: "is not an HDF5 file (bad signature)")
    }
    let version = try byte(8)
    guard version <= 1 else {
      throw corrupt(
        "has HDF5 superblock version \(version) (h5py's libver='latest'); Strata reads versions 0 and 1, as Keras writes them"
      )
    }
    offsetSize = try byte(13)
    lengthSize = try byte(14)
    guard offsetSize == 8 || offsetSize == 4, lengthSize == 8 || lengthSize == 4 else {
      throw corrupt("has HDF5 offsets of \(offsetSize) and lengths of \(lengthSize) bytes")
    }
    var at = 24 + (version == 1 ? 4 : 0)
    base = try address(at)
    at += 4 * offsetSize  // base, free space, end of file, driver information
    // The root group's symbol table entry: link name offset, object header address.
    root = try address(at + offsetSize)
  }

  func corrupt(_ reason: String) -> StrataError { .file(path: path, reason: reason) }

  // MARK: Bytes

  func byte(_ at: Int) throws -> Int {
    guard at >= 0, at < bytes.count else {
      throw corrupt("is truncated (an HDF5 field past its end)")
    }
    return Int(bytes[at])
  }

  /// The little-endian unsigned integer of `size` bytes at `at`; at most 2^53.
  func uint(_ at: Int, _ size: Int) throws -> Int {
    guard at >= 0, size >= 0, at <= bytes.count - size else {
      throw corrupt("is truncated (an HDF5 field past its end)")
    }
    var value: UInt64 = 0
    for i in (0..<size).reversed() { value = value << 8 | UInt64(bytes[at + i]) }
    guard value <= 1 << 53 else { throw corrupt("has an HDF5 field of impossible value \(value)") }
    return Int(value)
  }

  /// The file address at `at`, relative to the base, checked to be inside the file; -1 for HDF5's
  /// "undefined address".
  func address(_ at: Int) throws -> Int {
    guard at >= 0, at <= bytes.count - offsetSize else {
      throw corrupt("is truncated (an HDF5 address past its end)")
    }
    if bytes[at..<(at + offsetSize)].allSatisfy({ $0 == 0xFF }) { return -1 }
    let value = try uint(at, offsetSize)
    let (absolute, overflow) = value.addingReportingOverflow(base)
    guard !overflow, absolute < bytes.count else {
      throw corrupt("has an HDF5 address \(value) past its end (\(bytes.count) bytes)")
    }
    return absolute
  }

  func signature(_ at: Int, _ text: String) throws {
    let expected = Array(text.utf8)
    guard at >= 0, at <= bytes.count - expected.count,
      bytes[at..<(at + expected.count)].elementsEqual(expected)
    else { throw corrupt("has a malformed HDF5 structure (no '\(text)' signature at \(at))") }
  }

  // MARK: Object headers

  /// One header message: its type and where its data lies.
  struct Message {
    var type: Int
    var start: Int
    var size: Int
  }

  /// The messages of the version-1 object header at `at`, continuations followed.
  func messages(at header: Int) throws -> [Message] {
    let version = try byte(header)
    guard version == 1 else {
      throw corrupt(
        "has an HDF5 object header of version \(version) at \(header) (Strata reads version 1, as h5py writes by default)"
      )
    }
    let count = try uint(header + 2, 2)
    var blocks = [(start: header + 16, size: try uint(header + 8, 4))]
    var found: [Message] = []
    var visited = Set<Int>()
    while let block = blocks.popLast() {
      guard visited.insert(block.start).inserted, visited.count <= 64 else {
        throw corrupt("has an HDF5 object header whose continuations loop")
      }
      guard block.start >= 0, block.size >= 0, block.start <= bytes.count - block.size else {
        throw corrupt("has an HDF5 object header past its end")
      }
      var at = block.start
      let end = block.start + block.size
      while at + 8 <= end, found.count < count {
        let type = try uint(at, 2)
        let size = try uint(at + 2, 2)
        let flags = try byte(at + 4)
        guard at + 8 + size <= end else {
          throw corrupt("has an HDF5 header message past its block")
        }
        guard flags & 0x02 == 0 || type == 0 else {
          throw corrupt(
            "has a shared HDF5 header message (type \(type)), which Strata does not read")
        }
        let message = Message(type: type, start: at + 8, size: size)
        if type == 0x10 {  // continuation
          blocks.append(
            (try address(message.start), try uint(message.start + offsetSize, lengthSize)))
        }
        found.append(message)
        at += 8 + size
      }
    }
    return found
  }

  // MARK: Groups

  /// The links of the group whose object header is at `header`: name → object header address.
  func links(ofGroup header: Int) throws -> [String: Int] {
    if let known = linkCache[header] { return known }
    let found = try readLinks(ofGroup: header)
    linkCache[header] = found
    return found
  }

  func readLinks(ofGroup header: Int) throws -> [String: Int] {
    guard let table = try messages(at: header).first(where: { $0.type == 0x11 }) else {
      throw corrupt(
        "has an HDF5 group without a symbol table at \(header) (new-style groups are not read)")
    }
    let tree = try address(table.start)
    let heap = try address(table.start + offsetSize)
    try signature(heap, "HEAP")
    let heapSize = try uint(heap + 8, lengthSize)
    let heapData = try address(heap + 8 + 2 * lengthSize)
    guard heapData >= 0, heapSize <= bytes.count - heapData else {
      throw corrupt("has an HDF5 local heap past its end")
    }
    func name(_ offset: Int) throws -> String {
      guard offset >= 0, offset < heapSize else {
        throw corrupt("has an HDF5 link name outside its heap")
      }
      let start = heapData + offset
      let end = bytes[start..<(heapData + heapSize)].firstIndex(of: 0) ?? (heapData + heapSize)
      return String(decoding: bytes[start..<end], as: UTF8.self)
    }
    var result: [String: Int] = [:]
    var visited = Set<Int>()
    func walk(_ node: Int, depth: Int) throws {
      guard depth < 32, visited.insert(node).inserted, visited.count <= 100_000 else {
        throw corrupt("has an HDF5 group B-tree that loops or is too deep")
      }
      try signature(node, "TREE")
      guard try byte(node + 4) == 0 else {
        throw corrupt("has an HDF5 group B-tree of the wrong type")
      }
      let level = try byte(node + 5)
      let used = try uint(node + 6, 2)
      var at = node + 8 + 2 * offsetSize + lengthSize  // past the siblings and the first key
      for _ in 0..<used {
        let child = try address(at)
        if level > 0 {
          try walk(child, depth: depth + 1)
        } else {
          // A symbol node listed twice would be read twice: the names would come again, and a
          // small file could make the walk do work far beyond its size.
          guard visited.insert(child).inserted else {
            throw corrupt("has an HDF5 group B-tree that lists a symbol node twice")
          }
          try signature(child, "SNOD")
          let symbols = try uint(child + 6, 2)
          let entrySize = 2 * offsetSize + 24
          // Every entry takes `entrySize` bytes of the file, so reading more entries, over all
          // groups, than the file has room for means nodes are shared: work with no end in size.
          entriesRead += symbols
          guard entriesRead <= bytes.count / entrySize else {
            throw corrupt("has HDF5 groups listing more links than the file has room for")
          }
          for index in 0..<symbols {
            let entry = child + 8 + index * entrySize
            result[try name(try uint(entry, offsetSize))] = try address(entry + offsetSize)
          }
        }
        at += offsetSize + lengthSize
      }
    }
    if tree >= 0 { try walk(tree, depth: 0) }
    return result
  }

  /// The object header address of `object` (a `/`-separated path from the root), `nil` if absent.
  func resolve(_ object: String) throws -> Int? {
    var header = root
    for component in object.split(separator: "/") {
      guard let next = try links(ofGroup: header)[String(component)], next >= 0 else { return nil }
      header = next
    }
    return header
  }

  /// Whether `object` exists.
  func exists(_ object: String) -> Bool { ((try? resolve(object)) ?? nil) != nil }

  /// How many links the group `object` holds.
  func childCount(_ object: String) throws -> Int {
    guard let header = try resolve(object) else {
      throw corrupt("has no group '\(object.prefix(200))'")
    }
    return try links(ofGroup: header).count
  }

  // MARK: Datatypes and dataspaces

  /// What Strata reads of a datatype.
  enum DataType {
    case float(size: Int, bigEndian: Bool)
    case integer(size: Int, signed: Bool, bigEndian: Bool)
    case fixedString(size: Int)
    case variableString
  }

  func dataType(_ at: Int) throws -> DataType {
    let classAndVersion = try byte(at)
    let bits = try byte(at + 1)
    let size = try uint(at + 4, 4)
    switch classAndVersion & 0x0F {
    case 0 where [1, 2, 4, 8].contains(size):
      return .integer(size: size, signed: bits & 0x08 != 0, bigEndian: bits & 0x01 != 0)
    case 1 where size == 4 || size == 8:
      return .float(size: size, bigEndian: bits & 0x01 != 0)
    case 3 where size > 0:
      return .fixedString(size: size)
    case 9 where bits & 0x0F == 1:
      return .variableString
    default:
      throw corrupt(
        "holds an HDF5 datatype of class \(classAndVersion & 0x0F) and size \(size), which Strata does not read"
      )
    }
  }

  /// The dimensions of the dataspace message at `at`.
  func dataSpace(_ at: Int) throws -> [Int] {
    let version = try byte(at)
    let rank = try byte(at + 1)
    guard (1...2).contains(version), rank <= 8 else {
      throw corrupt("has an HDF5 dataspace of version \(version) and rank \(rank)")
    }
    if version == 2, try byte(at + 3) == 2 { return [0] }  // the null dataspace holds nothing
    let first = at + (version == 1 ? 8 : 4)
    return try (0..<rank).map { try uint(first + $0 * lengthSize, lengthSize) }
  }

  /// The raw bits of the `index`-th element of `type` at `at`, in the machine's order, and the
  /// element's size in bytes. The caller has checked that the elements lie inside the file.
  func rawBits(_ type: DataType, at: Int, index: Int) -> UInt64 {
    let size: Int
    let bigEndian: Bool
    switch type {
    case .float(let s, let big), .integer(let s, _, let big): (size, bigEndian) = (s, big)
    default: return 0
    }
    let start = at + index * size
    var raw: UInt64 = 0
    for i in 0..<size {
      let byte = UInt64(bytes[start + i])
      if bigEndian { raw = raw << 8 | byte } else { raw |= byte << (8 * UInt64(i)) }
    }
    return raw
  }

  /// Checks that `count` elements of the numeric `type` at `at` lie inside the file.
  func checkNumbers(_ type: DataType, at: Int, count: Int) throws {
    let size: Int
    switch type {
    case .float(let s, _), .integer(let s, _, _): size = s
    default: throw corrupt("holds a dataset that is not numeric")
    }
    guard at >= 0, count <= (bytes.count - at) / size else {
      throw corrupt("holds a dataset past its end")
    }
  }

  /// The element of numeric `type` whose bits are `raw`, as Float.
  func number(_ type: DataType, _ raw: UInt64) -> Float {
    switch type {
    case .float(4, _): return Float(bitPattern: UInt32(truncatingIfNeeded: raw))
    case .float: return Float(Double(bitPattern: raw))
    case .integer(let size, true, _): return Float(signExtended(raw, size: size))
    default: return Float(raw)
    }
  }

  /// A signed integer of `size` bytes, widened to 64 bits.
  func signExtended(_ raw: UInt64, size: Int) -> Int64 {
    let shift = UInt64(64 - 8 * size)
    return Int64(bitPattern: raw << shift) >> Int64(shift)
  }

  // MARK: Datasets

  /// The shape, type and data position of the dataset `object`.
  func dataset(_ object: String) throws -> (shape: [Int], type: DataType, data: Int) {
    guard let header = try resolve(object) else {
      throw corrupt("has no dataset at '\(object.prefix(200))'")
    }
    let found = try messages(at: header)
    guard let space = found.first(where: { $0.type == 0x01 }),
      let type = found.first(where: { $0.type == 0x03 }),
      let layout = found.first(where: { $0.type == 0x08 })
    else {
      throw corrupt("has no dataset at '\(object.prefix(200))' (a group, or a malformed header)")
    }
    guard !found.contains(where: { $0.type == 0x0B }) else {
      throw corrupt(
        "has a filtered (compressed) dataset at '\(object.prefix(200))', which Strata does not read"
      )
    }
    let shape = try dataSpace(space.start)
    let dataType = try dataType(type.start)
    let count: Int
    do { count = try elementCount(of: shape, owner: "dataset '\(object.prefix(200))'") } catch {
      throw corrupt("has a dataset of impossible shape \(shape) at '\(object.prefix(200))'")
    }
    let version = try byte(layout.start)
    var dataStart: Int
    var stored: Int
    switch version {
    case 3:
      switch try byte(layout.start + 1) {
      case 0:
        stored = try uint(layout.start + 2, 2)
        dataStart = layout.start + 4
      case 1:
        dataStart = try address(layout.start + 2)
        stored = try uint(layout.start + 2 + offsetSize, lengthSize)
      default:
        throw corrupt(
          "has a chunked dataset at '\(object.prefix(200))', which Strata does not read")
      }
    default:
      throw corrupt("has an HDF5 data layout of version \(version) at '\(object.prefix(200))'")
    }
    let size: Int
    switch dataType {
    case .float(let s, _), .integer(let s, _, _): size = s
    default: throw corrupt("has a dataset at '\(object.prefix(200))' that is not numeric")
    }
    guard dataStart >= 0 || count == 0 else {
      throw corrupt("has a dataset at '\(object.prefix(200))' without data")
    }
    guard stored == count * size, dataStart <= bytes.count - stored || count == 0 else {
      throw corrupt(
        "has a dataset at '\(object.prefix(200))' of \(stored) bytes; its shape \(shape) needs \(count * size)"
      )
    }
    return (shape, dataType, dataStart)
  }

  /// Reads the numeric dataset `object` as Float32.
  ///
  /// Decoded straight into the tensor (the file's bytes and the tensor are the only copies).
  func readTensor(_ object: String) throws -> Tensor {
    let (shape, type, start) = try dataset(object)
    var tensor = try Tensor(checkedShape: shape, owner: "dataset '\(object.prefix(200))'")
    try checkNumbers(type, at: start, count: tensor.count)
    var finite = true
    tensor.withUnsafeMutableBufferPointer { values in
      for index in values.indices {
        let value = number(type, rawBits(type, at: start, index: index))
        finite = finite && value.isFinite
        values[index] = value
      }
    }
    guard finite else {
      throw corrupt("has a dataset holding NaN or infinite values at '\(object.prefix(200))'")
    }
    return tensor
  }

  /// Reads the scalar integer dataset `object`.
  ///
  /// Read as an integer, never through a float: every value of its type is exact, and an unsigned
  /// value above `Int64.max` is an error.
  func readInteger(_ object: String) throws -> Int64 {
    let (shape, type, start) = try dataset(object)
    guard shape.reduce(1, *) == 1, case .integer(let size, let signed, _) = type else {
      throw corrupt("has a dataset at '\(object.prefix(200))' that is not one integer")
    }
    try checkNumbers(type, at: start, count: 1)
    let raw = rawBits(type, at: start, index: 0)
    if signed { return signExtended(raw, size: size) }
    guard raw <= UInt64(Int64.max) else {
      throw corrupt(
        "has an integer at '\(object.prefix(200))' of \(raw), beyond a signed 64-bit one")
    }
    return Int64(raw)
  }
}
