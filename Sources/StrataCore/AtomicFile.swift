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
  /// What the path names decides how:
  /// - a regular file, or nothing yet: a temporary file beside it, renamed over it. A file that exists
  ///   keeps its permission bits; temporary files left by writers that were killed (their process is
  ///   gone) are removed first.
  /// - a symbolic link (even a dangling one): written through, as above, at the file it ends at; the
  ///   link stays a link.
  /// - a character device or a FIFO (`/dev/stdout`, `/dev/null`, a named pipe): written through in
  ///   place, since it cannot be replaced; not atomic, as nothing on such a file can be.
  /// - a directory, a block device or a socket: refused by name, never replaced.
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and the system's reason.
  public static func write(_ data: Data, to url: URL) throws {
    let target = try destination(of: url.path)
    if let special = target.special {
      guard special.writable else {
        throw StrataError.file(
          path: target.path, reason: "is \(special.name); Strata writes regular files only")
      }
      return try writeInPlace(data, to: target.path)
    }
    try replace(target.path, with: data)
  }

  /// What a path ends at: a path to write through to, and the kind of special file it is, if any.
  private struct Destination {
    let path: String
    let special: (name: String, writable: Bool)?
  }

  /// Follows symbolic links from `path`, dangling ones included (at most 40, as the kernel does), to
  /// the path a write should reach.
  private static func destination(of path: String) throws -> Destination {
    var current = path
    for _ in 0..<40 {
      var status = stat()
      // stat follows every link, /proc's magic ones (/dev/stdout → a pipe) included.
      if stat(current, &status) == 0 {
        switch status.st_mode & S_IFMT {
        case S_IFREG:
          return Destination(path: realPath(current) ?? current, special: nil)
        case S_IFCHR: return Destination(path: current, special: ("a character device", true))
        case S_IFIFO: return Destination(path: current, special: ("a FIFO (named pipe)", true))
        case S_IFDIR: return Destination(path: current, special: ("a directory", false))
        case S_IFBLK: return Destination(path: current, special: ("a block device", false))
        default: return Destination(path: current, special: ("a socket", false))
        }
      }
      // Nothing at the end of the chain: a dangling link is followed by hand, a plain path is new.
      guard lstat(current, &status) == 0, status.st_mode & S_IFMT == S_IFLNK else {
        return Destination(path: current, special: nil)
      }
      var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
      let length = readlink(current, &buffer, buffer.count - 1)
      guard length > 0 else { return Destination(path: current, special: nil) }
      let link = String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
      current =
        link.hasPrefix("/")
        ? link
        : URL(fileURLWithPath: current).deletingLastPathComponent().appendingPathComponent(link)
          .path
    }
    throw StrataError.file(
      path: path, reason: "cannot be written: too many levels of symbolic links")
  }

  private static func realPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  private static func failure(_ path: String, _ what: String) -> StrataError {
    .file(path: path, reason: "cannot be written: \(what) (\(String(cString: strerror(errno))))")
  }

  /// Writes all of `bytes` to `fd`; with `pausing`, stops halfway at a ``CrashTestHook`` point.
  private static func writeAll(
    _ data: Data, to fd: Int32, path: String, pausing: Bool = false, point: String = ""
  ) throws {
    try data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
      guard let base = bytes.baseAddress else { return }
      var offset = 0
      while offset < bytes.count {
        var chunk = bytes.count - offset
        if pausing, offset == 0, bytes.count > 1 { chunk = bytes.count / 2 }
        let written = Glibc.write(fd, base + offset, chunk)
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { throw failure(path, "writing") }
        offset += written
        if pausing, offset == bytes.count / 2 {
          // Half the temporary file is on disk: a crash test may kill the process here.
          fsync(fd)
          CrashTestHook.point(point)
        }
      }
    }
  }

  /// Writes to a device or FIFO as it is: opened for writing, never created, replaced or truncated.
  private static func writeInPlace(_ data: Data, to path: String) throws {
    let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
    guard fd >= 0 else { throw failure(path, "opening") }
    defer { close(fd) }
    try writeAll(data, to: fd, path: path)
  }

  /// Writes a temporary file beside `path`, flushes it and renames it over `path`.
  private static func replace(_ path: String, with data: Data) throws {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent()
    removeStaleTemporaries(of: url)
    let temporary = directory.appendingPathComponent(
      ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
    var existing = stat()
    let mode: mode_t = stat(path, &existing) == 0 ? existing.st_mode & 0o7777 : 0o644
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else { throw failure(path, "creating \(temporary.lastPathComponent)") }
    var closed = false
    defer {
      if !closed { close(fd) }
    }
    do {
      // open() applies the umask; an existing file's own mode is what it keeps.
      if existing.st_mode != 0 { fchmod(fd, mode) }
      try writeAll(
        data, to: fd, path: path, pausing: CrashTestHook.isArmed,
        point: "writing \(url.lastPathComponent)")
      guard fsync(fd) == 0 else { throw failure(path, "flushing") }
      closed = true
      guard close(fd) == 0 else { throw failure(path, "closing") }
      guard rename(temporary.path, path) == 0 else { throw failure(path, "renaming into place") }
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

/// Testing aid for crash tests, visible inside the package only (not public API): numbered points
/// where a process can be made to wait to be killed.
///
/// Every atomic write (halfway through its temporary file) and every deletion of a backup is a point.
/// With `STRATA_TEST_PAUSE_AT=N` and `STRATA_TEST_PAUSE_MARKER=PATH` in the environment, the process
/// writes PATH at the N-th point (counted from 1) and then sleeps until it is killed, so a test can
/// kill it at exactly that moment without guessing at timings. Without both variables, nothing happens.
package enum CrashTestHook {
  /// The environment variable naming the point to pause at (1 for the first).
  package static let pauseAtKey = "STRATA_TEST_PAUSE_AT"
  /// The environment variable naming the file written when the pause begins.
  package static let markerKey = "STRATA_TEST_PAUSE_MARKER"
  private static let counter = Mutex(0)

  /// Whether a pause is asked for in this process.
  package static var isArmed: Bool { getenv(pauseAtKey) != nil && getenv(markerKey) != nil }

  /// Counts a point; at the chosen one, writes the marker (naming `what`) and waits to be killed.
  package static func point(_ what: String) {
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
