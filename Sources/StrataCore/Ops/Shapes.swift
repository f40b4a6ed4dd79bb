/// Ops that move elements: reshape, transpose, slicing, joining, gathering and broadcasting.
extension Ops {
  /// The same elements in `shape`; one axis may be -1, inferred (Keras' `ops.reshape`).
  public static func reshape(_ x: Tensor, _ shape: [Int]) throws -> Tensor {
    var target = shape
    let unknown = shape.indices.filter { shape[$0] == -1 }
    let known = shape.filter { $0 != -1 }.reduce(1, *)
    if unknown.count == 1, known > 0, x.count % known == 0 { target[unknown[0]] = x.count / known }
    guard unknown.count <= 1, target.allSatisfy({ $0 >= 0 }), target.reduce(1, *) == x.count else {
      throw shapeError("reshape", [x.shape, shape], expected: "a shape of \(x.count) elements")
    }
    let y = try x.reshaped(to: target)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let original = x.shape
    return tape.record(y, inputs: [x]) { dy in [try dy.reshaped(to: original)] }
  }

  /// `x` with its axes in the order `axes` (reversed when `nil`) (Keras' `ops.transpose`).
  public static func transpose(_ x: Tensor, axes: [Int]? = nil) throws -> Tensor {
    let order =
      try axes.map { try $0.map { try axis($0, rank: x.rank, op: "transpose") } }
      ?? Array((0..<x.rank).reversed())
    guard order.count == x.rank, Set(order).count == x.rank else {
      throw argumentError(
        "transpose", "axes", "\(axes ?? [])", expected: "each of the \(x.rank) axes once")
    }
    let y = permute(x, order)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    var inverse = order
    for (i, axis) in order.enumerated() { inverse[axis] = i }
    return tape.record(y, inputs: [x]) { dy in [permute(dy, inverse)] }
  }

  /// `x` with a new axis of length 1 at `axis` (Keras' `ops.expand_dims`).
  public static func expandDims(_ x: Tensor, axis: Int) throws -> Tensor {
    let position = try self.axis(axis, rank: x.rank + 1, op: "expand_dims")
    var shape = x.shape
    shape.insert(1, at: position)
    return try reshape(x, shape)
  }

  /// `x` without its axes of length 1 (only `axis` when given) (Keras' `ops.squeeze`).
  public static func squeeze(_ x: Tensor, axis: Int? = nil) throws -> Tensor {
    var shape = x.shape
    if let axis {
      let resolved = try self.axis(axis, rank: x.rank, op: "squeeze")
      guard shape[resolved] == 1 else {
        throw argumentError(
          "squeeze", "axis", "\(axis)", expected: "an axis of length 1 (it has \(shape[resolved]))")
      }
      shape.remove(at: resolved)
    } else {
      shape.removeAll { $0 == 1 }
    }
    return try reshape(x, shape)
  }

  /// `x` repeated along its axes of length 1 to `shape` (Keras' `ops.broadcast_to`).
  public static func broadcastTo(_ x: Tensor, _ shape: [Int]) throws -> Tensor {
    guard try broadcastShape(x.shape, shape, op: "broadcast_to") == shape else {
      throw shapeError("broadcast_to", [x.shape, shape], expected: "a shape x broadcasts to")
    }
    let y = expand(x, to: shape)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let original = x.shape
    return tape.record(y, inputs: [x]) { dy in [reduce(dy, to: original)] }
  }

