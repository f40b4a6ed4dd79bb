import CStrataImages
import Foundation
import StrataCore

/// Images loaded from a directory with one subdirectory per class, labelled by the subdirectory's name.
public struct ImageDataset: Sendable {
  /// `[count, height, width, channels]`, pixels from 0 to 255 times the `rescale` asked for.
  public let images: Tensor
  /// Class indices (`[count]`), one-hot rows (`[count, classes]`) or 0/1 (`[count, 1]`), per the label mode.
  public let labels: Tensor
  /// The class names in label order: the subdirectories, sorted.
  public let classNames: [String]
  /// Each image's file, in the order of `images`.
  public let files: [URL]

  /// The number of images.
  public var count: Int { files.count }
}

/// Loads images from class folders, as Keras' `image_dataset_from_directory` (and the tutorials'
/// `ImageDataGenerator.flow_from_directory`) do:
///
/// ```
/// horse-or-human/
///   horses/  horse01-0.png  horse01-1.png  …
///   humans/  human01-00.png …
/// ```
///
/// ```swift
/// let data = try ImageFolder.load(from: URL(fileURLWithPath: "horse-or-human"), imageSize: (300, 300),
///                                 labelMode: .binary, rescale: 1 / 255)
/// try model.fit(data.images, data.labels, epochs: 15)
/// ```
///
/// PNG and JPEG files are read (through Debian's libpng and libjpeg), converted to RGB or gray, and
/// resized bilinearly to `imageSize` with TensorFlow's pixel-centre rule. Everything is loaded into memory.
public enum ImageFolder {
  /// How labels are given. Keras: `label_mode` (`class_mode` in `flow_from_directory`).
  public enum LabelMode: String, Sendable {
    /// Class indices, for `sparse_categorical_crossentropy` (Keras' default, `"int"`).
    case int
    /// One-hot rows, for `categorical_crossentropy`.
    case categorical
    /// 0 or 1 for exactly two classes, for `binary_crossentropy` and a sigmoid output.
    case binary
  }

  /// Keras' `color_mode`.
  public enum ColorMode: Int, Sendable {
    case grayscale = 1
    case rgb = 3
  }

  /// Which part of a split to load. Keras' `subset` with `validation_split`.
  public enum Subset: Sendable {
    case training, validation
  }

