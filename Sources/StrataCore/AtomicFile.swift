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
  ///
  /// A target that is a symbolic link is written through (its destination is replaced, the link
  /// stays); a target that exists keeps its permission bits; temporary files left by writers that were
  /// killed (their process is gone) are removed first.
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and the system's reason.
  public static func write(_ data: Data, to url: URL) throws {
    let url = url.resolvingSymlinksInPath()
    let directory = url.deletingLastPathComponent()
    removeStaleTemporaries(of: url)
    let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
    let path = url.path
    func failure(_ what: String) -> StrataError {
      .file(path: path, reason: "cannot be written: \(what) (\(String(cString: strerror(errno))))")
    }
    var existing = stat()
    let mode: mode_t = stat(path, &existing) == 0 ? existing.st_mode & 0o7777 : 0o644
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else { throw failure("creating \(temporary.lastPathComponent)") }
    var closed = false
    defer {
      if !closed { close(fd) }
    }
    do {
      // open() applies the umask; an existing file's own mode is what it keeps.
      if existing.st_mode != 0 { fchmod(fd, mode) }
      let pause = ProcessInfo.processInfo.environment[pauseEnvironmentKey].flatMap(Int.init)
      try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < bytes.count {
          var chunk = bytes.count - offset
          if let pause, offset == 0, bytes.count > 1 { chunk = bytes.count / 2 }
          let written = Glibc.write(fd, bytes.baseAddress! + offset, chunk)
          if written < 0 && errno == EINTR { continue }
          guard written > 0 else { throw failure("writing") }
          offset += written
          if let pause, offset == bytes.count / 2 {
            // Testing aid only: half the file is written, then the writer waits to be killed.
            fsync(fd)
            usleep(useconds_t(max(0, min(pause, 60_000)) * 1000))
          }
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

  /// Removes the temporary files (`.NAME.PID.RANDOM.tmp`) that writers of `url` left when they were
  /// killed: those whose process no longer runs. Returns how many were removed.
  @discardableResult
  public static func removeStaleTemporaries(of url: URL) -> Int {
    let directory = url.deletingLastPathComponent()
    let prefix = ".\(url.lastPathComponent)."
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return 0 }
    var removed = 0
    for name in names where name.hasPrefix(prefix) && name.hasSuffix(".tmp") {
      let parts = name.dropFirst(prefix.count).dropLast(4).split(separator: ".")
      guard parts.count == 2, let pid = Int32(parts[0]), UInt32(parts[1]) != nil else { continue }
      // kill(pid, 0) fails with ESRCH when no such process exists; the writer is gone.
      guard pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
      if unlink(directory.appendingPathComponent(name).path) == 0 { removed += 1 }
    }
    return removed
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
