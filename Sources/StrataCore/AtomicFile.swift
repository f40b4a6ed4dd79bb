import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes files so that a crash at any moment leaves either the old file or the new one, never a torn
/// one: the bytes go to a temporary file in the same directory, are flushed to disk (`fsync`), and the
/// temporary file is renamed over the target (atomic on POSIX file systems); the directory is then
/// flushed so the rename itself survives a power cut.
public enum AtomicFile {
  /// Testing aid: when set, the writer pauses this many milliseconds halfway through the temporary
  /// file, so a crash test can kill a process in the middle of a write. Never set it otherwise.
  public static let pauseEnvironmentKey = "STRATA_TEST_PAUSE_MID_WRITE_MS"

  /// Writes `data` to `url` atomically.
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and the system's reason.
  public static func write(_ data: Data, to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
    let path = url.path
    func failure(_ what: String) -> StrataError {
      .file(path: path, reason: "cannot be written: \(what) (\(String(cString: strerror(errno))))")
    }
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw failure("creating \(temporary.lastPathComponent)") }
    var closed = false
    defer {
      if !closed { close(fd) }
    }
    do {
      let pause = ProcessInfo.processInfo.environment[pauseEnvironmentKey].flatMap(Int.init)
      try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < bytes.count {
          if let pause, offset == 0, bytes.count > 1 {
            // Write the first half, then pause (testing aid only).
            let half = bytes.count / 2
            guard Glibc.write(fd, bytes.baseAddress!, half) == half else { throw failure("writing") }
            fsync(fd)
            usleep(useconds_t(pause * 1000))
            offset = half
            continue
          }
          let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
          guard written > 0 else { throw failure("writing") }
          offset += written
        }
      }
      guard fsync(fd) == 0 else { throw failure("flushing") }
      closed = true
      guard close(fd) == 0 else { throw failure("closing") }
      guard rename(temporary.path, path) == 0 else { throw failure("renaming into place") }
    } catch {
      unlink(temporary.path)
      throw error
    }
    let directoryDescriptor = open(directory.path, O_RDONLY | O_CLOEXEC)
    if directoryDescriptor >= 0 {
      fsync(directoryDescriptor)
      close(directoryDescriptor)
    }
  }
}

/// CRC-32 (IEEE 802.3, the one zlib and gzip use) of `bytes`.
public func crc32(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
  var crc = ~initial
  for byte in bytes {
    crc = crc32Table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
  }
  return ~crc
}

private let crc32Table: [UInt32] = (0..<256).map { n -> UInt32 in
  var c = UInt32(n)
  for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
  return c
}
