/// Sums, means and extremes over axes (Keras' `ops.sum`, `ops.mean`, `ops.max`, `ops.min`,
/// `ops.argmax`), with `keepDims` as Keras' `keepdims`.
extension Ops {
  /// The sum over `axis` (every axis when `nil`).
  public static func sum(_ x: Tensor, axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
    try sum(x, axes: axis.map { [$0] }, keepDims: keepDims)
  }

  /// The sum over `axes` (every axis when `nil`).
  public static func sum(_ x: Tensor, axes: [Int]?, keepDims: Bool = false) throws -> Tensor {
    let resolved = try resolve(axes, rank: x.rank, op: "sum")
    let kept = sumKeepingDims(x, axes: resolved)
    let y = try kept.reshaped(to: dropping(resolved, from: x.shape, keepDims: keepDims))
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let shape = x.shape, keptShape = kept.shape
    return tape.record(y, inputs: [x]) { dy in [expand(try dy.reshaped(to: keptShape), to: shape)] }
  }

  /// The mean over `axis` (every axis when `nil`).
  public static func mean(_ x: Tensor, axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
    try mean(x, axes: axis.map { [$0] }, keepDims: keepDims)
  }

  /// The mean over `axes` (every axis when `nil`).
  public static func mean(_ x: Tensor, axes: [Int]?, keepDims: Bool = false) throws -> Tensor {
    let resolved = try resolve(axes, rank: x.rank, op: "mean")
    let n = resolved.reduce(1) { $0 * x.shape[$1] }
    return try sum(x, axes: resolved, keepDims: keepDims) * (1 / Float(Swift.max(n, 1)))
  }

  /// The largest element over `axis` (every axis when `nil`). The gradient is shared equally by
  /// elements tied for the largest.
  public static func max(_ x: Tensor, axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
    try extreme(x, axes: axis.map { [$0] }, keepDims: keepDims, op: "max", largest: true)
  }

  /// The largest element over `axes`.
  public static func max(_ x: Tensor, axes: [Int]?, keepDims: Bool = false) throws -> Tensor {
    try extreme(x, axes: axes, keepDims: keepDims, op: "max", largest: true)
  }

  /// The smallest element over `axis` (every axis when `nil`).
  public static func min(_ x: Tensor, axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
    try extreme(x, axes: axis.map { [$0] }, keepDims: keepDims, op: "min", largest: false)
  }

  /// The smallest element over `axes`.
  public static func min(_ x: Tensor, axes: [Int]?, keepDims: Bool = false) throws -> Tensor {
    try extreme(x, axes: axes, keepDims: keepDims, op: "min", largest: false)
  }

  /// The index of the largest element along `axis` (the first of ties), as whole numbers; no gradient.
  public static func argmax(_ x: Tensor, axis: Int = -1, keepDims: Bool = false) throws -> Tensor {
    let resolved = try self.axis(axis, rank: x.rank, op: "argmax")
    let indices = try x.argmax(axis: resolved)
    return keepDims
      ? try indices.reshaped(to: dropping([resolved], from: x.shape, keepDims: true)) : indices
  }

  /// The index of the smallest element along `axis` (the first of ties); no gradient.
  public static func argmin(_ x: Tensor, axis: Int = -1, keepDims: Bool = false) throws -> Tensor {
    try argmax(map(x) { -$0 }, axis: axis, keepDims: keepDims)
  }

  // MARK: Loops

  static func resolve(_ axes: [Int]?, rank: Int, op: String) throws -> [Int] {
    guard let axes else { return Array(0..<rank) }
    let resolved = try axes.map { try axis($0, rank: rank, op: op) }
    guard Set(resolved).count == resolved.count else {
      throw argumentError(op, "axis", "\(axes)", expected: "each axis once")
    }
    return resolved.sorted()
  }

  static func dropping(_ axes: [Int], from shape: [Int], keepDims: Bool) -> [Int] {
    shape.indices.compactMap { axes.contains($0) ? (keepDims ? 1 : nil) : shape[$0] }
  }

  /// `x`'s layout around `axis`: the elements before it, along it and after it.
  static func layout(_ shape: [Int], axis: Int) -> (outer: Int, length: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
  }

  /// The sum over `axes`, which keep length 1.
  static func sumKeepingDims(_ x: Tensor, axes: [Int]) -> Tensor {
    var result = stopGradient(x)
    for axis in axes where result.shape[axis] != 1 {
      result = fold(result, axis: axis, initial: 0) { $0 + $1 }
    }
    return result
  }

  /// `x` folded along `axis` with `combine`, starting from `initial`; the axis keeps length 1.
  static func fold(
    _ x: Tensor, axis: Int, initial: Float,
    _ combine: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>
  ) -> Tensor {
    let (outer, length, inner) = layout(x.shape, axis: axis)
    var shape = x.shape
    shape[axis] = 1
    var y = Tensor(pooledShape: shape, repeating: initial)
    guard y.count > 0 else { return y }
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { ys in
        if inner == 1 {
          for o in 0..<outer {
            var accumulator = SIMD16<Float>(repeating: initial)
            var k = 0
            let row = xs.baseAddress! + o * length
            while k + 16 <= length {
              accumulator = combine(
                accumulator, UnsafeRawPointer(row + k).loadUnaligned(as: SIMD16<Float>.self))
              k += 16
            }
            var tail = SIMD16<Float>(repeating: initial)
            for j in 0..<(length - k) { tail[j] = row[k + j] }
            accumulator = combine(accumulator, tail)
            var total = accumulator[0]
            for lane in 1..<16 {
              total = combine(SIMD16(repeating: total), SIMD16(repeating: accumulator[lane]))[0]
            }
            ys[o] = total
          }
        } else {
          for o in 0..<outer {
            let target = UnsafeMutableBufferPointer(rebasing: ys[(o * inner)..<((o + 1) * inner)])
            for k in 0..<length {
              let start = (o * length + k) * inner
              simdZip(
                UnsafeBufferPointer(target),
                UnsafeBufferPointer(rebasing: xs[start..<start + inner]),
                into: target, combine)
            }
          }
        }
      }
    }
    return y
  }

  private static func extreme(
    _ x: Tensor, axes: [Int]?, keepDims: Bool, op: String, largest: Bool
  ) throws -> Tensor {
    let resolved = try resolve(axes, rank: x.rank, op: op)
    if let empty = resolved.first(where: { x.shape[$0] == 0 }) {
      throw argumentError(op, "axis", "\(empty)", expected: "an axis of non-zero length")
    }
    var kept = stopGradient(x)
    for axis in resolved where kept.shape[axis] != 1 {
      kept =
        largest
        ? fold(kept, axis: axis, initial: -.infinity) { $0.replacing(with: $1, where: $1 .> $0) }
        : fold(kept, axis: axis, initial: .infinity) { $0.replacing(with: $1, where: $1 .< $0) }
    }
    let y = try kept.reshaped(to: dropping(resolved, from: x.shape, keepDims: keepDims))
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let shape = x.shape, keptShape = kept.shape
    return tape.record(y, inputs: [x]) { dy in
      let mask = try pairwise(op, x, kept) { a, b in
        SIMD16<Float>(repeating: 0).replacing(with: 1, where: a .== b)
      }
      let ties = sumKeepingDims(mask, axes: resolved)
      let share = try pairwise(op, try dy.reshaped(to: keptShape), ties) { $0 / $1 }
      return [try pairwise(op, mask, share) { $0 * $1 }.reshaped(to: shape)]
    }
  }
}
