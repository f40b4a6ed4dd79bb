import Foundation
import StrataCore
@testable import StrataData
import StrataTesting
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// Decodes one file with the loader's decoder into `height x width x channels` floats.
func decodeFile(
  _ url: URL, channels: Int, size: (Int, Int), maximumPixels: Int = ImageFolder.defaultMaximumPixels
) throws -> [Float] {
  var pixels = [Float](repeating: -1, count: size.0 * size.1 * channels)
  try pixels.withUnsafeMutableBufferPointer {
    try ImageFolder.decode(
      url, channels: channels, into: $0, height: size.0, width: size.1, scale: 1,
      maximumPixels: maximumPixels)
  }
  return pixels
}

func scratchDirectory(_ name: String) throws -> URL {
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "\(name)-\(UUID().uuidString)")
  try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
  return url
}

func fixture(_ name: String, _ ext: String) throws -> URL {
  try #require(Bundle.module.url(forResource: name, withExtension: ext, subdirectory: "Fixtures"))
}

/// Alpha is dropped as TensorFlow's decode_png(channels=3) drops it: a fully transparent pixel keeps its
/// colour, the same on every run (it used to be composited onto uninitialised memory).
@Test func transparentPNGsDecodeAsTensorFlowDoes() throws {
  let directory = try scratchDirectory("alpha")
  let rgba = directory.appendingPathComponent("rgba.png")
  try pngData(width: 3, height: 2, channels: 4) { x, _ in
    [UInt8(50 * x), 100, 200, x == 0 ? 0 : 128]
  }.write(to: rgba)
  let first = try decodeFile(rgba, channels: 3, size: (2, 3))
  #expect(
    first == [0, 100, 200, 50, 100, 200, 100, 100, 200, 0, 100, 200, 50, 100, 200, 100, 100, 200])
  #expect(try decodeFile(rgba, channels: 3, size: (2, 3)) == first)
  // Gray with alpha: the gray value, alpha dropped; into RGB, the gray repeated.
  let grayAlpha = directory.appendingPathComponent("ga.png")
  try pngData(width: 2, height: 1, channels: 2) { x, _ in [x == 0 ? 10 : 240, 0] }.write(
    to: grayAlpha)
  #expect(try decodeFile(grayAlpha, channels: 1, size: (1, 2)) == [10, 240])
  #expect(try decodeFile(grayAlpha, channels: 3, size: (1, 2)) == [10, 10, 10, 240, 240, 240])
  // RGB into gray: libpng's rgb_to_gray weights as TensorFlow sets them (0.299, 0.587, rest blue), rounded.
  let rgb = directory.appendingPathComponent("rgb.png")
  try pngData(width: 2, height: 1, channels: 3) { x, _ in x == 0 ? [200, 100, 0] : [10, 200, 30] }
    .write(to: rgb)
  let gray = try decodeFile(rgb, channels: 1, size: (1, 2))
  let expectedOrange: Float = (0.299 * 200 + 0.587 * 100 as Float).rounded()
  let expectedGreen: Float = (0.299 * 10 + 0.587 * 200 + 0.114 * 30 as Float).rounded()
  #expect(gray == [expectedOrange, expectedGreen])
}

/// A CMYK JPEG (Adobe's inverted convention, as PIL and Photoshop write it) decodes to its colour, as
/// TensorFlow's decoder converts it; the fixture is solid red (PIL reads (255, 0, 0)).
@Test func cmykJPEGsDecodeToRGB() throws {
  let pixels = try decodeFile(try fixture("cmyk-red", "jpg"), channels: 3, size: (8, 8))
  for pixel in stride(from: 0, to: pixels.count, by: 3) {
    #expect(
      pixels[pixel] > 245 && pixels[pixel + 1] < 10 && pixels[pixel + 2] < 10,
      "\(pixels[pixel..<(pixel + 3)])")
  }
  let gray = try decodeFile(try fixture("cmyk-red", "jpg"), channels: 1, size: (2, 2))
  #expect(gray.allSatisfy { abs($0 - 76) <= 3 }, "\(gray)")  // 0.299 · 255
}

