import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Reads a file that may be hostile: it must be a regular file (a FIFO would block, a directory is no
/// file) of at most ``Limits/maximumFileBytes`` bytes, and when `magic` is given, start with it;
/// only then is it read whole.
/// - Throws: ``StrataError/file(path:reason:)`` naming the file and what is wrong.
public func readUntrustedFile(_ url: URL, magic: [UInt8]? = nil, kind: String) throws -> Data {
  let path = url.path
  var status = stat()
  guard stat(path, &status) == 0 else {
    throw StrataError.file(
      path: path,
      reason: errno == ENOENT
        ? "no such file" : "cannot be read (\(String(cString: strerror(errno))))")
  }
  guard (status.st_mode & S_IFMT) == S_IFREG else {
    let what = (status.st_mode & S_IFMT) == S_IFDIR ? "a directory" : "not a regular file"
    throw StrataError.file(path: path, reason: "is \(what), not \(kind)")
  }
  guard Int(status.st_size) <= Limits.maximumFileBytes else {
    throw StrataError.file(
      path: path,
      reason: "is \(status.st_size) bytes, more than the \(Limits.maximumFileBytes) Strata reads")
  }
  let handle: FileHandle
  do { handle = try FileHandle(forReadingFrom: url) } catch {
    throw StrataError.file(
      path: path, reason: "cannot be read (\(String(cString: strerror(errno))))")
  }
  defer { try? handle.close() }
  do {
    if let magic {
      let start = try handle.read(upToCount: magic.count) ?? Data()
      guard Array(start) == magic else {
        throw StrataError.file(
          path: path,
          reason: start.count < magic.count
            ? "is too short to be \(kind) (\(start.count) bytes)"
            : "is not \(kind) (bad magic number)")
      }
      return start + (try handle.readToEnd() ?? Data())
    }
    return try handle.readToEnd() ?? Data()
  } catch let error as StrataError {
    throw error
  } catch {
    throw StrataError.file(path: path, reason: "cannot be read (\(error.localizedDescription))")
  }
}
