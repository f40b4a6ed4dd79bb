import Foundation
import StrataCore
import Synchronization

/// Images from class folders, decoded batch by batch as `fit`, `evaluate` and `predict` ask for them:
/// the files are listed once, and while a batch trains the next one is decoded on background threads.
/// Memory holds a few batches whatever the folder's size. Keras: `image_dataset_from_directory`.
///
/// ```swift
/// let training = try ImageFolderDataset(
///   directory: URL(fileURLWithPath: "horse-or-human"), imageSize: (300, 300), labelMode: .binary,
///   rescale: 1 / 255, seed: 7, validationSplit: 0.2, subset: .training)
/// try model.fit(training, batchSize: 32, epochs: 15)
/// ```
///
/// The images, labels and order are those ``ImageFolder/load(from:imageSize:colorMode:labelMode:rescale:shuffle:seed:validationSplit:subset:maximumPixels:)``
/// gives for the same arguments; `fit` shuffles the samples again every epoch with the model's seeded
/// generator, so a resumed run sees the same batches.
public final class ImageFolderDataset: Dataset, @unchecked Sendable {
  /// The class names in label order: the subdirectories, sorted.
  public let classNames: [String]
  /// Each image's file, in sample order.
  public let files: [URL]
  /// Each image's class index.
  public let labels: [Int]
  /// `(height, width)` every image is resized to.
  public let imageSize: (height: Int, width: Int)
  /// Gray or RGB.
  public let colorMode: ImageFolder.ColorMode
  /// How labels are given.
  public let labelMode: ImageFolder.LabelMode
  /// The factor pixels (0 to 255) are multiplied by.
  public let rescale: Float
  /// The most pixels one image may claim before it is decoded.
  public let maximumPixels: Int

  /// The next batch, decoded in the background: its indices, its buffers, and the error it met.
  private var staged: Batch?
  private var stagedIndices: [Int] = []
  private var stagedError: (any Error)?
  private let pending = DispatchGroup()
  private let queue = DispatchQueue(label: "strata.image-folder.prefetch")
  /// The most images decoded and not yet handed out at any time (the staged batch's), for tests.
  public private(set) var largestPrefetch = 0

  /// Lists the images below each class subdirectory of `directory`; none is decoded yet.
  /// - Parameters: as ``ImageFolder/load(from:imageSize:colorMode:labelMode:rescale:shuffle:seed:validationSplit:subset:maximumPixels:)``.
  /// - Throws: ``StrataError/file(path:reason:)`` for a missing directory or one without images;
  ///   ``StrataError/invalidArgument(owner:argument:value:expected:)`` for bad arguments. A corrupt
  ///   image is reported, by name, by the batch that reads it.
  public init(
    directory: URL, imageSize: (height: Int, width: Int) = (256, 256),
    colorMode: ImageFolder.ColorMode = .rgb, labelMode: ImageFolder.LabelMode = .int,
    rescale: Float = 1, shuffle: Bool = true, seed: UInt64 = 0, validationSplit: Float? = nil,
    subset: ImageFolder.Subset? = nil,
    maximumPixels: Int = ImageFolder.defaultMaximumPixels
  ) throws {
    try checkArgument(
      imageSize.height > 0 && imageSize.width > 0,
      owner: "ImageFolderDataset", argument: "imageSize",
      value: "(\(imageSize.height), \(imageSize.width))", expected: "positive sizes")
    _ = try elementCount(
      of: [imageSize.height, imageSize.width, colorMode.rawValue], owner: "ImageFolderDataset",
      argument: "imageSize")
    let (classNames, files) = try ImageFolder.listing(
      directory, labelMode: labelMode, shuffle: shuffle, seed: seed,
      validationSplit: validationSplit, subset: subset)
    self.classNames = classNames
    self.files = files.map(\.0)
    labels = files.map(\.1)
    self.imageSize = imageSize
    self.colorMode = colorMode
    self.labelMode = labelMode
    self.rescale = rescale
    self.maximumPixels = maximumPixels
  }

