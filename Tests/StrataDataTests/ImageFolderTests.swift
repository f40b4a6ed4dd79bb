import Foundation
import StrataCore
import StrataData
import Strata
import Testing

/// A minimal PNG encoder for tests: 8-bit gray, gray and alpha, RGB or RGBA (1 to 4 channels), DEFLATE "stored" blocks (no compression needed).
func pngData(width: Int, height: Int, channels: Int, pixel: (Int, Int) -> [UInt8]) -> Data {
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
  let colourType: UInt8 = [1: 0, 2: 4, 3: 2, 4: 6][channels]!  // gray, gray+alpha, RGB, RGBA
  let header = bigEndian(UInt32(width)) + bigEndian(UInt32(height)) + [8, colourType, 0, 0, 0]
  return Data(
    [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header) + chunk("IDAT", zlib)
      + chunk("IEND", []))
}

/// `root/<class>/<n>.png`, solid colours per class.
func makeImageFolder(_ classes: [String: [UInt8]], perClass: Int = 3, size: (Int, Int) = (12, 10))
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

@Test func loadsClassFoldersWithSortedClassNamesAndLabels() throws {
  let root = try makeImageFolder(["humans": [10, 200, 30], "horses": [200, 100, 0]])
  let data = try ImageFolder.load(
    from: root, imageSize: (6, 8), labelMode: .binary, rescale: 1.0 / 255, shuffle: false)
  #expect(data.classNames == ["horses", "humans"])
  #expect(data.images.shape == [6, 6, 8, 3])
  #expect(data.labels.shape == [6, 1])
  #expect(data.labels.scalars == [0, 0, 0, 1, 1, 1])
  // Solid colours survive the resize; pixels are rescaled.
  #expect(
    abs(data.images[0, 3, 4, 0] - 200.0 / 255) < 1e-6
      && abs(data.images[5, 0, 0, 1] - 200.0 / 255) < 1e-6)
  #expect(data.files.first?.deletingLastPathComponent().lastPathComponent == "horses")

  let categorical = try ImageFolder.load(
    from: root, imageSize: (4, 4), colorMode: .grayscale, labelMode: .categorical, seed: 3)
  #expect(categorical.images.shape == [6, 4, 4, 1])
  #expect(categorical.labels.shape == [6, 2])
  for i in 0..<6 {
    // Gray from RGB with libpng's weights as TensorFlow sets them: horses (200, 100, 0) give
    // round(0.299·200 + 0.587·100) = 119, humans (10, 200, 30) give round(2.99 + 117.4 + 3.42) = 124.
    let isHorse = categorical.files[i].path.contains("/horses/")
    #expect(categorical.labels[i, 0] == (isHorse ? 1 : 0))
    #expect(categorical.labels[i, 1] == (isHorse ? 0 : 1))
    #expect(
      categorical.images[i, 2, 1, 0] == (isHorse ? 119 : 124),
      "\(categorical.files[i].lastPathComponent)")
  }
  let sparse = try ImageFolder.load(from: root, imageSize: (4, 4), seed: 3)
  // Class indices follow the sorted folder names, whatever the shuffle.
  for i in 0..<6 {
    #expect(sparse.labels[i] == (sparse.files[i].path.contains("/horses/") ? 0 : 1))
  }
  #expect(sparse.labels.scalars.filter { $0 == 0 }.count == 3)
  // The same seed shuffles the same way.
  #expect(try ImageFolder.load(from: root, imageSize: (4, 4), seed: 3).files == sparse.files)
}

@Test func validationSplitsDoNotOverlap() throws {
  let root = try makeImageFolder(["a": [1, 2, 3], "b": [4, 5, 6], "c": [7, 8, 9]], perClass: 10)
  let training = try ImageFolder.load(
    from: root, imageSize: (2, 2), seed: 5, validationSplit: 0.2, subset: .training)
  let validation = try ImageFolder.load(
    from: root, imageSize: (2, 2), seed: 5, validationSplit: 0.2, subset: .validation)
  #expect(training.count == 24 && validation.count == 6)
  #expect(Set(training.files).isDisjoint(with: validation.files))
}

/// TensorFlow's bilinear rule (half-pixel centres), checked by hand on a 1x2 → 1x4 gray ramp.
@Test func resizeFollowsTensorFlow() throws {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "ramp-\(UUID().uuidString)/only")
  try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
  try pngData(width: 2, height: 1, channels: 1) { x, _ in [x == 0 ? 0 : 100] }.write(
    to: root.appendingPathComponent("ramp.png"))
  let data = try ImageFolder.load(
    from: root.deletingLastPathComponent(), imageSize: (1, 4), colorMode: .grayscale)
  // Sample points (i + 0.5) · 2/4 - 0.5 = -0.25, 0.25, 0.75, 1.25 → 0, 25, 75, 100.
  #expect(data.images.scalars == [0, 25, 75, 100])
}

