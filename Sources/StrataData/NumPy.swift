import Foundation
import StrataCore

/// NumPy's `.npy` arrays, so that any model runs on any data without Swift code
/// (`strata predict MODEL --input x.npy --output y.npy`).
///
/// Read: float32, float64, uint8, int32 and int64 (little-endian, or one byte), C order, format
/// versions 1 to 3; every value becomes a `Float`. Written: float32, version 1.0, as `np.save` does.
/// A file may be hostile: the header is bounded, parsed without evaluation, its shape checked against
/// ``Limits`` and the data length checked to match before anything is allocated.
public enum NumPyArray {
  /// The 6 bytes every `.npy` file starts with.
  static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
  /// The longest header read (NumPy itself writes under 200 bytes and refuses over 10,000).
  static let maximumHeaderBytes = 65_536

  /// The element types read, by NumPy's `descr`.
  enum ElementType: String {
    case float32 = "<f4", float64 = "<f8", uint8 = "|u1", int32 = "<i4", int64 = "<i8"
    var size: Int {
      switch self {
      case .uint8: 1
      case .float32, .int32: 4
      case .float64, .int64: 8
      }
    }
  }

  /// Reads the `.npy` file at `url` as a `Tensor`.
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and what is wrong with it.
  public static func read(_ url: URL) throws -> Tensor {
    try decode(readUntrustedFile(url, magic: magic, kind: "a NumPy .npy file"), path: url.path)
  }

