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

  /// Reads the `.npy` file at `url` as a `Tensor`: the header first, then the data in pieces
  /// straight into the tensor, so the file is never held in memory beside it.
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and what is wrong with it.
  public static func read(_ url: URL) throws -> Tensor {
    let file = try UntrustedFile(url, kind: "a NumPy .npy file")
    let header = try Header(
      file.read(at: 0, count: min(file.size, 12 + maximumHeaderBytes)), path: file.path)
    try header.checkDataBytes(file.size - header.dataStart, path: file.path)
    var tensor = try header.allocate(path: file.path)
    if header.type == .float32 {
      // The bytes are the floats (little-endian, as this machine): read in place.
      try tensor.withUnsafeMutableBufferPointer {
        try file.read(into: UnsafeMutableRawBufferPointer($0), at: header.dataStart)
      }
      return tensor
    }
    let chunk = (1 << 20) / header.type.size
    var buffer = [UInt8](repeating: 0, count: chunk * header.type.size)
    var done = 0
    while done < header.count {
      let n = min(chunk, header.count - done)
      try buffer.withUnsafeMutableBytes { raw in
        let piece = UnsafeMutableRawBufferPointer(rebasing: raw[0..<(n * header.type.size)])
        try file.read(into: piece, at: header.dataStart + done * header.type.size)
        try tensor.withUnsafeMutableBufferPointer { values in
          try convert(
            UnsafeRawPointer(piece.baseAddress!), count: n, type: header.type,
            into: values.baseAddress! + done, firstIndex: done, path: file.path)
        }
      }
      done += n
    }
    return tensor
  }

  /// Decodes the bytes of a `.npy` file.
  public static func decode(_ data: Data, path: String) throws -> Tensor {
    let bytes = [UInt8](data)
    let header = try Header(bytes, path: path)
    try header.checkDataBytes(bytes.count - header.dataStart, path: path)
    var tensor = try header.allocate(path: path)
    try bytes.withUnsafeBytes { raw in
      try tensor.withUnsafeMutableBufferPointer { values in
        try convert(
          raw.baseAddress! + header.dataStart, count: header.count, type: header.type,
          into: values.baseAddress!, firstIndex: 0, path: path)
      }
    }
    return tensor
  }

  /// What a `.npy` header says: the element type, the shape and where the data starts.
  struct Header {
    let type: ElementType
    let descr: String
    let shape: [Int]
    let count: Int
    let dataStart: Int

    /// Parses the header at the start of `bytes` (the data may follow, or not).
    init(_ bytes: [UInt8], path: String) throws {
      func corrupt(_ reason: String) -> StrataError { .file(path: path, reason: reason) }
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
      let header = String(
        decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
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
      do { count = try elementCount(of: shape, owner: "array in \(path)") } catch {
        throw corrupt("has an impossible .npy shape \(shape)")
      }
      self.type = type
      self.descr = descr
      self.shape = shape
      dataStart = headerStart + headerLength
    }

    /// Checks that the file holds exactly the data bytes the shape needs.
    func checkDataBytes(_ actual: Int, path: String) throws {
      let expected = count * type.size  // count ≤ 2^31, size ≤ 8: no overflow
      guard actual == expected else {
        throw StrataError.file(
          path: path,
          reason: "holds \(actual) bytes of data; shape \(shape) of \(descr) needs \(expected)")
      }
    }

    /// The tensor the data goes into; an allocation the system refuses names the file.
    func allocate(path: String) throws -> Tensor {
      do { return try Tensor(checkedShape: shape, owner: "array in \(path)") } catch {
        throw StrataError.file(
          path: path,
          reason:
            "holds an array of shape \(shape): \(count) floats (\(count / (1 << 20) * 4) MiB) are more memory than this process can have"
        )
      }
    }
  }

  /// Converts `count` little-endian elements of `type` at `raw` to floats. A float64 whose value
  /// is finite but beyond Float32's range is an error naming its index (`firstIndex` counts the
  /// elements before `raw`), not a silent infinity.
  static func convert(
    _ raw: UnsafeRawPointer, count: Int, type: ElementType,
    into values: UnsafeMutablePointer<Float>, firstIndex: Int, path: String
  ) throws {
    for i in 0..<count {
      switch type {
      case .float32:
        values[i] = Float(
          bitPattern: UInt32(
            littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
      case .float64:
        let double = Double(
          bitPattern: UInt64(
            littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
        let value = Float(double)
        if value.isInfinite && double.isFinite {
          throw StrataError.file(
            path: path,
            reason:
              "holds \(double) at element \(firstIndex + i), beyond float32's range (±\(Float.greatestFiniteMagnitude)), which Strata computes in"
          )
        }
        values[i] = value
      case .uint8: values[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self))
      case .int32:
        values[i] = Float(
          Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
      case .int64:
        values[i] = Float(
          Int64(littleEndian: raw.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
      }
    }
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
