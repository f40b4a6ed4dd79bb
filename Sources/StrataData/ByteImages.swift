import StrataCore

/// 8-bit images and their class labels as a dataset: the bytes stay as they are (a quarter of
/// Float32's memory), and each batch is converted as it is gathered, `byte / 255` by default (the
/// tutorials' `x_train / 255.0`, to the same bits). Subsets (`rows(_:)`) share the bytes.
public struct ByteImages: Dataset, Sendable {
  /// The bytes of every image, row-major, shared by subsets.
  public let bytes: [UInt8]
  /// Each image's class index.
  public let labels: [UInt8]
  /// One image's shape: `[28, 28]`, or `[28, 28, 1]` for a CNN.
  public let sampleShape: [Int]
  /// The images of `bytes` this dataset covers.
  public let range: Range<Int>
  /// What each byte is divided by.
  public let divisor: Float

  /// The images of `images` (each reshaped to `sampleShape` when given, same size) with their labels.
  /// - Throws: when `sampleShape` does not hold one image's bytes.
  public init(_ images: LabeledImages, sampleShape: [Int]? = nil, divisor: Float = 255) throws {
    let size = images.images.shape.dropFirst().reduce(1, *)
    let shape = sampleShape ?? Array(images.images.shape.dropFirst())
    try checkArgument(
      shape.reduce(1, *) == size && shape.allSatisfy({ $0 > 0 }),
      owner: "ByteImages", argument: "sampleShape", value: "\(shape)",
      expected: "a shape of \(size) elements, one image")
    bytes = images.images.bytes
    labels = images.labels
    self.sampleShape = shape
    range = 0..<images.count
    self.divisor = divisor
  }

  private init(
    bytes: [UInt8], labels: [UInt8], sampleShape: [Int], range: Range<Int>, divisor: Float
  ) {
    self.bytes = bytes
    self.labels = labels
    self.sampleShape = sampleShape
    self.range = range
    self.divisor = divisor
  }

  /// The images `subrange` (counted within this dataset), sharing the bytes.
  public func rows(_ subrange: Range<Int>) -> ByteImages {
    let lower = range.lowerBound + max(0, min(subrange.lowerBound, count))
    let upper = range.lowerBound + max(0, min(subrange.upperBound, count))
    return ByteImages(
      bytes: bytes, labels: labels, sampleShape: sampleShape, range: lower..<max(lower, upper),
      divisor: divisor)
  }

  /// The number of images.
  public var count: Int { range.count }
  /// One image's shape.
  public var inputShapes: [[Int]] { [sampleShape] }
  /// A class index.
  public var targetShapes: [[Int]] { [[]] }

  /// Buffers for `capacity` images and labels.
  public func makeBatch(capacity: Int) -> Batch {
    Batch(x: [Tensor(shape: [capacity] + sampleShape)], y: [Tensor(shape: [capacity])])
  }

  /// Converts the images at `indices` (and their labels) into `batch`.
  public func gather<Indices: Collection<Int>>(_ indices: Indices, into batch: inout Batch) {
    let size = sampleShape.reduce(1, *)
    batch.x[0].reuse(shape: [indices.count] + sampleShape)
    batch.y[0].reuse(shape: [indices.count])
    let divisor = self.divisor
    bytes.withUnsafeBufferPointer { source in
      batch.x[0].withUnsafeMutableBufferPointer { target in
        guard let source = source.baseAddress, let target = target.baseAddress else { return }
        for (position, index) in indices.enumerated() {
          convert(
            source + (range.lowerBound + index) * size, target + position * size, size, divisor)
        }
      }
    }
    batch.y[0].withUnsafeMutableBufferPointer { target in
      for (position, index) in indices.enumerated() {
        target[position] = Float(labels[range.lowerBound + index])
      }
    }
  }
}

/// `target[i] = Float(source[i]) / divisor` for `count` bytes, in a loop the compiler vectorizes
/// (IEEE division rounds each lane as the scalar one does: the same bits).
private func convert(
  _ source: UnsafePointer<UInt8>, _ target: UnsafeMutablePointer<Float>, _ count: Int,
  _ divisor: Float
) {
  for i in 0..<count { target[i] = Float(source[i]) / divisor }
}