@Test func decodesJPEG() throws {
  let fixture = try #require(
    Bundle.module.url(forResource: "red-blue", withExtension: "jpg", subdirectory: "Fixtures"))
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "jpeg-\(UUID().uuidString)")
  try FileManager.default.createDirectory(
    at: root.appendingPathComponent("colours"), withIntermediateDirectories: true)
  try FileManager.default.copyItem(
    at: fixture, to: root.appendingPathComponent("colours/red-blue.JPG"))
  let data = try ImageFolder.load(from: root, imageSize: (30, 40))
  // A 40x30 JPEG, left half (220, 30, 30), right half (30, 30, 220); PIL decodes the same file to means
  // (218.0, 30.5, 32.7) and (33.2, 29.6, 217.4).
  func mean(_ columns: Range<Int>, _ channel: Int) -> Float {
    var sum: Float = 0
    for y in 0..<30 { for x in columns { sum += data.images[0, y, x, channel] } }
    return sum / Float(30 * columns.count)
  }
  #expect(abs(mean(0..<20, 0) - 218.0) < 1.5 && abs(mean(0..<20, 2) - 32.65) < 1.5)
  #expect(abs(mean(20..<40, 2) - 217.35) < 1.5 && abs(mean(20..<40, 0) - 33.15) < 1.5)
}

@Test func badFoldersAndImagesGetClearErrors() throws {
  #expect(throws: StrataError.file(path: "/nonexistent", reason: "is not a directory")) {
    try ImageFolder.load(from: URL(fileURLWithPath: "/nonexistent"))
  }
  let empty = FileManager.default.temporaryDirectory.appendingPathComponent(
    "empty-\(UUID().uuidString)")
  try FileManager.default.createDirectory(
    at: empty.appendingPathComponent("nothing-here"), withIntermediateDirectories: true)
  #expect(
    throws: StrataError.file(
      path: empty.path,
      reason: "holds no class subdirectories with .png or .jpg images (one subdirectory per class)")
  ) {
    try ImageFolder.load(from: empty)
  }
  let three = try makeImageFolder(["a": [1, 1, 1], "b": [2, 2, 2], "c": [3, 3, 3]], perClass: 1)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "ImageFolder", argument: "labelMode",
      value: ".binary with 3 classes [\"a\", \"b\", \"c\"]",
      expected: "exactly two classes, or .int / .categorical")
  ) { try ImageFolder.load(from: three, labelMode: .binary) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "ImageFolder", argument: "imageSize", value: "(0, 4)", expected: "positive sizes")
  ) { try ImageFolder.load(from: three, imageSize: (0, 4)) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "ImageFolder", argument: "subset", value: "nil",
      expected: "both validationSplit and subset, or neither")
  ) { try ImageFolder.load(from: three, validationSplit: 0.5) }
  // A corrupt PNG and a truncated JPEG: errors naming the file, never a crash.
  let broken = try makeImageFolder(["x": [9, 9, 9]], perClass: 1)
  let png = broken.appendingPathComponent("x/0.png")
  var bytes = try Data(contentsOf: png)
  bytes[bytes.count / 2] ^= 0xFF
  try bytes.write(to: png)
  do {
    _ = try ImageFolder.load(from: broken)
    Issue.record("a corrupt PNG was accepted")
  } catch {
    #expect("\(error)".contains("0.png"), "\(error)")
  }
  let fixture = try #require(
    Bundle.module.url(forResource: "red-blue", withExtension: "jpg", subdirectory: "Fixtures"))
  try FileManager.default.removeItem(at: png)
  try Data(try Data(contentsOf: fixture).prefix(300)).write(
    to: broken.appendingPathComponent("x/cut.jpg"))
  do {
    _ = try ImageFolder.load(from: broken)
    Issue.record("a truncated JPEG was accepted")
  } catch {
    #expect("\(error)".contains("cut.jpg"), "\(error)")
  }
}

/// The horses-or-humans workflow on generated images: class folders, binary labels, Rescaling, a small
/// CNN with a sigmoid output trained with binary cross-entropy.
@Test func trainsACNNOnImageFolders() throws {
  var generator = SeededGenerator(seed: 12)
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "stripes-\(UUID().uuidString)")
  for (name, vertical) in [("horizontal", false), ("vertical", true)] {
    let directory = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for i in 0..<12 {
      let phase = Int(generator.next() % 4)
      try pngData(width: 16, height: 16, channels: 3) { x, y in
        let on = ((vertical ? x : y) + phase) % 4 < 2
        return on ? [230, 230, 230] : [20, 20, 20]
      }.write(to: directory.appendingPathComponent("\(i).png"))
    }
  }
  let data = try ImageFolder.load(from: root, imageSize: (12, 12), labelMode: .binary, seed: 1)
  let model = try Sequential(
    [
      Rescaling(1.0 / 255, inputShape: [12, 12, 3]),
      Conv2D(4, kernelSize: 3, activation: "relu"),
      MaxPooling2D(poolSize: 2),
      Flatten(),
      Dense(1, activation: "sigmoid"),
    ], seed: 3)
  try model.compile(
    optimizer: try Adam(learningRate: 0.02), loss: "binary_crossentropy", metrics: ["accuracy"])
  let history = try model.fit(data.images, data.labels, batchSize: 8, epochs: 25, verbose: 0)
  #expect(history["accuracy"]!.last! == 1, "\(history["accuracy"]!)")
  #expect(history["loss"]!.last! < history["loss"]!.first!)
}
