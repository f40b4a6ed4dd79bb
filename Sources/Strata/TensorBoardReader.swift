import Foundation
import StrataCore

/// Reads TensorBoard event files (what ``TensorBoard`` writes, and TensorFlow's scalar summaries):
/// every record's two checksums are checked, every length bounded by the file.
public enum TensorBoardReader {
  /// One record of an event file.
  public struct Event: Equatable, Sendable {
    /// Seconds since 1970.
    public var wallTime: Double
    /// The step (0 when the record has none).
    public var step: Int
    /// `"brain.Event:2"` for the first record, else `nil`.
    public var fileVersion: String?
    /// The scalars of a summary record: tag and value (`tensor` float or `simple_value`).
    public var scalars: [(tag: String, value: Float)]

    /// Compares every field.
    public static func == (a: Event, b: Event) -> Bool {
      a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion
        && a.scalars.map(\.tag) == b.scalars.map(\.tag)
        && a.scalars.map(\.value) == b.scalars.map(\.value)
    }
  }

  /// The events of the file at `url`.
  /// - Throws: `StrataError.file` for a truncated record, a checksum that does not match, or a
  ///   malformed message.
  public static func events(in url: URL) throws -> [Event] {
    let bytes = Array(try readUntrustedFile(url, kind: "a TensorBoard event file"))
    func corrupt(_ reason: String) -> StrataError { .file(path: url.path, reason: reason) }
    var events: [Event] = []
    var offset = 0
    while offset < bytes.count {
      guard bytes.count - offset >= 12 else { throw corrupt("ends inside a record header") }
      let header = Array(bytes[offset..<(offset + 8)])
      let length = header.enumerated().reduce(UInt64(0)) {
        $0 | UInt64($1.element) << ($1.offset * 8)
      }
      guard littleEndianUInt32(bytes, offset + 8) == EventCoding.maskedCRC(header) else {
        throw corrupt("has a record length whose checksum does not match at byte \(offset)")
      }
      guard length <= UInt64(bytes.count - offset - 16) else {
        throw corrupt("has a record of \(length) bytes past its end at byte \(offset)")
      }
      let start = offset + 12, end = start + Int(length)
      let data = Array(bytes[start..<end])
      guard littleEndianUInt32(bytes, end) == EventCoding.maskedCRC(data) else {
        throw corrupt("has a record whose checksum does not match at byte \(offset)")
      }
      events.append(try event(data, corrupt: corrupt))
      offset = end + 4
    }
    return events
  }

  /// The events of every file whose name contains `tfevents` in `directory` (a run), in name order.
  public static func events(inRun directory: URL) throws -> [Event] {
    let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
      .filter { $0.contains("tfevents") }.sorted()
    return try names.flatMap { try events(in: directory.appendingPathComponent($0)) }
  }

  /// Each scalar tag's (step, value) pairs in a run, in write order: what TensorBoard plots.
  public static func scalars(inRun directory: URL) throws -> [String: [(step: Int, value: Float)]] {
    var result: [String: [(step: Int, value: Float)]] = [:]
    for event in try events(inRun: directory) {
      for scalar in event.scalars {
        result[scalar.tag, default: []].append((event.step, scalar.value))
      }
    }
    return result
  }

  private static func littleEndianUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[offset + $1]) << ($1 * 8) }
  }

  /// The fields of a protocol-buffer message: number, wire type, and the varint/fixed value or bytes.
  private struct Field {
    var number: Int
    var integer: UInt64 = 0
    var bytes: ArraySlice<UInt8> = []
  }

  private static func fields(_ data: ArraySlice<UInt8>, corrupt: (String) -> StrataError) throws
    -> [Field]
  {
    var fields: [Field] = []
    var i = data.startIndex
    func varint() throws -> UInt64 {
      var value: UInt64 = 0
      var shift: UInt64 = 0
      while true {
        guard i < data.endIndex, shift < 64 else { throw corrupt("has a malformed varint") }
        let byte = data[i]
        i += 1
        value |= UInt64(byte & 0x7F) << shift
        if byte & 0x80 == 0 { return value }
        shift += 7
      }
    }
    while i < data.endIndex {
      let key = try varint()
      var field = Field(number: Int(key >> 3))
      switch key & 7 {
      case 0: field.integer = try varint()
      case 1, 5:
        let size = key & 7 == 1 ? 8 : 4
        guard data.endIndex - i >= size else { throw corrupt("has a truncated fixed field") }
        field.integer = (0..<size).reduce(UInt64(0)) { $0 | UInt64(data[i + $1]) << ($1 * 8) }
        i += size
      case 2:
        let length = try varint()
        guard length <= UInt64(data.endIndex - i) else {
          throw corrupt("has a field longer than its message")
        }
        field.bytes = data[i..<(i + Int(length))]
        i += Int(length)
      default: throw corrupt("has a field of unknown wire type \(key & 7)")
      }
      fields.append(field)
    }
    return fields
  }

  private static func event(_ data: [UInt8], corrupt: (String) -> StrataError) throws -> Event {
    var event = Event(wallTime: 0, step: 0, fileVersion: nil, scalars: [])
    for field in try fields(data[...], corrupt: corrupt) {
      switch field.number {
      case 1: event.wallTime = Double(bitPattern: field.integer)
      case 2: event.step = Int(truncatingIfNeeded: field.integer)
      case 3: event.fileVersion = String(decoding: field.bytes, as: UTF8.self)
      case 5:
        for value in try fields(field.bytes, corrupt: corrupt) where value.number == 1 {
          var tag = ""
          var number: Float?
          for part in try fields(value.bytes, corrupt: corrupt) {
            switch part.number {
            case 1: tag = String(decoding: part.bytes, as: UTF8.self)
            case 2: number = Float(bitPattern: UInt32(truncatingIfNeeded: part.integer))
            case 8:
              for t in try fields(part.bytes, corrupt: corrupt) where t.number == 4 {
                guard t.bytes.count == 4 else { continue }
                let bits = t.bytes.enumerated().reduce(UInt32(0)) {
                  $0 | UInt32($1.element) << ($1.offset * 8)
                }
                number = Float(bitPattern: bits)
              }
            default: break
            }
          }
          if let number { event.scalars.append((tag, number)) }
        }
      default: break
      }
    }
    return event
  }
}
