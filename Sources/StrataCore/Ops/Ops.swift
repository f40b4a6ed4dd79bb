import Foundation

/// Tensor operations with automatic gradients, named as `keras.ops` names them: what a layer, a
/// loss or a training step written forward-only is made of.
///
/// Every op computes its result on the current kernels backend (a model's, or the registered `cpu`
/// backend: SIMD loops, OpenBLAS and oneDNN) and, while a ``GradientTape`` that tracks one of its
/// inputs is recording, records how to carry the gradient back. Element-wise ops broadcast as NumPy
/// does. Booleans (comparisons, `where`'s condition) are tensors of 0 and 1; indices are whole numbers
/// held as floats. Ops throw ``StrataError/shapeMismatch(layer:received:expected:)`` naming the op,
/// the shapes and the layer whose `call` ran it.
public enum Ops {
  /// The backend ops run on: the one a model or ``withKernels(_:_:)`` set for this thread, else the
  /// registered `cpu` backend, else the reference loops.
  public static var kernels: any Kernels { OpsState.current.kernels ?? defaultKernels }

  private static let defaultKernels: any Kernels =
    (try? Registries.shared.kernels.make("cpu")) ?? ReferenceKernels()

  /// Runs `body` with ops on `kernels`.
  public static func withKernels<Result>(_ kernels: any Kernels, _ body: () throws -> Result)
    rethrows -> Result
  {
    let state = OpsState.current
    let saved = state.kernels
    state.kernels = kernels
    defer { state.kernels = saved }
    return try body()
  }

  /// Records `result` as computed from `inputs` on the recording tape when it tracks one of them, with
  /// `pullback` giving each input's gradient (`nil` for none) from the result's: how a plugin adds a
  /// differentiable op of its own. Returns `result`, traced when recorded.
  public static func differentiable(
    _ result: Tensor, inputs: [Tensor], pullback: @escaping (Tensor) throws -> [Tensor?]
  ) -> Tensor {
    guard let tape = OpsState.current.tape, inputs.contains(where: { tape.isTracking($0) }) else {
      return result
    }
    return tape.record(result, inputs: inputs, pullback: pullback)
  }

  /// `x` as a constant: no gradient flows through it (Keras' `ops.stop_gradient`).
  public static func stopGradient(_ x: Tensor) -> Tensor {
    var constant = x
    constant.trace = 0
    return constant
  }

  // MARK: Errors

  /// The refusal of `shapes` by `op`, naming the layer whose `call` runs it.
  static func shapeError(_ op: String, _ shapes: [[Int]], expected: String) -> StrataError {
    let caller = OpsState.current.layer.map { " in \($0)" } ?? ""
    return .shapeMismatch(
      layer: "ops.\(op)\(caller)",
      received: shapes.map { kerasShape($0, batch: false) }.joined(separator: " and "),
      expected: expected)
  }

  /// The place an error names once a model knows the layer's label (`"p_re_lu (PReLU)"`): the label,
  /// after the op when an op inside the layer refused (`"ops.add in p_re_lu (PReLU)"`).
  package static func place(_ layer: String, label: String) -> String {
    guard layer.hasPrefix("ops."), let op = layer.split(separator: " ").first else { return label }
    return "\(op) in \(label)"
  }

  /// The refusal of an argument of `op`, naming the layer whose `call` runs it.
  static func argumentError(_ op: String, _ argument: String, _ value: String, expected: String)
    -> StrataError
  {
    let caller = OpsState.current.layer.map { " in \($0)" } ?? ""
    return .invalidArgument(
      owner: "ops.\(op)\(caller)", argument: argument, value: value, expected: expected)
  }

  /// `axis` counted from 0 (a negative one from the end) for a tensor of `rank`.
  static func axis(_ axis: Int, rank: Int, op: String) throws -> Int {
    let resolved = axis < 0 ? axis + rank : axis
    guard resolved >= 0 && resolved < rank else {
      throw argumentError(op, "axis", "\(axis)", expected: "an axis of a tensor of rank \(rank)")
    }
    return resolved
  }

  // MARK: Broadcasting