  /// Decodes the bytes of a `.npy` file.
  public static func decode(_ data: Data, path: String) throws -> Tensor {
    func corrupt(_ reason: String) -> StrataError { .file(path: path, reason: reason) }
    let bytes = [UInt8](data)
    guard bytes.count >= 10, Array(bytes.prefix(6)) == magic else {
      throw corrupt("is not a NumPy .npy file (bad magic number)")
    }
    let major = bytes[6]
    let headerLength: Int
    let headerStart: Int
    switch major {
    case 1:
      headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
      headerStart = 10
    case 2, 3:
      guard bytes.count >= 12 else { throw corrupt("is too short for its .npy header") }
      headerLength =
        Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
      headerStart = 12
    default:
      throw corrupt("has .npy format version \(major).\(bytes[7]); Strata reads versions 1 to 3")
    }
    guard headerLength <= maximumHeaderBytes, headerStart + headerLength <= bytes.count else {
      throw corrupt("has a .npy header of \(headerLength) bytes past its end or over the limit")
    }
    let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    let fields = try parseHeader(header, corrupt)
    guard let descr = fields["descr"] else { throw corrupt("has a .npy header without 'descr'") }
    let normalized = descr.replacingOccurrences(of: "=", with: "<")
      .replacingOccurrences(of: "|f", with: "<f").replacingOccurrences(of: "<u1", with: "|u1")
    guard let type = ElementType(rawValue: normalized) else {
      throw corrupt(
        "holds elements of type '\(descr.prefix(40))'; Strata reads float32 (<f4), float64 (<f8), uint8 (|u1), int32 (<i4) and int64 (<i8), little-endian"
      )
    }
    guard fields["fortran_order"] == "False" else {
      throw corrupt(
        "is in Fortran order (fortran_order: \(fields["fortran_order"] ?? "missing")); save it in C order (np.ascontiguousarray)"
      )
    }
    guard let shapeText = fields["shape"] else {
      throw corrupt("has a .npy header without 'shape'")
    }
    let parts = shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
      .filter { !$0.isEmpty }
    let shape = parts.compactMap { Int($0) }
    guard shape.count == parts.count, shape.count <= 8 else {
      throw corrupt("has a .npy shape '(\(shapeText.prefix(80)))' that is not at most 8 integers")
    }
    let count: Int
    do { count = try elementCount(of: shape, owner: "array in \(path)") } catch {
      throw corrupt("has an impossible .npy shape \(shape)")
    }
    let dataStart = headerStart + headerLength
    let expected = count * type.size  // count ≤ 2^31, size ≤ 8: no overflow
    guard bytes.count - dataStart == expected else {
      throw corrupt(
        "holds \(bytes.count - dataStart) bytes of data; shape \(shape) of \(descr) needs \(expected)"
      )
    }
    var tensor = Tensor(shape: shape)
    bytes.withUnsafeBytes { raw in
      let base = raw.baseAddress! + dataStart
      tensor.withUnsafeMutableBufferPointer { values in
        for i in 0..<count {
          switch type {
          case .float32:
            values[i] = Float(
              bitPattern: UInt32(
                littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
          case .float64:
            values[i] = Float(
              Double(
                bitPattern: UInt64(
                  littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
          case .uint8: values[i] = Float(base.load(fromByteOffset: i, as: UInt8.self))
          case .int32:
            values[i] = Float(
              Int32(littleEndian: base.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
          case .int64:
            values[i] = Float(
              Int64(littleEndian: base.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
          }
        }
      }
    }
    return tensor
  }

  /// The `'key': value` fields of a `.npy` header: a Python dict literal of strings, booleans and
  /// one tuple, read without evaluating anything.
  static func parseHeader(_ header: String, _ corrupt: (String) -> StrataError) throws -> [String:
    String]
  {
    let text = header.trimmingCharacters(in: .whitespacesAndNewlines)
    guard text.hasPrefix("{"), text.hasSuffix("}") else {
      throw corrupt("has a .npy header that is not a dictionary: \(text.prefix(80))")
    }
    var fields: [String: String] = [:]
    var rest = Substring(text.dropFirst().dropLast())
    func skipSpace() { rest = rest.drop { $0 == " " || $0 == "," || $0 == "\n" } }
    func quoted() throws -> String {
      guard let quote = rest.first, quote == "'" || quote == "\"" else {
        throw corrupt("has a .npy header with a malformed key near '\(rest.prefix(40))'")
      }
      rest = rest.dropFirst()
      guard let end = rest.firstIndex(of: quote) else {
        throw corrupt("has an unterminated string in its .npy header")
      }
      let value = String(rest[..<end])
      rest = rest[rest.index(after: end)...]
      return value
    }
    skipSpace()
    while !rest.isEmpty {
      let key = try quoted()
      rest = rest.drop { $0 == " " }
      guard rest.first == ":" else {
        throw corrupt("has a .npy header without ':' after '\(key.prefix(40))'")
      }
      rest = rest.dropFirst().drop { $0 == " " }
      if rest.first == "'" || rest.first == "\"" {
        fields[key] = try quoted()
      } else if rest.first == "(" {
        guard let end = rest.firstIndex(of: ")") else {
          throw corrupt("has an unterminated shape in its .npy header")
        }
        fields[key] = String(rest[rest.index(after: rest.startIndex)..<end])
        rest = rest[rest.index(after: end)...]
      } else {
        let end = rest.firstIndex(of: ",") ?? rest.endIndex
        fields[key] = rest[..<end].trimmingCharacters(in: .whitespaces)
        rest = rest[end...]
      }
      guard fields.count <= 16 else { throw corrupt("has a .npy header of too many fields") }
      skipSpace()
    }
    return fields
  }

  /// The bytes of a float32 `.npy` file (format 1.0, C order) holding `tensor`.
  public static func encode(_ tensor: Tensor) -> Data {
    let shape =
      tensor.shape.count == 1
      ? "(\(tensor.shape[0]),)" : "(\(tensor.shape.map(String.init).joined(separator: ", ")))"
    var header = "{'descr': '<f4', 'fortran_order': False, 'shape': \(shape), }"
    // Padded with spaces so the data starts on a 64-byte boundary, ending in a newline.
    let unpadded = magic.count + 4 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
    var data = Data(magic + [1, 0])
    withUnsafeBytes(of: UInt16(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
    data.append(Data(header.utf8))
    data.reserveCapacity(data.count + tensor.count * 4)
    tensor.withUnsafeBufferPointer { values in
      for value in values {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) }
      }
    }
    return data
  }

  /// Writes `tensor` as a float32 `.npy` file, atomically.
  public static func write(_ tensor: Tensor, to url: URL) throws {
    try AtomicFile.write(encode(tensor), to: url)
  }
}
