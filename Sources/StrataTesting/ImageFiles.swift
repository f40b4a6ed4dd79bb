import Foundation
import StrataCore

// Image files for tests: PNGs written from a pixel function, and class-folder trees of them, as
// `image_dataset_from_directory` reads. Tests of the image readers, the CLI and the tutorials share
// them.

/// A minimal PNG encoder for tests: 8-bit gray, gray and alpha, RGB or RGBA (1 to 4 channels), in
/// DEFLATE "stored" blocks (no compression needed). `pixel(x, y)` gives each pixel's channels.
/// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` for a channel count
///   outside 1...4.
public func pngData(
  width: Int, height: Int, channels: Int, pixel: (Int, Int) -> [UInt8]
) throws -> Data {
  try checkArgument(
    (1...4).contains(channels), owner: "pngData", argument: "channels", value: "\(channels)",
    expected: "1 to 4")
  func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
    let typed = Array(type.utf8) + body
    let crc = typed.withUnsafeBytes { crc32($0) }
    return bigEndian(UInt32(body.count)) + typed + bigEndian(crc)
  }
  func bigEndian(_ value: UInt32) -> [UInt8] {
    (0..<4).map { UInt8((value >> (24 - 8 * UInt32($0))) & 0xFF) }
  }
  var raw: [UInt8] = []
  for y in 0..<height {
    raw.append(0)  // no filter
    for x in 0..<width { raw += pixel(x, y) }
  }
  var zlib: [UInt8] = [0x78, 0x01]
  var offset = 0
  repeat {
    let length = min(65_535, raw.count - offset)
    let last: UInt8 = offset + length == raw.count ? 1 : 0
    zlib += [
      last, UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF),
      UInt8((~length >> 8) & 0xFF),
    ]
    zlib += raw[offset..<(offset + length)]
    offset += length
  } while offset < raw.count
  var a: UInt32 = 1, b: UInt32 = 0
  for byte in raw { a = (a + UInt32(byte)) % 65_521; b = (b + a) % 65_521 }
  zlib += bigEndian(b << 16 | a)
  let colourType: UInt8 = [0, 4, 2, 6][channels - 1]  // gray, gray+alpha, RGB, RGBA
  let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colourType, 0, 0, 0]
  return Data(
    [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib)
      + chunk("IEND", []))
}

/// `root/<class>/<n>.png`, solid colours per class.
public func makeImageFolder(
  _ classes: [String: [UInt8]], perClass: Int = 3, size: (Int, Int) = (12, 10)
)
  throws -> URL
{
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "images-\(UUID().uuidString)")
  for (name, colour) in classes {
    let directory = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for i in 0..<perClass {
      try pngData(width: size.0, height: size.1, channels: 3) { _, _ in colour }.write(
        to: directory.appendingPathComponent("\(i).png"))
    }
  }
  return root
}

/// A class-folder tree of images whose pixels depend on the class, the image and the position, in
/// sizes that need resizing.
public func makeVariedImageFolder(classes: Int, perClass: Int) throws -> URL {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "varied-\(UUID().uuidString)")
  for c in 0..<classes {
    let directory = root.appendingPathComponent("class\(c)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for i in 0..<perClass {
      let (width, height) = (9 + (i % 4), 7 + (i % 3))
      try pngData(width: width, height: height, channels: 3) { x, y in
        [UInt8((x * 20 + c * 60) % 256), UInt8((y * 30 + i * 7) % 256), UInt8((x * y + c) % 256)]
      }.write(to: directory.appendingPathComponent("\(i).png"))
    }
  }
  return root
}