  /// The tensors joined along `axis`; the other axes must agree (Keras' `ops.concatenate`).
  public static func concatenate(_ xs: [Tensor], axis: Int = 0) throws -> Tensor {
    guard let first = xs.first else {
      throw argumentError("concatenate", "xs", "[]", expected: "at least one tensor")
    }
    let resolved = try self.axis(axis, rank: first.rank, op: "concatenate")
    for x in xs {
      var a = x.shape, b = first.shape
      guard a.count == b.count else {
        throw shapeError("concatenate", xs.map(\.shape), expected: "tensors of equal rank")
      }
      a[resolved] = 0
      b[resolved] = 0
      guard a == b else {
        throw shapeError(
          "concatenate", xs.map(\.shape), expected: "equal lengths except along axis \(axis)")
      }
    }
    var shape = first.shape
    shape[resolved] = xs.reduce(0) { $0 + $1.shape[resolved] }
    var y = Tensor(pooledShape: shape)
    let (outer, _, inner) = layout(shape, axis: resolved)
    let total = shape[resolved] * inner
    y.withUnsafeMutableBufferPointer { out in
      var offset = 0
      for x in xs {
        let run = x.shape[resolved] * inner
        x.withUnsafeBufferPointer { source in
          for o in 0..<outer where run > 0 {
            (out.baseAddress! + o * total + offset).update(
              from: source.baseAddress! + o * run, count: run)
          }
        }
        offset += run
      }
    }
    guard let tape = OpsState.current.tape, xs.contains(where: { tape.isTracking($0) }) else {
      return y
    }
    let lengths = xs.map { $0.shape[resolved] }
    return tape.record(y, inputs: xs) { dy in
      var start = 0
      return try lengths.map { length in
        defer { start += length }
        return try sliceAlong(dy, axis: resolved, start: start, length: length)
      }
    }
  }

  /// The tensors, of equal shapes, stacked along a new `axis` (Keras' `ops.stack`).
  public static func stack(_ xs: [Tensor], axis: Int = 0) throws -> Tensor {
    guard let first = xs.first else {
      throw argumentError("stack", "xs", "[]", expected: "at least one tensor")
    }
    guard xs.allSatisfy({ $0.shape == first.shape }) else {
      throw shapeError("stack", xs.map(\.shape), expected: "tensors of equal shapes")
    }
    let position = try self.axis(axis, rank: first.rank + 1, op: "stack")
    return try concatenate(xs.map { try expandDims($0, axis: position) }, axis: position)
  }

  /// `x` cut along `axis` into `sections` equal parts (Keras' `ops.split` with a number).
  public static func split(_ x: Tensor, sections: Int, axis: Int = 0) throws -> [Tensor] {
    let resolved = try self.axis(axis, rank: x.rank, op: "split")
    guard sections > 0, x.shape[resolved] % sections == 0 else {
      throw argumentError(
        "split", "sections", "\(sections)",
        expected: "a divisor of the axis' length \(x.shape[resolved])")
    }
    let length = x.shape[resolved] / sections
    return try split(x, at: (1..<sections).map { $0 * length }, axis: axis)
  }

  /// `x` cut along `axis` before each of `indices` (Keras' `ops.split` with indices).
  public static func split(_ x: Tensor, at indices: [Int], axis: Int = 0) throws -> [Tensor] {
    let resolved = try self.axis(axis, rank: x.rank, op: "split")
    let bounds = [0] + indices + [x.shape[resolved]]
    guard zip(bounds, bounds.dropFirst()).allSatisfy({ $0 <= $1 }) else {
      throw argumentError(
        "split", "indices", "\(indices)",
        expected: "increasing indices within the axis' length \(x.shape[resolved])")
    }
    return try zip(bounds, bounds.dropFirst()).map { start, end in
      var begin = [Int](repeating: 0, count: x.rank), size = x.shape
      begin[resolved] = start
      size[resolved] = end - start
      return try slice(x, start: begin, shape: size)
    }
  }

  /// The box of `shape` starting at `start` (Keras' `ops.slice`).
  public static func slice(_ x: Tensor, start: [Int], shape: [Int]) throws -> Tensor {
    guard start.count == x.rank, shape.count == x.rank,
      (0..<x.rank).allSatisfy({
        start[$0] >= 0 && shape[$0] >= 0 && start[$0] + shape[$0] <= x.shape[$0]
      })
    else {
      throw shapeError(
        "slice", [x.shape], expected: "a box inside it (start \(start), shape \(shape))")
    }
    var y = Tensor(pooledShape: shape)
    copyBox(from: x, at: start, into: &y, at: [Int](repeating: 0, count: x.rank), size: shape)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let original = x.shape
    return tape.record(y, inputs: [x]) { dy in
      var dx = Tensor(pooledShape: original)
      copyBox(from: dy, at: [Int](repeating: 0, count: dy.rank), into: &dx, at: start, size: shape)
      return [dx]
    }
  }

