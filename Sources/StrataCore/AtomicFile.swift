import Foundation
import Synchronization

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
    let temporary = directory.appendingPathComponent(
      ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
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
      let pausing = CrashTestHook.isArmed
      try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
        var offset = 0
        while offset < bytes.count {
          var chunk = bytes.count - offset
          if pausing, offset == 0, bytes.count > 1 { chunk = bytes.count / 2 }
          let written = Glibc.write(fd, bytes.baseAddress! + offset, chunk)
          if written < 0 && errno == EINTR { continue }
          guard written > 0 else { throw failure("writing") }
          offset += written
          if pausing, offset == bytes.count / 2 {
            // Half the temporary file is on disk: a crash test may kill the process here.
            fsync(fd)
            CrashTestHook.point("writing \(url.lastPathComponent)")
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
  @discardableResult public static func removeStaleTemporaries(of url: URL) -> Int {
    let directory = url.deletingLastPathComponent()
    let prefix = ".\(url.lastPathComponent)."
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else {
      return 0
    }
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

/// Testing aid for crash tests: numbered points where a process can be made to wait to be killed.
///
/// Every atomic write (halfway through its temporary file) and every deletion of a backup is a point.
/// With `STRATA_TEST_PAUSE_AT=N` and `STRATA_TEST_PAUSE_MARKER=PATH` in the environment, the process
/// writes PATH at the N-th point (counted from 1) and then sleeps until it is killed, so a test can
/// kill it at exactly that moment without guessing at timings. Without both variables, nothing happens.
public enum CrashTestHook {
  /// The environment variable naming the point to pause at (1 for the first).
  public static let pauseAtKey = "STRATA_TEST_PAUSE_AT"
  /// The environment variable naming the file written when the pause begins.
  public static let markerKey = "STRATA_TEST_PAUSE_MARKER"
  private static let counter = Mutex(0)

  /// Whether a pause is asked for in this process.
  public static var isArmed: Bool { getenv(pauseAtKey) != nil && getenv(markerKey) != nil }

  /// Counts a point; at the chosen one, writes the marker (naming `what`) and waits to be killed.
  public static func point(_ what: String) {
    guard isArmed, let target = Int(String(cString: getenv(pauseAtKey))) else { return }
    let reached = counter.withLock { count -> Bool in
      count += 1
      return count == target
    }
    guard reached else { return }
    let marker = String(cString: getenv(markerKey))
    _ = FileManager.default.createFile(atPath: marker, contents: Data(what.utf8))
    sleep(600)
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
