/// Aligned Float32 memory owned by one or more ``Tensor`` values (copy-on-write).
public final class TensorStorage: @unchecked Sendable {
  /// How many floats fit; a tensor may use fewer (a ragged last batch reuses a larger buffer).
  public let capacity: Int
  /// The first float.
  public let base: UnsafeMutablePointer<Float>
  /// Whether the buffer goes back to ``BufferPool`` when this storage is freed.
  private let pooled: Bool

  /// Allocates `capacity` floats, zeroed, aligned to 64 bytes (a cache line, an AVX-512 vector).
  ///
  /// Programmer precondition: memory the machine can give. For a size that comes from outside, use
  /// ``init(tryCapacity:)``.
  public convenience init(capacity: Int) {
    self.init(capacity: capacity, zeroed: true)
  }

  /// Storage for `capacity` floats, cleared or not (the caller then writes every one before
  /// reading any). Programmer precondition: a capacity the machine has memory for.
  init(capacity: Int, zeroed: Bool) {
    guard let base = Self.allocate(capacity, zeroed: zeroed) else {
      fatalError("cannot allocate \(capacity) floats")
    }
    self.capacity = capacity
    self.base = base
    pooled = false
  }

  /// `capacity` zeroed floats, from ``BufferPool`` when it holds a buffer of that size, returned to it
  /// when this storage is freed: the memory of op results, which repeat their sizes step after step.
  /// `nil` when the system has not the memory.
  init?(pooledCapacity capacity: Int, zeroed: Bool = true) {
    if let (base, kept) = BufferPool.take(capacity) {
      if zeroed { base.update(repeating: 0, count: max(1, capacity)) }
      self.base = base
      self.capacity = kept
    } else {
      guard let base = Self.allocate(capacity, zeroed: zeroed) else { return nil }
      self.base = base
      self.capacity = capacity
    }
    pooled = true
  }

  /// Allocates `capacity` floats, zeroed, or `nil` when the system has not that much memory to give
  /// (an address-space limit, or more than it holds).
  public init?(tryCapacity capacity: Int) {
    guard let base = Self.allocate(capacity) else { return nil }
    self.capacity = capacity
    self.base = base
    pooled = false
  }

  /// `capacity` floats from `posix_memalign`, which reports a failure instead of aborting; zeroed
  /// unless the caller writes every one first.
  private static func allocate(_ capacity: Int, zeroed: Bool = true) -> UnsafeMutablePointer<Float>?
  {
    let count = max(1, capacity)
    let (bytes, overflow) = count.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
    var raw: UnsafeMutableRawPointer?
    guard capacity >= 0, !overflow, posix_memalign(&raw, 64, bytes) == 0, let raw else {
      return nil
    }
    let base = raw.bindMemory(to: Float.self, capacity: count)
    if zeroed { base.initialize(repeating: 0, count: count) }
    return base
  }

  deinit {
    if pooled && BufferPool.give(base, capacity: capacity) { return }
    free(base)
  }
}

/// An n-dimensional array of Float32: a shape and contiguous, row-major, 64-byte-aligned storage.
///
/// `Tensor` is a value type with copy-on-write storage, like Swift's `Array`. Images are channels-last
/// (`[batch, height, width, channels]`), as in Keras. Layers keep their output buffers between steps and
/// write into them again when nobody else holds them, so a training step allocates nothing.
public struct Tensor: Sendable, Equatable, CustomStringConvertible {
  /// The size of each axis; the first is the batch axis where there is one.
  public private(set) var shape: [Int]
  /// The memory, shared with copies until one is written.
  public private(set) var storage: TensorStorage
  /// The number of elements: the product of ``shape``.
  public private(set) var count: Int
  /// The node of the recording ``GradientTape`` that computed this value (its serial in the high
  /// 32 bits, the node's index plus one in the low); 0 for a constant. Any write clears it: a changed
  /// value is no longer what the tape recorded.
  var trace: UInt64 = 0