  /// `x` with its entries along `axis` in reverse order: Keras' `ops.flip(x, axis)` (a gather, so
  /// its gradient flips back).
  public static func flip(_ x: Tensor, axis: Int) throws -> Tensor {
    let resolved = try self.axis(axis, rank: x.rank, op: "flip")
    let length = x.shape[resolved]
    let order = try Tensor(shape: [length], scalars: (0..<length).reversed().map(Float.init))
    return try take(x, order, axis: resolved)
  }

  /// The elements of `x` at `indices` (whole numbers) along `axis`, or of `x` flattened when `nil`
  /// (Keras' `ops.take`: an embedding lookup). The result's shape is `x`'s with that axis replaced by
  /// `indices`' shape. Negative indices count from the end.
  public static func take(_ x: Tensor, _ indices: Tensor, axis: Int? = nil) throws -> Tensor {
    let source = axis == nil ? try x.reshaped(to: [x.count]) : x
    let resolved = try self.axis(axis ?? 0, rank: source.rank, op: "take")
    let (outer, length, inner) = layout(source.shape, axis: resolved)
    var positions = [Int]()
    positions.reserveCapacity(indices.count)
    for value in indices.scalars {
      guard value == value.rounded(), value >= Float(-length), value < Float(length) else {
        throw argumentError(
          "take", "indices", "holding \(value)",
          expected: "whole numbers in [-\(length), \(length)) for an axis of length \(length)")
      }
      positions.append(value < 0 ? Int(value) + length : Int(value))
    }
    let shape =
      Array(source.shape[..<resolved]) + indices.shape + Array(source.shape[(resolved + 1)...])
    var y = Tensor(pooledShape: shape)
    source.withUnsafeBufferPointer { s in
      y.withUnsafeMutableBufferPointer { out in
        for o in 0..<outer {
          for (k, p) in positions.enumerated() where inner > 0 {
            (out.baseAddress! + (o * positions.count + k) * inner).update(
              from: s.baseAddress! + (o * length + p) * inner, count: inner)
          }
        }
      }
    }
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let original = x.shape
    return tape.record(y, inputs: [x]) { dy in
      var dx = Tensor(pooledShape: [outer * length * inner])
      dy.withUnsafeBufferPointer { g in
        dx.withUnsafeMutableBufferPointer { d in
          for o in 0..<outer {
            for (k, p) in positions.enumerated() {
              let target = UnsafeMutableBufferPointer(
                rebasing: d[((o * length + p) * inner)..<((o * length + p + 1) * inner)])
              let start = (o * positions.count + k) * inner
              simdZip(
                UnsafeBufferPointer(target),
                UnsafeBufferPointer(rebasing: g[start..<start + inner]),
                into: target, +)
            }
          }
        }
      }
      return [try dx.reshaped(to: original)]
    }
  }

