import CZlib
import Foundation
import StrataCore

/// An array read from an IDX file, the format of MNIST and Fashion-MNIST: unsigned bytes and a shape.
///
/// The format: two zero bytes, a type byte (`0x08` for unsigned bytes, the only type these data sets
/// use), the number of dimensions, each dimension as a big-endian 32-bit integer, then the data.
public struct IDXArray: Sendable, Equatable {
  /// The array's dimensions.
  public let shape: [Int]
  /// The elements, row-major.
  public let bytes: [UInt8]

  /// An array of `shape` holding `bytes`.
  public init(shape: [Int], bytes: [UInt8]) {
    self.shape = shape
    self.bytes = bytes
  }

  /// Reads an IDX file, raw or gzipped (recognized by its first bytes, whatever its name).
  /// - Throws: ``StrataError/file(path:reason:)`` for a missing file, a bad magic number, a type other
  ///   than unsigned bytes, or a length that does not match the dimensions.
  public init(contentsOf url: URL) throws {
    let path = url.path
    var data = [UInt8](try readUntrustedFile(url, kind: "an IDX file"))
    if data.count >= 2 && data[0] == 0x1F && data[1] == 0x8B {
      // Inflated no further than the size its own header gives (a gzip bomb stops there).
      data = try gunzip(data, path: path, size: Self.fileSize)
    }
    try self.init(idx: data, path: path)
  }

  /// The size of the IDX file whose first bytes are `prefix`, once they hold its header (`nil`
  /// before); the header's own errors are left to ``init(idx:path:)``, so a bad one gives its size.
  static func fileSize(_ prefix: [UInt8]) -> Int? {
    guard prefix.count >= 4 else { return nil }
    let rank = Int(prefix[3])
    guard prefix.count >= 4 + 4 * rank else { return nil }
    let shape = (0..<rank).map { axis in
      prefix[(4 + 4 * axis)..<(8 + 4 * axis)].reduce(0) { $0 << 8 | Int($1) }
    }
    guard prefix[0] == 0, prefix[1] == 0, prefix[2] == 0x08, rank >= 1,
      let count = try? elementCount(of: shape, owner: "IDX")
    else { return 4 + 4 * rank }
    return 4 + 4 * rank + count
  }

  /// Parses IDX bytes; `path` names the source in errors.
  public init(idx data: [UInt8], path: String = "IDX data") throws {
    guard data.count >= 4, data[0] == 0, data[1] == 0 else {
      throw StrataError.file(path: path, reason: "is not an IDX file (bad magic number)")
    }
    guard data[2] == 0x08 else {
      throw StrataError.file(
        path: path,
        reason:
          "has IDX type 0x\(String(data[2], radix: 16)); only unsigned bytes (0x08) are supported")
    }
    let rank = Int(data[3])
    guard rank >= 1, data.count >= 4 + 4 * rank else {
      throw StrataError.file(path: path, reason: "is truncated in its header (\(rank) dimensions)")
    }
    var shape: [Int] = []
    for axis in 0..<rank {
      let offset = 4 + 4 * axis
      shape.append(data[offset..<(offset + 4)].reduce(0) { $0 << 8 | Int($1) })
    }
    let expected: Int
    do { expected = try elementCount(of: shape, owner: "IDX") } catch {
      throw StrataError.file(path: path, reason: "has impossible dimensions \(shape)")
    }
    let actual = data.count - 4 - 4 * rank
    guard actual == expected else {
      throw StrataError.file(
        path: path,
        reason: "holds \(actual) bytes of data, but its dimensions \(shape) need \(expected)")
    }
    self.shape = shape
    bytes = Array(data[(4 + 4 * rank)...])
  }
}

/// Inflates gzip data with zlib, no further than `size` says: it is asked the size of the whole
/// output from what is inflated so far until it knows (`nil` before), and more output than that, or
/// than `limit`, is an error, so a small file cannot inflate to gigabytes first.
package func gunzip(
  _ input: [UInt8], path: String, limit: Int = 1 << 31, size: ([UInt8]) -> Int? = { _ in nil }
) throws -> [UInt8] {
  var stream = z_stream()
  // 15 + 32: a window of 2^15 and automatic gzip/zlib header detection.
  guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
  else {
    throw StrataError.file(path: path, reason: "cannot be decompressed (zlib failed to start)")
  }
  defer { inflateEnd(&stream) }
  var output = [UInt8]()
  var expected: Int? = nil
  var chunk = [UInt8](repeating: 0, count: 1 << 16)
  var status: Int32 = Z_OK
  try input.withUnsafeBufferPointer { source in
    stream.next_in = UnsafeMutablePointer(mutating: source.baseAddress)
    stream.avail_in = UInt32(source.count)
    repeat {
      try chunk.withUnsafeMutableBufferPointer { buffer in
        stream.next_out = buffer.baseAddress
        stream.avail_out = UInt32(buffer.count)
        status = inflate(&stream, Z_NO_FLUSH)
        guard status == Z_OK || status == Z_STREAM_END else {
          throw StrataError.file(
            path: path, reason: "is a corrupt gzip file (zlib error \(status))")
        }
        let produced = buffer.count - Int(stream.avail_out)
        let bound = min(expected ?? limit, limit)
        guard produced <= bound - output.count else {
          throw StrataError.file(
            path: path,
            reason: expected.map { "decompresses to more than the \($0) bytes its header gives" }
              ?? "decompresses to more than \(limit) bytes")
        }
        output.append(contentsOf: buffer[0..<produced])
      }
      if expected == nil, let known = size(output) {
        expected = known
        output.reserveCapacity(min(known, limit))
      }
      if status != Z_STREAM_END && stream.avail_in == 0 && stream.avail_out != 0 {
        throw StrataError.file(path: path, reason: "is a truncated gzip file")
      }
    } while status != Z_STREAM_END
  }
  return output
}