  /// A tensor of `shape` with every element set to `value`.
  ///
  /// Programmer precondition: no negative dimension and an element count the machine can hold. For a
  /// shape that comes from a user or a file, use ``init(checkedShape:repeating:owner:)``, which throws.
  public init(shape: [Int], repeating value: Float = 0) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
    self.shape = shape
    count = shape.reduce(1, *)
    storage = TensorStorage(capacity: count)
    if value != 0 { storage.base.update(repeating: value, count: count) }
  }

  /// A tensor of `shape` filled with `value` whose memory comes from, and goes back to,
  /// ``BufferPool``: what ops compute their results and gradients in.
  ///
  /// Programmer precondition, as for ``init(shape:repeating:)``: a shape the machine has memory for.
  init(pooledShape shape: [Int], repeating value: Float = 0) {
    self.init(pooledShape: shape, zeroed: true)
    if value != 0 { storage.base.update(repeating: value, count: count) }
  }

  /// A tensor whose elements are written, every one, before any is read (a weight read from a file
  /// right after it is made): its memory is not cleared, so a large one stays untouched pages until
  /// then. Programmer precondition: a shape the machine has memory for.
  init(uninitializedShape shape: [Int]) {
    self.shape = shape
    count = shape.reduce(1, *)
    storage = TensorStorage(capacity: count, zeroed: false)
  }

  /// A pooled tensor whose elements the caller writes, every one, before reading any: a buffer
  /// the pool gives back is not cleared first (an op's result, written whole).
  package init(uninitializedPooledShape shape: [Int]) {
    self.init(pooledShape: shape, zeroed: false)
  }

  /// A pooled tensor, zeroed or not. Programmer precondition: a shape the machine has memory for.
  private init(pooledShape shape: [Int], zeroed: Bool) {
    let count = shape.reduce(1, *)
    guard let storage = TensorStorage(pooledCapacity: count, zeroed: zeroed) else {
      fatalError("cannot allocate \(count) floats")
    }
    self.shape = shape
    self.count = count
    self.storage = storage
  }

  /// A pooled tensor (``init(pooledShape:repeating:)``) of a shape that came from outside: the count
  /// is checked as ``init(checkedShape:repeating:owner:)`` checks it.
  init(pooledCheckedShape shape: [Int], owner: String) throws {
    let count = try elementCount(of: shape, owner: owner)
    guard let storage = TensorStorage(pooledCapacity: count) else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "shape", value: "\(shape)",
        expected: "a tensor the system has memory for (\(count) floats could not be allocated)")
    }
    self.shape = shape
    self.count = count
    self.storage = storage
  }

  /// A tensor of a shape that came from outside (a config, a file, a user): the element count is
  /// checked, and an allocation the system refuses is a thrown error instead of an abort.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` naming `owner`.
  public init(checkedShape shape: [Int], repeating value: Float = 0, owner: String = "Tensor")
    throws
  {
    let count = try elementCount(of: shape, owner: owner)
    guard let storage = TensorStorage(tryCapacity: count) else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "shape", value: "\(shape)",
        expected: "a tensor the system has memory for (\(count) floats could not be allocated)")
    }
    self.shape = shape
    self.count = count
    self.storage = storage
    if value != 0 { storage.base.update(repeating: value, count: count) }
  }

  /// A tensor of `shape` holding `scalars` in row-major order.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` when the counts differ.
  public init(shape: [Int], scalars: [Float]) throws {
    let count = try elementCount(of: shape, owner: "Tensor")
    try checkArgument(
      count == scalars.count,
      owner: "Tensor", argument: "scalars", value: "of count \(scalars.count)",
      expected: "\(count) values for shape \(shape)")
    self.init(shape: shape)
    scalars.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: count) }
  }

  /// A 1-D tensor of `scalars`.
  public init(_ scalars: [Float]) {
    self.init(shape: [scalars.count])
    scalars.withUnsafeBufferPointer { storage.base.update(from: $0.baseAddress!, count: count) }
  }

  /// A 2-D tensor from rows of equal length.
  public init(_ rows: [[Float]]) throws {
    let columns = rows.first?.count ?? 0
    try checkArgument(
      rows.allSatisfy({ $0.count == columns }),
      owner: "Tensor", argument: "rows", value: "of lengths \(rows.map(\.count))",
      expected: "rows of equal length")
    try self.init(shape: [rows.count, columns], scalars: rows.flatMap { $0 })
  }

  /// The number of axes.
  public var rank: Int { shape.count }

  /// The elements in row-major order (a copy).
  public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

  /// The element at a multi-dimensional index.
  public subscript(_ indices: Int...) -> Float {
    get { storage.base[flatIndex(indices)] }
    set {
      let index = flatIndex(indices)
      makeUnique()
      storage.base[index] = newValue
    }
  }

  private func flatIndex(_ indices: [Int]) -> Int {
    precondition(indices.count == shape.count, "index \(indices) for shape \(shape)")
    var index = 0
    for (i, dimension) in zip(indices, shape) {
      precondition(i >= 0 && i < dimension, "index \(indices) out of range for shape \(shape)")
      index = index * dimension + i
    }
    return index
  }

  /// Reads the elements in place.
  @inlinable public func withUnsafeBufferPointer<R>(
    _ body: (UnsafeBufferPointer<Float>) throws -> R
  ) rethrows
    -> R
  {
    try body(UnsafeBufferPointer(start: storage.base, count: count))
  }

  /// Writes the elements in place, copying the storage first if another tensor shares it.
  @inlinable
  public mutating func withUnsafeMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    makeUnique()
    return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
  }

  /// Writes elements of a storage other tensors may share, without copying it first: for the
  /// inference executor's concatenation blocks, whose other holders read only elements these writes
  /// leave alone.
  package func withUnsafeSharedMutableBufferPointer<R>(
    _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
  ) rethrows -> R {
    try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
  }

  @usableFromInline
  mutating func makeUnique() {
    trace = 0
    if !isKnownUniquelyReferenced(&storage) {
      let copy = TensorStorage(capacity: count)
      copy.base.update(from: storage.base, count: count)
      storage = copy
    }
  }

  /// The address of the elements for writing, after making the storage unique. For kernels that
  /// own the tensor (optimizer slots, layer buffers): the pointer is valid while the tensor is neither
  /// copied-and-written nor reassigned.
  public var mutablePointer: UnsafeMutablePointer<Float> {
    mutating get {
      makeUnique()
      return storage.base
    }
  }

  /// Gives this tensor `shape` with unspecified contents, reusing its storage when it is not shared
  /// and large enough. This is how layers keep their buffers across steps without allocating.
  public mutating func reuse(shape newShape: [Int]) {
    trace = 0
    let newCount = newShape.reduce(1, *)
    if newShape != shape { shape = newShape }
    count = newCount
    if newCount > storage.capacity || !isKnownUniquelyReferenced(&storage) {
      storage = TensorStorage(capacity: newCount)
    }
  }

  /// A tensor of no elements whose storage every copy shares: what a layer holds in place of an
  /// output it handed over.
  package static let empty = Tensor(shape: [0])

  /// Makes this a buffer of `shape` for a layer to write its output into. In training (`context`'s
  /// ``Context/isTraining``) it is the layer's own buffer, kept and written again next step, as
  /// ``reuse(shape:)``; in inference a buffer from the pool that the layer hands over with
  /// ``handOut(in:)``, so that nothing holds it once the graph's last reader ran: inference keeps
  /// the live activations only. Its elements are not cleared: the layer writes every one.
  public mutating func reuse(shape newShape: [Int], in context: Context) {
    if context.isTraining {
      reuse(shape: newShape)
    } else {
      self = Tensor(uninitializedPooledShape: newShape)
    }
  }

  /// Whether no other tensor shares this one's storage: writing it then copies nothing.
  package mutating func isUniquelyReferenced() -> Bool { isKnownUniquelyReferenced(&storage) }

  /// This tensor, for a layer to return after writing it; in inference the layer keeps nothing of it
  /// (see ``reuse(shape:in:)``).
  public mutating func handOut(in context: Context) -> Tensor {
    let result = self
    if !context.isTraining { self = Tensor.empty }
    return result
  }

  /// The same elements with another shape of the same count, sharing storage until one is written.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` when the counts differ.
  public func reshaped(to newShape: [Int]) throws -> Tensor {
    var result = self
    try checkArgument(
      (try? elementCount(of: newShape, owner: "Tensor")) == count,
      owner: "Tensor", argument: "shape", value: "\(newShape)",
      expected: "a shape of \(count) elements, like \(shape)")
    result.shape = newShape
    result.trace = 0
    return result
  }

  /// Rows `range` of the first axis, copied into a new tensor.
  ///
  /// Programmer precondition: `range` lies within the first axis.
  public func slice(rows range: Range<Int>) -> Tensor {
    precondition(
      range.lowerBound >= 0 && range.upperBound <= (shape.first ?? 0),
      "rows \(range) of shape \(shape)")
    let result = Tensor(shape: [range.count] + shape.dropFirst())
    let rowSize = shape.dropFirst().reduce(1, *)
    result.storage.base.update(
      from: storage.base + range.lowerBound * rowSize, count: range.count * rowSize)
    return result
  }

  /// Equal shapes and equal elements, bit for bit.
  public static func == (lhs: Tensor, rhs: Tensor) -> Bool {
    lhs.shape == rhs.shape
      && lhs.withUnsafeBufferPointer { a in rhs.withUnsafeBufferPointer { b in a.elementsEqual(b) }
      }
  }

  public var description: String {
    let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
    return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
  }
}

import Foundation
