/// A projection applied to a weight after each optimizer update (`w ← c(w − lr · g)`): Keras'
/// `keras.constraints`, given as a layer's `kernel_constraint` or `bias_constraint`. Never applied at
/// build time, as in Keras.
public protocol Constraint: Sendable, Registrable where Product == any Constraint {
  /// Projects `value` in place.
  func apply(to value: inout Tensor)
}

extension Registries {
  /// The constraint a spec names (`"max_norm"`, or a name and config).
  public func constraint(_ spec: Spec) throws -> any Constraint {
    try constraints.make(spec.identifier, config: spec.config)
  }
}

/// The L2 norm of `value` over `axes` (negative axes count from the end), one per position of the
/// other axes, as a function from flat index to that norm.
public func norms(of value: Tensor, over axes: [Int]) -> (Int) -> Float {
  let rank = value.rank
  let reduced = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
  let shape = value.shape
  var strides = [Int](repeating: 1, count: rank)
  for i in stride(from: rank - 2, through: 0, by: -1) { strides[i] = strides[i + 1] * shape[i + 1] }
  // The position of an element among the kept axes.
  var keptStrides = [Int](repeating: 0, count: rank)
  var size = 1
  for i in stride(from: rank - 1, through: 0, by: -1) where !reduced.contains(i) {
    keptStrides[i] = size
    size *= shape[i]
  }
  func key(_ index: Int) -> Int {
    var key = 0
    for i in 0..<rank where keptStrides[i] != 0 || !reduced.contains(i) {
      key += (index / strides[i] % shape[i]) * keptStrides[i]
    }
    return key
  }
  var sums = [Double](repeating: 0, count: max(size, 1))
  let scalars = value.scalars
  for (i, v) in scalars.enumerated() { sums[key(i)] += Double(v) * Double(v) }
  let norms = sums.map { Float($0.squareRoot()) }
  return { norms[key($0)] }
}
