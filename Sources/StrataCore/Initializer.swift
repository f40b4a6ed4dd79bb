/// Fills a new weight: `glorot_uniform`, `zeros`, `he_normal`, …
///
/// Fans follow Keras: for a kernel `[in, out]`, `fanIn = in`, `fanOut = out`; for a convolution kernel
/// `[kh, kw, in, out]` both are multiplied by `kh · kw`.
public protocol Initializer: Sendable, Registrable where Product == any Initializer {
  /// Fills `values`, a weight of `shape`, drawing from `generator`.
  func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator)
}

extension Initializer {
  /// A new tensor of `shape` filled by this initializer.
  ///
  /// The shape is checked before anything is allocated (``elementCount(of:owner:argument:)``) and
  /// charged to the ``AllocationBudget`` in force, so a layer built from a hostile config gets an error.
  /// Under a budget whose values follow from a file, the tensor is left unwritten for the file's.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` for a shape too large.
  public func make(shape: [Int], generator: inout SeededGenerator) throws -> Tensor {
    let count = try elementCount(of: shape, owner: "weight")
    let budget = AllocationBudget.current
    try budget?.charge(count, owner: "weight", shape: shape)
    // Values a file replaces next: not drawn, not even cleared (the pages stay untouched).
    if budget?.valuesFollow == true { return Tensor(uninitializedShape: shape) }
    var tensor = Tensor(shape: shape)
    tensor.withUnsafeMutableBufferPointer { fill($0, shape: shape, generator: &generator) }
    return tensor
  }
}

/// `(fanIn, fanOut)` of a weight of `shape`, as Keras computes them.
public func fans(of shape: [Int]) -> (fanIn: Double, fanOut: Double) {
  switch shape.count {
  case 0: return (1, 1)
  case 1: return (Double(shape[0]), Double(shape[0]))
  case 2: return (Double(shape[0]), Double(shape[1]))
  default:
    let receptive = Double(shape.dropLast(2).reduce(1, *))
    return (Double(shape[shape.count - 2]) * receptive, Double(shape[shape.count - 1]) * receptive)
  }
}
