import Foundation
import StrataCore

/// Images with one class label each, as bytes: the raw form of MNIST-like data sets.
public struct LabeledImages: Sendable {
  /// `[count, height, width]` pixels from 0 to 255.
  public let images: IDXArray
  /// One class index per image.
  public let labels: [UInt8]

  /// Images and their labels, one per image.
  public init(images: IDXArray, labels: [UInt8]) throws {
    try checkArgument(
      images.shape.first == labels.count,
      owner: "LabeledImages", argument: "labels", value: "\(labels.count) labels",
      expected: "one per image (\(images.shape.first ?? 0))")
    self.images = images
    self.labels = labels
  }

  /// The number of examples.
  public var count: Int { labels.count }

  /// Pixels divided by 255, `[count, height, width]`, as the tutorials do (`x_train / 255.0`).
  public func normalizedImages() -> Tensor {
    var tensor = Tensor(shape: images.shape)
    tensor.withUnsafeMutableBufferPointer { values in
      for i in values.indices { values[i] = Float(images.bytes[i]) / 255 }
    }
    return tensor
  }

  /// Pixels as floats from 0 to 255.
  public func rawImages() -> Tensor {
    var tensor = Tensor(shape: images.shape)
    tensor.withUnsafeMutableBufferPointer { values in
      for i in values.indices { values[i] = Float(images.bytes[i]) }
    }
    return tensor
  }

  /// Labels as a `[count]` tensor of class indices, for sparse losses.
  public func labelTensor() -> Tensor { Tensor(labels.map(Float.init)) }

  /// The first `count` examples (or all of them): a small slice for tests and quick runs.
  public func prefix(_ count: Int) -> LabeledImages {
    let n = max(0, min(count, self.count))
    let size = images.shape.dropFirst().reduce(1, *)
    // The shapes agree by construction.
    return try! LabeledImages(
      images: IDXArray(
        shape: [n] + images.shape.dropFirst(), bytes: Array(images.bytes[0..<(n * size)])),
      labels: Array(labels[0..<n]))
  }

  /// Reads a pair of IDX files (images, labels), gzipped or raw; with `classes`, every label must be
  /// below it.
  /// - Throws: ``StrataError/file(path:reason:)`` naming the file and what is wrong, a label out of
  ///   range by its index and value.
  public static func load(images: URL, labels: URL, classes: Int? = nil) throws -> LabeledImages {
    let imageArray = try IDXArray(contentsOf: images)
    let labelArray = try IDXArray(contentsOf: labels)
    guard imageArray.shape.count == 3 else {
      throw StrataError.file(
        path: images.path,
        reason: "holds an array of shape \(imageArray.shape), not [count, height, width]")
    }
    guard labelArray.shape.count == 1, labelArray.shape[0] == imageArray.shape[0] else {
      throw StrataError.file(
        path: labels.path,
        reason: "holds \(labelArray.shape) labels for \(imageArray.shape[0]) images")
    }
    if let classes, let index = labelArray.bytes.firstIndex(where: { Int($0) >= classes }) {
      throw StrataError.file(
        path: labels.path,
        reason:
          "holds the label \(labelArray.bytes[index]) at index \(index); the classes are 0 to \(classes - 1)"
      )
    }
    return try LabeledImages(images: imageArray, labels: labelArray.bytes)
  }
}

/// Fashion-MNIST: 60,000 training and 10,000 test images of 28x28 clothes in 10 classes.
///
/// Read from `/usr/share/datasets/fashion-mnist/`, where Debian's `dataset-fashion-mnist` package puts it;
/// nothing is downloaded.
public enum FashionMNIST {
  /// Where Debian's `dataset-fashion-mnist` installs the files.
  public static let defaultDirectory = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")

  /// The class names, by label.
  public static let classNames = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
    "Ankle boot",
  ]

  /// Loads the training and test sets from `directory` (`train-images-idx3-ubyte.gz`, … or unzipped).
  /// - Throws: ``StrataError/file(path:reason:)`` naming the missing file and the Debian package.
  public static func load(from directory: URL = defaultDirectory) throws -> (
    train: LabeledImages, test: LabeledImages
  ) {
    func file(_ name: String) throws -> URL {
      for candidate in [name + ".gz", name] {
        let url = directory.appendingPathComponent(candidate)
        if FileManager.default.fileExists(atPath: url.path) { return url }
      }
      throw StrataError.file(
        path: directory.appendingPathComponent(name + ".gz").path,
        reason:
          "not found. Install Debian's package with `apt-get install dataset-fashion-mnist`, or give the directory that holds the files"
      )
    }
    let train = try LabeledImages.load(
      images: file("train-images-idx3-ubyte"), labels: file("train-labels-idx1-ubyte"),
      classes: classNames.count)
    let test = try LabeledImages.load(
      images: file("t10k-images-idx3-ubyte"), labels: file("t10k-labels-idx1-ubyte"),
      classes: classNames.count)
    return (train, test)
  }
}