/// Each bad image is an error naming the file and the problem, never a crash, a hang, a silent skip or
/// a giant allocation.
@Test func hostileImagesGetClearErrors() throws {
  let directory = try scratchDirectory("hostile")
  func reason(_ url: URL, maximumPixels: Int = ImageFolder.defaultMaximumPixels) -> String {
    do {
      _ = try decodeFile(url, channels: 3, size: (2, 2), maximumPixels: maximumPixels)
      return "accepted"
    } catch StrataError.file(let path, let reason) {
      return path == url.path ? reason : "wrong path \(path)"
    } catch {
      return "\(error)"
    }
  }
  // A JPEG whose frame header claims 30000x30000: refused before anything is allocated.
  var jpeg = [UInt8](try Data(contentsOf: try fixture("red-blue", "jpg")))
  let sof = try #require(
    (0..<(jpeg.count - 9)).first {
      jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2)
    })
  jpeg[sof + 5] = 0x75; jpeg[sof + 6] = 0x30; jpeg[sof + 7] = 0x75; jpeg[sof + 8] = 0x30
  let bomb = directory.appendingPathComponent("bomb.jpg")
  try Data(jpeg).write(to: bomb)
  #expect(reason(bomb).contains("30000x30000 pixels"), "\(reason(bomb))")
  // The same for a PNG header, and the limit is the caller's to lower.
  let png = directory.appendingPathComponent("big.png")
  try pngData(width: 40, height: 30, channels: 3) { _, _ in [1, 2, 3] }.write(to: png)
  #expect(reason(png, maximumPixels: 1000).contains("40x30 pixels"))
  #expect(reason(png) == "accepted")
  // A truncated JPEG: libjpeg's warning is an error, not grey pixels.
  let cut = directory.appendingPathComponent("cut.jpg")
  let whole = try Data(contentsOf: try fixture("red-blue", "jpg"))
  try whole.prefix(whole.count - 40).write(to: cut)
  #expect(reason(cut).contains("truncated") || reason(cut).contains("corrupt"), "\(reason(cut))")
  // BMP and GIF: reported, not skipped.
  let bmp = directory.appendingPathComponent("x.bmp")
  try Data("BM".utf8 + [UInt8](repeating: 0, count: 60)).write(to: bmp)
  #expect(reason(bmp).contains("BMP"))
  let gif = directory.appendingPathComponent("x.gif")
  try Data("GIF89a".utf8 + [UInt8](repeating: 0, count: 20)).write(to: gif)
  #expect(reason(gif).contains("GIF"))
  // Text named .png, a zero-byte file.
  let text = directory.appendingPathComponent("text.png")
  try Data("hello".utf8).write(to: text)
  #expect(reason(text) == "is neither a PNG nor a JPEG file")
  let empty = directory.appendingPathComponent("empty.jpg")
  try Data().write(to: empty)
  #expect(reason(empty) == "is neither a PNG nor a JPEG file")
}

/// A FIFO named like an image is skipped with a message, never opened (opening one blocks for ever);
/// GIF and BMP files in a class folder are reported.
@Test func specialFilesInImageFoldersAreSkippedOrReported() throws {
  let root = try makeImageFolder(["a": [1, 2, 3], "b": [4, 5, 6]], perClass: 2)
  #expect(mkfifo(root.appendingPathComponent("a/pipe.png").path, 0o600) == 0)
  let data = try ImageFolder.load(from: root, imageSize: (2, 2))
  #expect(data.count == 4)
  #expect(!data.files.contains { $0.lastPathComponent == "pipe.png" })
  try Data("GIF89a".utf8 + [UInt8](repeating: 0, count: 20)).write(
    to: root.appendingPathComponent("b/old.gif"))
  #expect(
    throws: StrataError.file(
      path: root.appendingPathComponent("b/old.gif").path,
      reason: "is a GIF image, which Strata does not decode yet (convert it to PNG)")
  ) {
    try ImageFolder.load(from: root, imageSize: (2, 2), shuffle: false)
  }
  // An image size whose tensor cannot exist is an error, not an abort in the allocator.
  do {
    _ = try ImageFolder.load(from: root, imageSize: (100_000, 100_000))
    Issue.record("a 100000x100000 image size was accepted")
  } catch StrataError.invalidArgument(let owner, _, _, let expected) {
    #expect(owner == "ImageFolder" && expected.contains("at most"))
  }
}

