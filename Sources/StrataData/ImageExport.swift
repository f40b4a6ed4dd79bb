import CStrataImages
import Foundation
import StrataCore
import Synchronization

extension ImageFolder {
  /// Writes 8-bit images as PNG (or JPEG) files in class folders: `directory/<class>/<index>.png`, the index
  /// zero-padded, gray for one channel and RGB for three. Each file is written to a temporary name and
  /// renamed, so a folder never holds half an image. Returns the number of files written.
  /// - Parameters:
  ///   - pixels: `count x height x width x channels` samples, row-major.
  ///   - labels: each image's class index into `classNames`.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` for inconsistent
  ///   arguments; ``StrataError/file(path:reason:)`` naming a file that cannot be written.
  ///   - jpegQuality: writes JPEG files of this quality (1 to 100) instead of PNG.
  @discardableResult
  public static func export(
    pixels: [UInt8], shape: [Int], labels: [Int], classNames: [String], to directory: URL,
    jpegQuality: Int? = nil
  ) throws -> Int {
    if let jpegQuality, !(1...100).contains(jpegQuality) {
      throw StrataError.invalidArgument(
        owner: "ImageFolder.export", argument: "jpegQuality", value: "\(jpegQuality)",
        expected: "1 to 100")
    }
    let fileExtension = jpegQuality == nil ? "png" : "jpg"
    guard shape.count == 4, [1, 3].contains(shape[3]), shape.allSatisfy({ $0 > 0 }),
      (try? elementCount(of: shape, owner: "ImageFolder.export")) == pixels.count
    else {
      throw StrataError.invalidArgument(
        owner: "ImageFolder.export", argument: "shape", value: "\(shape)",
        expected: "[count, height, width, 1 or 3] matching the \(pixels.count) pixels given")
    }
    let (count, height, width, channels) = (shape[0], shape[1], shape[2], shape[3])
    try checkArgument(
      labels.count == count && labels.allSatisfy({ classNames.indices.contains($0) }),
      owner: "ImageFolder.export", argument: "labels", value: "\(labels.count) labels",
      expected: "one class index below \(classNames.count) per image (\(count))")
    // Folder names: a class name's "/" ("T-shirt/top") would open a subdirectory.
    let folders = classNames.map { $0.replacingOccurrences(of: "/", with: "-") }
    for folder in folders {
      try FileManager.default.createDirectory(
        at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
    }
    let digits = String(count - 1).count
    let size = height * width * channels
    let failure = Mutex<StrataError?>(nil)
    pixels.withUnsafeBufferPointer { all in
      let base = UncheckedBytes(all.baseAddress!)
      DispatchQueue.concurrentPerform(iterations: count) { index in
        guard failure.withLock({ $0 == nil }) else { return }
        let name = String(repeating: "0", count: digits - String(index).count) + String(index)
        let url = directory.appendingPathComponent(folders[labels[index]])
          .appendingPathComponent("\(name).\(fileExtension)")
        let temporary = url.deletingLastPathComponent().appendingPathComponent(
          ".\(name).\(fileExtension).tmp")
        var message = [CChar](repeating: 0, count: 256)
        let status =
          jpegQuality.map {
            strata_encode_jpeg(
              temporary.path, base.pointer + index * size, Int32(width), Int32(height),
              Int32(channels), Int32($0), &message, message.count)
          }
          ?? strata_encode_png(
            temporary.path, base.pointer + index * size, Int32(width), Int32(height),
            Int32(channels), &message, message.count)
        if status != 0 || rename(temporary.path, url.path) != 0 {
          let text = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
          let reason =
            status != 0
            ? String(decoding: text, as: UTF8.self)
            : "cannot be renamed into place (\(String(cString: strerror(errno))))"
          failure.withLock { $0 = $0 ?? .file(path: url.path, reason: reason) }
        }
      }
    }
    if let error = failure.withLock({ $0 }) { throw error }
    return count
  }
}

extension FashionMNIST {
  /// Writes Fashion-MNIST's 70,000 images as PNG class folders, `train/` and `test/`, one folder per
  /// class (`T-shirt-top`, `Trouser`, …): a real image-folder dataset on any machine with Debian's
  /// `dataset-fashion-mnist`. Returns the number of files written.
  @discardableResult
  public static func exportImages(from data: URL = defaultDirectory, to directory: URL) throws
    -> Int
  {
    let (train, test) = try load(from: data)
    var written = 0
    for (subset, part) in [("train", train), ("test", test)] {
      let shape = part.images.shape
      written += try ImageFolder.export(
        pixels: part.images.bytes, shape: [shape[0], shape[1], shape[2], 1],
        labels: part.labels.map(Int.init), classNames: classNames,
        to: directory.appendingPathComponent(subset))
    }
    return written
  }
}

/// The pixels handed to the encoding threads, each reading its own image.
private struct UncheckedBytes: @unchecked Sendable {
  let pointer: UnsafePointer<UInt8>
  init(_ pointer: UnsafePointer<UInt8>) { self.pointer = pointer }
}
