/// One batch of a dataset: an array per model input and one per output, the batch axis first.
public struct Batch {
  /// The inputs, one array per model input.
  public var x: [Tensor]
  /// The targets, one array per model output.
  public var y: [Tensor]
  /// One weight per sample (`[rows]`) when the dataset has them: each sample's loss counts that much.
  public var sampleWeights: Tensor?

  /// A batch of the given arrays.
  public init(x: [Tensor], y: [Tensor], sampleWeights: Tensor? = nil) {
    self.x = x
    self.y = y
    self.sampleWeights = sampleWeights
  }
}

/// Samples a model trains on, handed out in batches: arrays in memory today (``ArrayDataset``), image
/// folders or one process's share of a dataset tomorrow. `fit`, `evaluate` take any.
public protocol Dataset {
  /// How many samples there are.
  var count: Int { get }
  /// The shape of one sample of each input (without the batch axis).
  var inputShapes: [[Int]] { get }
  /// The shape of one target of each output (without the batch axis).
  var targetShapes: [[Int]] { get }
  /// Buffers for batches of up to `capacity` samples, reused by ``gather(_:into:)``.
  func makeBatch(capacity: Int) -> Batch
  /// Fills `batch` with the samples at `indices`, in that order (the buffers are reshaped to
  /// `indices.count` rows without reallocating).
  /// - Throws: when a sample cannot be read (a corrupt image file, named).
  func gather<Indices: Collection<Int>>(_ indices: Indices, into batch: inout Batch) throws
  /// A hint that ``gather(_:into:)`` will be asked for `indices` next: a dataset that reads from disk
  /// starts on them in the background. Does nothing by default.
  func prefetch<Indices: Collection<Int>>(_ indices: Indices)
}

extension Dataset {
  /// Nothing to prepare: the samples are in memory.
  public func prefetch<Indices: Collection<Int>>(_ indices: Indices) {}
}

/// Arrays in memory as a dataset: each input and target array holds one row per sample.
public struct ArrayDataset: Dataset {
  /// The input arrays.
  public let x: [Tensor]
  /// The target arrays.
  public let y: [Tensor]
  /// One weight per sample, or `nil`.
  public let sampleWeight: Tensor?

  /// Arrays with the same number of rows, at least one, and optionally a weight per sample.
  /// - Throws: when an array has no batch axis or a different number of rows, or a weight is negative
  ///   or not finite.
  public init(x: [Tensor], y: [Tensor], sampleWeight: Tensor? = nil) throws {
    try self.init(x: x, y: y, sampleWeight: sampleWeight, owner: "ArrayDataset")
  }

  /// Checks the arrays, naming `owner` and the arguments in errors.
  public init(
    x: [Tensor], y: [Tensor], sampleWeight: Tensor? = nil, owner: String,
    names: (String, String) = ("x", "y")
  ) throws {
    func label(_ base: String, _ index: Int, of count: Int) -> String {
      count == 1 ? base : "\(base)[\(index)]"
    }
    try checkArgument(
      !x.isEmpty && !y.isEmpty,
      owner: owner, argument: x.isEmpty ? names.0 : names.1, value: "an empty list",
      expected: "at least one array")
    let arrays =
      x.enumerated().map { (label(names.0, $0.offset, of: x.count), $0.element) }
      + y.enumerated().map { (label(names.1, $0.offset, of: y.count), $0.element) }
    for (name, array) in arrays where array.rank < 1 {
      throw StrataError.invalidArgument(
        owner: owner, argument: name, value: "a scalar", expected: "a batch axis first")
    }
    let rows = x[0].shape[0]
    for (name, array) in arrays.dropFirst() where array.shape[0] != rows {
      throw StrataError.invalidArgument(
        owner: owner, argument: name, value: "with \(array.shape[0]) samples",
        expected: "as many samples as \(arrays[0].0) (\(rows))")
    }
    try checkArgument(
      rows > 0,
      owner: owner, argument: arrays[0].0, value: "with no samples",
      expected: "at least one sample")
    if let sampleWeight {
      try checkArgument(
        sampleWeight.count == rows && sampleWeight.shape.first == rows,
        owner: owner, argument: "sampleWeight", value: "of shape \(sampleWeight.shape)",
        expected: "one weight per sample ([\(rows)])")
      if let bad = sampleWeight.scalars.first(where: { !($0.isFinite && $0 >= 0) }) {
        throw StrataError.invalidArgument(
          owner: owner, argument: "sampleWeight", value: "holding \(bad)",
          expected: "finite weights ≥ 0")
      }
    }
    self.x = x
    self.y = y
    self.sampleWeight = sampleWeight.map { (try? $0.reshaped(to: [rows])) ?? $0 }
  }

  /// The samples `range` of every array.
  public func rows(_ range: Range<Int>) -> ArrayDataset {
    ArrayDataset(
      uncheckedX: x.map { $0.slice(rows: range) }, y: y.map { $0.slice(rows: range) },
      sampleWeight: sampleWeight?.slice(rows: range))
  }

  private init(uncheckedX x: [Tensor], y: [Tensor], sampleWeight: Tensor?) {
    self.x = x
    self.y = y
    self.sampleWeight = sampleWeight
  }

  /// The number of rows.
  public var count: Int { x[0].shape[0] }
  /// Each input array's sample shape.
  public var inputShapes: [[Int]] { x.map { Array($0.shape.dropFirst()) } }
  /// Each target array's sample shape.
  public var targetShapes: [[Int]] { y.map { Array($0.shape.dropFirst()) } }

  /// Buffers of `capacity` rows.
  public func makeBatch(capacity: Int) -> Batch {
    Batch(
      x: x.map { Tensor(shape: [capacity] + $0.shape.dropFirst()) },
      y: y.map { Tensor(shape: [capacity] + $0.shape.dropFirst()) },
      sampleWeights: sampleWeight.map { _ in Tensor(shape: [capacity]) })
  }

  /// Copies the rows at `indices`; consecutive rows in one copy.
  public func gather<Indices: Collection<Int>>(_ indices: Indices, into batch: inout Batch) {
    let rows = indices.count
    guard let first = indices.first else { return }
    var consecutive = true
    var expected = first
    for index in indices {
      if index != expected {
        consecutive = false
        break
      }
      expected += 1
    }
    func copy(_ source: Tensor, into target: inout Tensor) {
      let size = source.shape.dropFirst().reduce(1, *)
      target.reuse(shape: [rows] + source.shape.dropFirst())
      source.withUnsafeBufferPointer { s in
        target.withUnsafeMutableBufferPointer { t in
          if consecutive {
            t.baseAddress!.update(from: s.baseAddress! + first * size, count: rows * size)
          } else {
            for (i, index) in indices.enumerated() {
              (t.baseAddress! + i * size).update(from: s.baseAddress! + index * size, count: size)
            }
          }
        }
      }
    }
    for k in x.indices { copy(x[k], into: &batch.x[k]) }
    for k in y.indices { copy(y[k], into: &batch.y[k]) }
    if let sampleWeight, batch.sampleWeights != nil {
      copy(sampleWeight, into: &batch.sampleWeights!)
    }
  }
}
