import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a file that may be hostile: it must be a regular file (a FIFO would block, a directory is no
/// file) of at most ``Limits/maximumFileBytes`` bytes, and when `magic` is given, start with it;
/// only then is it read whole, into one buffer.
/// - Throws: ``StrataError/file(path:reason:)`` naming the file and what is wrong.
public func readUntrustedFile(_ url: URL, magic: [UInt8]? = nil, kind: String) throws -> Data {
  let file = try UntrustedFile(url, kind: kind)
  if let magic {
    let start = try file.read(at: 0, count: min(magic.count, file.size))
    guard start == magic else {
      throw StrataError.file(
        path: file.path,
        reason: start.count < magic.count
          ? "is too short to be \(kind) (\(start.count) bytes)"
          : "is not \(kind) (bad magic number)")
    }
  }
  return try file.data()
}

/// An open file that may be hostile, read in pieces: a header first, then the data straight into
/// the memory that keeps it, so a large file is never copied whole on the way.
public final class UntrustedFile {
  /// The file's path, for errors.
  public let path: String
  /// Its size in bytes, checked against ``Limits/maximumFileBytes``.
  public let size: Int
  private let descriptor: Int32

  /// Opens `url`, a regular file of at most ``Limits/maximumFileBytes`` bytes; `kind` names what it
  /// should be in errors ("a NumPy .npy file").
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and what is wrong.
  public init(_ url: URL, kind: String) throws {
    path = url.path
    let path = self.path
    func failure() -> StrataError {
      .file(
        path: path,
        reason: errno == ENOENT
          ? "no such file" : "cannot be read (\(String(cString: strerror(errno))))")
    }
    // O_NONBLOCK: opening a FIFO does not wait for a writer; it is refused below.
    let descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard descriptor >= 0 else { throw failure() }
    var status = stat()
    guard fstat(descriptor, &status) == 0 else {
      close(descriptor)
      throw failure()
    }
    guard (status.st_mode & S_IFMT) == S_IFREG else {
      close(descriptor)
      let what = (status.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
      throw StrataError.file(path: path, reason: "is \(what), not \(kind)")
    }
    guard Int(status.st_size) <= Limits.maximumFileBytes else {
      close(descriptor)
      throw StrataError.file(
        path: path,
        reason: "is \(status.st_size) bytes, more than the \(Limits.maximumFileBytes) Strata reads")
    }
    self.descriptor = descriptor
    size = Int(status.st_size)
  }

  deinit { close(descriptor) }

  /// Fills `buffer` with the bytes from `offset` on.
  /// - Throws: ``StrataError/file(path:reason:)`` when the file ends first or cannot be read.
  public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws {
    guard let base = buffer.baseAddress else { return }
    var done = 0
    while done < buffer.count {
      let got = pread(
        descriptor, base + done, min(buffer.count - done, 1 << 30), off_t(offset + done))
      if got < 0 && errno == EINTR { continue }
      guard got >= 0 else {
        throw StrataError.file(
          path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
      }
      guard got > 0 else {
        throw StrataError.file(path: path, reason: "ended while being read (truncated meanwhile?)")
      }
      done += got
    }
  }

  /// The whole file.
  public func data() throws -> Data {
    var data = Data(count: size)
    try data.withUnsafeMutableBytes { try read(into: $0, at: 0) }
    return data
  }

  /// `count` bytes from `offset` on.
  public func read(at offset: Int, count: Int) throws -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count)
    try bytes.withUnsafeMutableBytes { try read(into: $0, at: offset) }
    return bytes
  }
}