  /// One-hot vectors of `classes` for whole-number `x`, on a new last axis (Keras' `ops.one_hot`);
  /// an index outside `[0, classes)` gives a row of zeros. No gradient.
  public static func oneHot(_ x: Tensor, classes: Int) throws -> Tensor {
    guard classes > 0 else {
      throw argumentError("one_hot", "num_classes", "\(classes)", expected: "at least 1")
    }
    var y = try Tensor(pooledCheckedShape: x.shape + [classes], owner: "ops.one_hot")
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { ys in
        for (i, value) in xs.enumerated() where value >= 0 && value < Float(classes) {
          ys[i * classes + Int(value)] = 1
        }
      }
    }
    return y
  }

  // MARK: Loops

  /// Elements `start..<start + length` of `axis`, copied (no recording).
  static func sliceAlong(_ x: Tensor, axis: Int, start: Int, length: Int) throws -> Tensor {
    var begin = [Int](repeating: 0, count: x.rank), size = x.shape
    begin[axis] = start
    size[axis] = length
    var y = Tensor(pooledShape: size)
    copyBox(from: x, at: begin, into: &y, at: [Int](repeating: 0, count: x.rank), size: size)
    return y
  }

  /// Copies the box of `size` at `source`'s `origin` to `target`'s `destination`.
  static func copyBox(
    from source: Tensor, at origin: [Int], into target: inout Tensor, at destination: [Int],
    size: [Int]
  ) {
    let rank = size.count
    guard rank > 0 else {
      target.withUnsafeMutableBufferPointer { t in source.withUnsafeBufferPointer { t[0] = $0[0] } }
      return
    }
    guard size.allSatisfy({ $0 > 0 }) else { return }
    func strides(_ shape: [Int]) -> [Int] {
      var result = [Int](repeating: 1, count: shape.count)
      for axis in stride(from: shape.count - 2, through: 0, by: -1) {
        result[axis] = result[axis + 1] * shape[axis + 1]
      }
      return result
    }
    let sourceStrides = strides(source.shape), targetStrides = strides(target.shape)
    var from = zip(origin, sourceStrides).reduce(0) { $0 + $1.0 * $1.1 }
    var to = zip(destination, targetStrides).reduce(0) { $0 + $1.0 * $1.1 }
    let run = size[rank - 1]
    let rows = size.dropLast().reduce(1, *)
    var index = [Int](repeating: 0, count: rank)
    source.withUnsafeBufferPointer { s in
      target.withUnsafeMutableBufferPointer { t in
        for _ in 0..<rows {
          (t.baseAddress! + to).update(from: s.baseAddress! + from, count: run)
          var axis = rank - 2
          while axis >= 0 {
            index[axis] += 1
            from += sourceStrides[axis]
            to += targetStrides[axis]
            if index[axis] < size[axis] { break }
            from -= sourceStrides[axis] * size[axis]
            to -= targetStrides[axis] * size[axis]
            index[axis] = 0
            axis -= 1
          }
        }
      }
    }
  }

  /// `x`'s axes in the order `order`, copied (no recording).
  static func permute(_ x: Tensor, _ order: [Int]) -> Tensor {
    let outputShape = order.map { x.shape[$0] }
    if order == Array(0..<x.rank) { return stopGradient(x) }
    // Written whole: a pooled buffer, not cleared.
    var y = Tensor(uninitializedPooledShape: outputShape)
    guard y.count > 0 else { return y }
    // Axes that stay next to each other, in order, move as one (longer runs, fewer index steps).
    var groups: [[Int]] = []
    for axis in order {
      if let last = groups.last?.last, axis == last + 1 {
        groups[groups.count - 1].append(axis)
      } else {
        groups.append([axis])
      }
    }
    let sizes = (0..<x.rank).map { x.shape[$0] }
    // The source strides of the merged axes, and the merged output shape.
    var sourceStrides = [Int](repeating: 1, count: x.rank)
    for axis in stride(from: x.rank - 2, through: 0, by: -1) {
      sourceStrides[axis] = sourceStrides[axis + 1] * sizes[axis + 1]
    }
    let shape = groups.map { $0.reduce(1) { $0 * sizes[$1] } }
    let strides = groups.map { sourceStrides[$0.last!] }
    let rank = shape.count
    let run = shape[rank - 1], runStride = strides[rank - 1]
    x.withUnsafeBufferPointer { s in
      y.withUnsafeMutableBufferPointer { t in
        var index = [Int](repeating: 0, count: rank)
        var from = 0
        var to = 0
        while to < t.count {
          if runStride == 1 {
            (t.baseAddress! + to).update(from: s.baseAddress! + from, count: run)
          } else {
            var p = from
            for k in 0..<run {
              t[to + k] = s[p]
              p += runStride
            }
          }
          to += run
          var axis = rank - 2
          while axis >= 0 {
            index[axis] += 1
            from += strides[axis]
            if index[axis] < shape[axis] { break }
            from -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
          }
        }
      }
    }
    return y
  }
}