/// Images with their checksums recomputed after each edit (PNG chunk CRCs), and JPEGs with edited
/// markers: every one decodes or is refused with an error naming it.
@Test func fuzzedImagesDecodeOrAreRefused() throws {
  let directory = try scratchDirectory("image-fuzz")
  let seeds: [[UInt8]] = [
    [UInt8](
      try pngData(width: 9, height: 7, channels: 3) { x, y in [UInt8(x * 20), UInt8(y * 30), 7] }),
    [UInt8](
      try pngData(width: 5, height: 6, channels: 4) { x, y in
        [UInt8(x * 40), 9, UInt8(y * 30), UInt8(x * 50)]
      }),
    [UInt8](try Data(contentsOf: try fixture("red-blue", "jpg"))),
    [UInt8](try Data(contentsOf: try fixture("cmyk-red", "jpg"))),
  ]
  var generator = SeededGenerator(seed: 77)
  var tried = 0, rejected = 0, decoded = 0
  let cases = fuzzCases
  for index in 0..<cases {
    var bytes = seeds[index % seeds.count]
    let isPNG = bytes[1] == 0x50
    let edits = Int.random(in: 1...4, using: &generator)
    for _ in 0..<edits {
      let at = Int.random(in: 0..<bytes.count, using: &generator)
      switch Int.random(in: 0..<5, using: &generator) {
      case 0: bytes[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &generator))
      case 1: bytes[at] = [0, 0xFF, 0x7F, 0x80].randomElement(using: &generator)!
      case 2: bytes.removeSubrange(at...)
      case 3: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: at)
      default:  // a size field: PNG's IHDR width/height or a JPEG frame's
        if isPNG, bytes.count > 24 {
          bytes[16 + Int.random(in: 0..<8, using: &generator)] = UInt8.random(
            in: 0...255, using: &generator)
        } else if let sof = (0..<max(0, bytes.count - 9)).first(where: {
          bytes[$0] == 0xFF && bytes[$0 + 1] == 0xC0
        }) {
          bytes[sof + 5 + Int.random(in: 0..<4, using: &generator)] = UInt8.random(
            in: 0...255, using: &generator)
        }
      }
      if bytes.isEmpty { bytes = [0] }
    }
    if isPNG { bytes = recomputingPNGChunkCRCs(bytes) }
    let url = directory.appendingPathComponent("case\(index % 16).\(isPNG ? "png" : "jpg")")
    try Data(bytes).write(to: url)
    tried += 1
    do {
      let pixels = try decodeFile(url, channels: [1, 3][index % 2], size: (3, 4))
      #expect(pixels.allSatisfy { $0 >= 0 && $0 <= 255 })
      decoded += 1
    } catch StrataError.file(let path, _) where path == url.path {
      rejected += 1
    }
  }
  print("Image fuzz: tried \(tried), rejected \(rejected), decoded \(decoded)")
  #expect(tried == cases && rejected > 0 && decoded > 0)
}

/// Rewrites the CRC of every whole chunk of a PNG, so edits reach the decoder past its integrity check.
func recomputingPNGChunkCRCs(_ input: [UInt8]) -> [UInt8] {
  var bytes = input
  var offset = 8
  while offset + 12 <= bytes.count {
    let length =
      Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
      | Int(bytes[offset + 3])
    guard length <= bytes.count - offset - 12 else { break }
    let crc = bytes[(offset + 4)..<(offset + 8 + length)].withUnsafeBytes { crc32($0) }
    for i in 0..<4 { bytes[offset + 8 + length + i] = UInt8((crc >> (24 - 8 * UInt32(i))) & 0xFF) }
    offset += 12 + length
  }
  return bytes
}

let fuzzCases = ProcessInfo.processInfo.environment["STRATA_FUZZ_CASES"].flatMap(Int.init) ?? 2_000

/// IDX headers whose dimensions overflow, lie or are truncated, and gzip streams that are not: each an
/// error naming the source, never a trap.
@Test func fuzzedIDXFilesAreRefusedOrRead() throws {
  var generator = SeededGenerator(seed: 31)
  let valid: [UInt8] = [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 2] + (0..<12).map(UInt8.init)
  // The audit's case first: 0xFFFFFFFF x 0xFFFFFFFF x 2.
  let overflow: [UInt8] = [
    0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 1, 2, 3,
  ]
  #expect(
    throws: StrataError.file(
      path: "overflow", reason: "has impossible dimensions [4294967295, 4294967295, 2]")
  ) {
    try IDXArray(idx: overflow, path: "overflow")
  }
  var tried = 0, rejected = 0, read = 0
  for index in 0..<fuzzCases {
    var bytes = valid
    switch index % 4 {
    case 0:
      bytes[Int.random(in: 0..<16, using: &generator)] = UInt8.random(
        in: 0...255, using: &generator)
    case 1: bytes[3] = UInt8.random(in: 0...255, using: &generator)
    case 2: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &generator)...)
    default:
      for i in 4..<16 where Bool.random(using: &generator) {
        bytes[i] = [0, 0xFF, 0x7F, 0x80].randomElement(using: &generator)!
      }
    }
    tried += 1
    do {
      let array = try IDXArray(idx: bytes, path: "case\(index)")
      #expect(array.shape.reduce(1, *) == array.bytes.count)
      read += 1
    } catch StrataError.file(let path, _) where path == "case\(index)" {
      rejected += 1
    }
  }
  print("IDX fuzz: tried \(tried), rejected \(rejected), read \(read)")
  #expect(tried == fuzzCases && rejected > 0 && read > 0)
  // A FIFO and a directory as IDX files: named errors, no blocking.
  let directory = try scratchDirectory("idx")
  let fifo = directory.appendingPathComponent("train-images-idx3-ubyte")
  #expect(mkfifo(fifo.path, 0o600) == 0)
  #expect(
    throws: StrataError.file(path: fifo.path, reason: "is not a regular file, not an IDX file")
  ) { try IDXArray(contentsOf: fifo) }
  #expect(throws: StrataError.file(path: directory.path, reason: "is a directory, not an IDX file"))
  { try IDXArray(contentsOf: directory) }
}
