import Foundation
import StrataCore
import StrataData
import StrataTesting
import Testing

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
