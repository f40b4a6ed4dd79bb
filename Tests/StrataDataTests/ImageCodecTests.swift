import CStrataImages
import Foundation
import StrataCore
@testable import StrataData
import StrataTesting
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The image codec's refusals, each a message naming what is wrong with the file: decoding what is
/// not a readable regular file, and writing where a file cannot be written.
@Suite struct ImageCodecTests {
  /// The reason `ImageFolder.decode` gives for `url`, or nil when it decodes.
  func decodeError(_ url: URL, channels: Int = 3) -> String? {
    var target = [Float](repeating: 0, count: 4 * 4 * channels)
    do {
      try target.withUnsafeMutableBufferPointer {
        try ImageFolder.decode(url, channels: channels, into: $0, height: 4, width: 4, scale: 1)
      }
      return nil
    } catch StrataError.file(let path, let reason) {
      #expect(path == url.path)
      return reason
    } catch {
      return "\(error)"
    }
  }

  func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "codec-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
  }

  @Test func decodingRefusesWhatIsNotAnImageFile() throws {
    let directory = try temporaryDirectory()
    #expect(decodeError(directory.appendingPathComponent("missing.png")) == "cannot be opened")
    // A FIFO is opened without blocking and refused.
    let fifo = directory.appendingPathComponent("pipe.png")
    #expect(mkfifo(fifo.path, 0o600) == 0)
    #expect(decodeError(fifo) == "is not a regular file")
    // BMP and GIF are recognised and refused by name; anything else is neither PNG nor JPEG.
    let bmp = directory.appendingPathComponent("a.bmp")
    try Data("BM\0\0\0\0\0\0".utf8).write(to: bmp)
    #expect(decodeError(bmp)?.hasPrefix("is a BMP image") == true)
    let gif = directory.appendingPathComponent("a.gif")
    try Data("GIF89a\0\0".utf8).write(to: gif)
    #expect(decodeError(gif)?.hasPrefix("is a GIF image") == true)
    let text = directory.appendingPathComponent("a.png")
    try Data("hello, world".utf8).write(to: text)
    #expect(decodeError(text) == "is neither a PNG nor a JPEG file")
    // A good PNG decodes; asked for 2 channels (neither gray nor RGB) it is refused.
    let good = directory.appendingPathComponent("good.png")
    try pngData(width: 3, height: 2, channels: 3) { x, y in [UInt8(x * 40), UInt8(y * 90), 7] }
      .write(to: good)
    #expect(decodeError(good) == nil)
    #expect(decodeError(good, channels: 2) == "cannot be decoded to 2 channels (1 or 3)")
  }

  @Test func writingNamesTheFileThatCannotBeWritten() throws {
    let pixels = [UInt8](repeating: 128, count: 2 * 3 * 3)
    for (jpegQuality, name, reason) in [
      (nil, "0.png", "cannot be written as PNG"),
      (90, "0.jpg", "cannot be created (Is a directory)"),
    ] as [(Int?, String, String)] {
      let directory = try temporaryDirectory()
      // A directory where the image's temporary file goes.
      try FileManager.default.createDirectory(
        at: directory.appendingPathComponent("a/.\(name).tmp"), withIntermediateDirectories: true)
      do {
        try ImageFolder.export(
          pixels: pixels, shape: [1, 2, 3, 3], labels: [0], classNames: ["a"], to: directory,
          jpegQuality: jpegQuality)
        Issue.record("\(name) was written over a directory")
      } catch StrataError.file(let path, let message) {
        #expect(path == directory.appendingPathComponent("a/\(name)").path)
        #expect(message.hasPrefix(reason), "\(message)")
      }
    }
    // A JPEG the encoder refuses (no pixels) and one whose device is full: messages, not crashes.
    var message = [CChar](repeating: 0, count: 256)
    func text() -> String {
      String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
    let directory = try temporaryDirectory()
    let empty = strata_encode_jpeg(
      directory.appendingPathComponent("empty.jpg").path, pixels, 0, 0, 3, 90, &message,
      message.count)
    #expect(empty == 1 && text().hasPrefix("cannot be written as JPEG"), "\(text())")
    let full = strata_encode_jpeg("/dev/full", pixels, 3, 2, 3, 90, &message, message.count)
    #expect(full == 1 && text().hasPrefix("cannot be written"), "\(text())")
  }
}