  /// The file extensions read, in any case: Keras' list. BMP and GIF files are reported as errors
  /// (Strata decodes PNG and JPEG only), never silently skipped.
  public static let extensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "gif"]

  /// The most pixels one image may have: 2^26 (8192 x 8192). A larger one (a decompression bomb: a
  /// 291-byte JPEG can claim 30000 x 30000) is refused before it is decoded.
  public static let defaultMaximumPixels = 1 << 26

  /// Loads every PNG and JPEG below each class subdirectory of `directory`.
  /// - Parameters:
  ///   - imageSize: `(height, width)` every image is resized to. Keras' default is 256x256.
  ///   - rescale: multiplies the pixels (Keras' `ImageDataGenerator(rescale=1/255)`).
  ///   - shuffle: shuffles the images with `seed` (after sorting, so the order is reproducible).
  ///   - validationSplit: with `subset`, the fraction held out for validation (taken after shuffling,
  ///     so the two subsets of the same seed never overlap).
  /// - Throws: ``StrataError/file(path:reason:)`` for a missing directory, no class subdirectories or
  ///   images, or an unreadable image (named); ``StrataError/invalidArgument(owner:argument:value:expected:)``
  ///   for bad arguments, such as `.binary` labels for other than two classes.
  public static func load(
    from directory: URL, imageSize: (height: Int, width: Int) = (256, 256),
    colorMode: ColorMode = .rgb,
    labelMode: LabelMode = .int, rescale: Float = 1, shuffle: Bool = true, seed: UInt64 = 0,
    validationSplit: Float? = nil, subset: Subset? = nil, maximumPixels: Int = defaultMaximumPixels
  ) throws -> ImageDataset {
    try checkArgument(
      imageSize.height > 0 && imageSize.width > 0,
      owner: "ImageFolder", argument: "imageSize",
      value: "(\(imageSize.height), \(imageSize.width))", expected: "positive sizes")
    let (classNames, files) = try listing(
      directory, labelMode: labelMode, shuffle: shuffle, seed: seed,
      validationSplit: validationSplit, subset: subset)
    let channels = colorMode.rawValue
    let (height, width) = imageSize
    var images = try Tensor(
      checkedShape: [files.count, height, width, channels], owner: "ImageFolder")
    let sample = height * width * channels
    try images.withUnsafeMutableBufferPointer { pixels in
      for (index, (url, _)) in files.enumerated() {
        let target = UnsafeMutableBufferPointer(
          rebasing: pixels[(index * sample)..<((index + 1) * sample)])
        try decode(
          url, channels: channels, into: target, height: height, width: width, scale: rescale,
          maximumPixels: maximumPixels)
      }
    }
    return ImageDataset(
      images: images,
      labels: labels(files.map(\.1), classes: classNames.count, mode: labelMode),
      classNames: classNames, files: files.map(\.0))
  }

  /// The label tensor of `labels` (class indices) in `mode`: `(n)`, `(n, classes)` one-hot, or
  /// `(n, 1)`.
  static func labels(_ labels: [Int], classes: Int, mode: LabelMode) -> Tensor {
    var tensor: Tensor
    switch mode {
    case .int: tensor = Tensor(shape: [labels.count])
    case .categorical: tensor = Tensor(shape: [labels.count, classes])
    case .binary: tensor = Tensor(shape: [labels.count, 1])
    }
    tensor.withUnsafeMutableBufferPointer { values in
      for (index, label) in labels.enumerated() {
        switch mode {
        case .int, .binary: values[index] = Float(label)
        case .categorical: values[index * classes + label] = 1
        }
      }
    }
    return tensor
  }

  /// The class names and the (file, label) pairs of a class-folder tree, sorted, shuffled with
  /// `seed` when asked, then split: what ``load(from:imageSize:colorMode:labelMode:rescale:shuffle:seed:validationSplit:subset:maximumPixels:)``
  /// and ``ImageFolderDataset`` both list.
  static func listing(
    _ directory: URL, labelMode: LabelMode, shuffle: Bool, seed: UInt64, validationSplit: Float?,
    subset: Subset?, extensions: Set<String> = extensions, owner: String = "ImageFolder",
    kind: String = ".png or .jpg images"
  ) throws -> (classNames: [String], files: [(URL, Int)]) {
    if let validationSplit, !(validationSplit > 0 && validationSplit < 1) {
      throw StrataError.invalidArgument(
        owner: owner, argument: "validationSplit", value: "\(validationSplit)",
        expected: "a fraction in (0, 1)")
    }
    if (validationSplit == nil) != (subset == nil) {
      throw StrataError.invalidArgument(
        owner: owner, argument: "subset", value: subset == nil ? "nil" : "\(subset!)",
        expected: "both validationSplit and subset, or neither")
    }
    let manager = FileManager.default
    var isDirectory: ObjCBool = false
    guard manager.fileExists(atPath: directory.path, isDirectory: &isDirectory),
      isDirectory.boolValue
    else {
      throw StrataError.file(path: directory.path, reason: "is not a directory")
    }
    let classNames = try manager.contentsOfDirectory(atPath: directory.path).filter { name in
      var isClass: ObjCBool = false
      return !name.hasPrefix(".")
        && manager.fileExists(
          atPath: directory.appendingPathComponent(name).path, isDirectory: &isClass)
        && isClass.boolValue
    }.sorted()
    var files: [(URL, Int)] = []
    for (label, name) in classNames.enumerated() {
      let classDirectory = directory.appendingPathComponent(name)
      let found =
        (manager.enumerator(at: classDirectory, includingPropertiesForKeys: nil)?.allObjects
        as? [URL] ?? [])
        .filter { extensions.contains($0.pathExtension.lowercased()) && isRegularFile($0) }
        .sorted { $0.path < $1.path }
      files += found.map { ($0, label) }
    }
    guard !classNames.isEmpty, !files.isEmpty else {
      throw StrataError.file(
        path: directory.path,
        reason:
          "holds no class subdirectories with \(kind) (one subdirectory per class)")
    }
    if labelMode == .binary && classNames.count != 2 {
      throw StrataError.invalidArgument(
        owner: owner, argument: "labelMode",
        value: ".binary with \(classNames.count) classes \(classNames)",
        expected: "exactly two classes, or .int / .categorical")
    }
    if shuffle {
      var generator = SeededGenerator(seed: seed)
      files.shuffle(using: &generator)
    }
    if let validationSplit, let subset {
      let validationCount = Int(Float(files.count) * validationSplit)
      files =
        subset == .validation
        ? Array(files.suffix(validationCount)) : Array(files.dropLast(validationCount))
    }
    return (classNames, files)
  }

  /// Decodes one file and resizes it into `target` (`height x width x channels` floats).
  static func decode(
    _ url: URL, channels: Int, into target: UnsafeMutableBufferPointer<Float>, height: Int,
    width: Int, scale: Float,
    maximumPixels: Int = defaultMaximumPixels
  ) throws {
    var image = strata_image()
    var message = [CChar](repeating: 0, count: 256)
    let status = strata_decode_image(
      url.path, Int32(channels), max(0, maximumPixels), &image, &message, message.count)
    guard status == 0, let pixels = image.pixels else {
      let text = message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
      throw StrataError.file(path: url.path, reason: String(decoding: text, as: UTF8.self))
    }
    defer { strata_free_image(&image) }
    resizeBilinear(
      UnsafeBufferPointer(start: pixels, count: Int(image.width) * Int(image.height) * channels),
      height: Int(image.height),
      width: Int(image.width), channels: channels, into: target, newHeight: height, newWidth: width,
      scale: scale)
  }

  /// Whether `url` is a regular file (after symbolic links). Anything else (a FIFO, a socket, a
  /// device) is skipped with a message on standard error: opening a FIFO would block for ever.
  static func isRegularFile(_ url: URL) -> Bool {
    var status = stat()
    // decoding reports the error, naming the file
    guard stat(url.path, &status) == 0 else { return true }
    if (status.st_mode & S_IFMT) == S_IFREG { return true }
    if (status.st_mode & S_IFMT) != S_IFDIR {
      FileHandle.standardError.write(
        Data("ImageFolder: skipping \(url.path): not a regular file\n".utf8))
    }
    return false
  }

  /// Bilinear resize with TensorFlow's rule (`tf.image.resize`, half-pixel centres): output pixel `i`
  /// samples the input at `(i + 0.5) · in/out - 0.5`.
  static func resizeBilinear(
    _ source: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int,
    into target: UnsafeMutableBufferPointer<Float>,
    newHeight: Int, newWidth: Int, scale: Float
  ) {
    func weights(_ i: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Float) {
      let position = (Float(i) + 0.5) * Float(inSize) / Float(outSize) - 0.5
      let floor = position.rounded(.down)
      return (max(Int(floor), 0), min(Int(position.rounded(.up)), inSize - 1), position - floor)
    }
    let columns = (0..<newWidth).map { weights($0, width, newWidth) }
    for y in 0..<newHeight {
      let (top, bottom, dy) = weights(y, height, newHeight)
      for x in 0..<newWidth {
        let (left, right, dx) = columns[x]
        for c in 0..<channels {
          func at(_ row: Int, _ column: Int) -> Float {
            Float(source[(row * width + column) * channels + c])
          }
          let upper = at(top, left) + (at(top, right) - at(top, left)) * dx
          let lower = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * dx
          target[(y * newWidth + x) * channels + c] = (upper + (lower - upper) * dy) * scale
        }
      }
    }
  }
}