  /// The number of images.
  public var count: Int { files.count }
  /// One image: `[height, width, channels]`.
  public var inputShapes: [[Int]] { [[imageSize.height, imageSize.width, colorMode.rawValue]] }
  /// A class index (`[]`), a one-hot row (`[classes]`) or 0/1 (`[1]`).
  public var targetShapes: [[Int]] {
    switch labelMode {
    case .int: [[]]
    case .categorical: [[classNames.count]]
    case .binary: [[1]]
    }
  }

  /// Buffers for `capacity` images and their labels.
  public func makeBatch(capacity: Int) -> Batch {
    Batch(
      x: [Tensor(shape: [capacity] + inputShapes[0])],
      y: [Tensor(shape: [capacity] + targetShapes[0])])
  }

  /// Decodes the images at `indices` (on as many threads as there are cores) into `batch`.
  private func decode(_ indices: [Int], into batch: inout Batch) throws {
    let sample = inputShapes[0].reduce(1, *)
    batch.x[0].reuse(shape: [indices.count] + inputShapes[0])
    batch.y[0].reuse(shape: [indices.count] + targetShapes[0])
    let errors = Mutex<[Int: any Error]>([:])
    let (height, width) = imageSize
    let channels = colorMode.rawValue
    batch.x[0].withUnsafeMutableBufferPointer { pixels in
      let base = UncheckedPointer(pixels.baseAddress!)
      DispatchQueue.concurrentPerform(iterations: indices.count) { position in
        let target = UnsafeMutableBufferPointer(
          start: base.pointer + position * sample, count: sample)
        do {
          try ImageFolder.decode(
            files[indices[position]], channels: channels, into: target, height: height,
            width: width, scale: rescale, maximumPixels: maximumPixels)
        } catch {
          errors.withLock { $0[position] = error }
        }
      }
    }
    if let (_, error) = errors.withLock({ $0.min { $0.key < $1.key } }) { throw error }
    let classes = classNames.count
    batch.y[0].withUnsafeMutableBufferPointer { values in
      if labelMode == .categorical { values.update(repeating: 0) }
      for (position, index) in indices.enumerated() {
        switch labelMode {
        case .int, .binary: values[position] = Float(labels[index])
        case .categorical: values[position * classes + labels[index]] = 1
        }
      }
    }
  }

  /// The images at `indices`: the batch decoded in the background when it is the one asked for,
  /// else decoded now.
  public func gather<Indices: Collection<Int>>(_ indices: Indices, into batch: inout Batch) throws {
    let requested = Array(indices)
    pending.wait()
    if var ready = staged, stagedIndices == requested {
      staged = nil
      if let error = stagedError {
        stagedError = nil
        throw error
      }
      // The decoded buffers become the batch's; the batch's old ones are reused next time.
      swap(&ready, &batch)
      staged = ready
      stagedIndices = []
      return
    }
    try decode(requested, into: &batch)
  }

  /// Starts decoding the images at `indices` in the background.
  public func prefetch<Indices: Collection<Int>>(_ indices: Indices) {
    pending.wait()
    let requested = Array(indices)
    if staged == nil { staged = makeBatch(capacity: requested.count) }
    stagedIndices = requested
    largestPrefetch = max(largestPrefetch, requested.count)
    pending.enter()
    queue.async { [self] in
      // gather and prefetch wait for `pending` before touching the staged batch: it is this
      // closure's alone until it leaves.
      var buffers = staged!
      staged = nil
      do {
        try decode(requested, into: &buffers)
        stagedError = nil
      } catch {
        stagedError = error
      }
      staged = buffers
      pending.leave()
    }
  }
}

/// A pointer handed to the decoding threads, each writing its own image's part.
private struct UncheckedPointer: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Float>
  init(_ pointer: UnsafeMutablePointer<Float>) { self.pointer = pointer }
}