  /// The shape NumPy broadcasting gives `a` and `b`.
  package static func broadcastShape(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
    if a == b { return a }
    let rank = Swift.max(a.count, b.count)
    var shape = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
      let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
      let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
      guard x == y || x == 1 || y == 1 else {
        throw shapeError(op, [a, b], expected: "shapes that broadcast (equal or 1 on each axis)")
      }
      shape[i] = x == 1 ? y : x
    }
    return shape
  }

  /// `x` repeated along its axes of size 1 (and new leading axes) to `shape`, copied.
  package static func expand(_ x: Tensor, to shape: [Int]) -> Tensor {
    if x.shape == shape { return stopGradient(x) }
    var result = Tensor(uninitializedPooledShape: shape)  // written whole
    let count = result.count
    guard count > 0 else { return result }
    let rank = shape.count
    let padded = [Int](repeating: 1, count: rank - x.rank) + x.shape
    // The source's stride along each output axis: 0 where it repeats.
    var strides = [Int](repeating: 0, count: rank)
    var step = 1
    for axis in stride(from: rank - 1, through: 0, by: -1) {
      strides[axis] = padded[axis] == 1 ? 0 : step
      step *= padded[axis]
    }
    let inner = shape[rank - 1], innerStride = strides[rank - 1]
    x.withUnsafeBufferPointer { source in
      result.withUnsafeMutableBufferPointer { target in
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        var position = 0
        while position < count {
          if innerStride == 0 {
            (target.baseAddress! + position).update(repeating: source[offset], count: inner)
          } else {
            (target.baseAddress! + position).update(
              from: source.baseAddress! + offset, count: inner)
          }
          position += inner
          // Advance the outer axes' counter.
          var axis = rank - 2
          while axis >= 0 {
            index[axis] += 1
            offset += strides[axis]
            if index[axis] < shape[axis] { break }
            offset -= strides[axis] * shape[axis]
            index[axis] = 0
            axis -= 1
          }
        }
      }
    }
    return result
  }

  /// The gradient `g` of a broadcast result summed back to an operand of `shape`.
  package static func reduce(_ g: Tensor, to shape: [Int]) -> Tensor {
    if g.shape == shape { return g }
    let rank = g.rank
    let padded = [Int](repeating: 1, count: rank - shape.count) + shape
    let axes = (0..<rank).filter { padded[$0] == 1 && g.shape[$0] != 1 }
    var summed = sumKeepingDims(g, axes: axes)
    summed = (try? summed.reshaped(to: shape)) ?? summed
    return summed
  }

  // MARK: Element-wise loops

  /// `body` applied to every element of `x`, sixteen at a time.
  static func map(_ x: Tensor, _ body: (SIMD16<Float>) -> SIMD16<Float>) -> Tensor {
    var y = Tensor(uninitializedPooledShape: x.shape)
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { simdMap(xs, into: $0, body) }
    }
    return y
  }

  /// `body` applied to `a` and `b` broadcast together.
  static func pairwise(
    _ op: String, _ a: Tensor, _ b: Tensor, _ body: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>
  ) throws -> Tensor {
    let shape = try broadcastShape(a.shape, b.shape, op: op)
    var c = Tensor(uninitializedPooledShape: shape)
    guard c.count > 0 else { return c }
    if a.shape == shape && b.shape == shape {
      a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { b in
          c.withUnsafeMutableBufferPointer { simdZip(a, b, into: $0, body) }
        }
      }
    } else if a.shape == shape && b.count == 1 {
      let s = SIMD16<Float>(repeating: b.withUnsafeBufferPointer { $0[0] })
      a.withUnsafeBufferPointer { a in
        c.withUnsafeMutableBufferPointer { simdMap(a, into: $0) { body($0, s) } }
      }
    } else if b.shape == shape && a.count == 1 {
      let s = SIMD16<Float>(repeating: a.withUnsafeBufferPointer { $0[0] })
      b.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { simdMap(b, into: $0) { body(s, $0) } }
      }
    } else if a.shape == shape && repeatsAsBlock(b.shape, in: shape) {
      blocks(a, b, into: &c) { body($0, $1) }
    } else if b.shape == shape && repeatsAsBlock(a.shape, in: shape) {
      blocks(b, a, into: &c) { body($1, $0) }
    } else {
      let x = expand(a, to: shape), y = expand(b, to: shape)
      x.withUnsafeBufferPointer { x in
        y.withUnsafeBufferPointer { y in
          c.withUnsafeMutableBufferPointer { simdZip(x, y, into: $0, body) }
        }
      }
    }
    return c
  }

  /// Whether `small` broadcast to `shape` is `small`'s elements repeated whole (a bias row).
  private static func repeatsAsBlock(_ small: [Int], in shape: [Int]) -> Bool {
    let trimmed = Array(small.drop { $0 == 1 })
    return !trimmed.isEmpty && trimmed.count <= shape.count
      && Array(shape.suffix(trimmed.count)) == trimmed
  }

  /// `body(big block, small)` for each block of `big` the size of `small`. A small block (an image's
  /// channels) is repeated to a few hundred elements first, so that each SIMD pass is long.
  private static func blocks(
    _ big: Tensor, _ small: Tensor, into c: inout Tensor,
    _ body: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>
  ) {
    let n = small.count
    let repeats = Swift.max(1, Swift.min(512 / Swift.max(n, 1), c.count / Swift.max(n, 1)))
    var pattern = small.scalars
    if repeats > 1 {
      pattern = Array((0..<repeats).map { _ in pattern }.joined())
    }
    big.withUnsafeBufferPointer { x in
      pattern.withUnsafeBufferPointer { s in
        c.withUnsafeMutableBufferPointer { out in
          var start = 0
          while start < out.count {
            let length = Swift.min(s.count, out.count - start)  // the last run: whole blocks of n
            simdZip(
              UnsafeBufferPointer(rebasing: x[start..<start + length]),
              UnsafeBufferPointer(rebasing: s[0..<length]),
              into: UnsafeMutableBufferPointer(rebasing: out[start..<start + length]), body)
            start += length
          }
        }
      }
    }
  }
}
