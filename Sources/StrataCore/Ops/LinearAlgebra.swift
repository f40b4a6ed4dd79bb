/// Matrix products on the kernels backend's GEMM (OpenBLAS or oneDNN with the `cpu` backend).
extension Ops {
  /// The matrix product, NumPy's `matmul` (Keras' `ops.matmul`): the last two axes are matrices, the
  /// axes before them broadcast as batches; a 1-D operand is a vector (its axis is dropped from the
  /// result). A batch of inputs times one weight matrix runs as one GEMM.
  public static func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    guard a.rank >= 1, b.rank >= 1 else {
      throw shapeError("matmul", [a.shape, b.shape], expected: "operands of rank 1 or more")
    }
    let x = a.rank == 1 ? try a.reshaped(to: [1, a.count]) : stopGradient(a)
    let y = b.rank == 1 ? try b.reshaped(to: [b.count, 1]) : stopGradient(b)
    guard x.shape[x.rank - 1] == y.shape[y.rank - 2] else {
      throw shapeError(
        "matmul", [a.shape, b.shape], expected: "the last axis of the first = the second's rows")
    }
    let product = try batchedProduct(x, y, transposeX: false, transposeY: false, op: "matmul")
    var shape = product.shape
    if b.rank == 1 { shape.removeLast() }
    if a.rank == 1 { shape.remove(at: shape.count - (b.rank == 1 ? 1 : 2)) }
    let c = try product.reshaped(to: shape)
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let (ta, tb) = (tape.isTracking(a), tape.isTracking(b))
    let productShape = product.shape
    return tape.record(c, inputs: [a, b]) { dc in
      let dy = try dc.reshaped(to: productShape)
      var da: Tensor? = nil, db: Tensor? = nil
      if ta {
        let full = try batchedProduct(dy, y, transposeX: false, transposeY: true, op: "matmul")
        da = try reduce(full, to: x.shape).reshaped(to: a.shape)
      }
      if tb {
        let full: Tensor
        if y.rank == 2 && x.rank > 2 {
          // One weight matrix for every batch: the batches fold into one GEMM.
          let k = x.shape[x.rank - 1]
          let folded = try x.reshaped(to: [x.count / Swift.max(k, 1), k])
          let gradient = try dy.reshaped(to: [folded.shape[0], dy.shape[dy.rank - 1]])
          full = try batchedProduct(
            folded, gradient, transposeX: true, transposeY: false, op: "matmul")
        } else {
          full = try batchedProduct(x, dy, transposeX: true, transposeY: false, op: "matmul")
        }
        db = try reduce(full, to: y.shape).reshaped(to: b.shape)
      }
      return [da, db]
    }
  }

  /// `op(x) · op(y)` over broadcast batches (no recording). `x` is `[…, m, k]` (`[…, k, m]` when
  /// transposed), `y` is `[…, k, n]` (`[…, n, k]`).
  static func batchedProduct(
    _ x: Tensor, _ y: Tensor, transposeX: Bool, transposeY: Bool, op: String
  ) throws -> Tensor {
    let m = x.shape[x.rank - (transposeX ? 1 : 2)], k = x.shape[x.rank - (transposeX ? 2 : 1)]
    let n = y.shape[y.rank - (transposeY ? 2 : 1)]
    guard y.shape[y.rank - (transposeY ? 1 : 2)] == k else {
      throw shapeError(op, [x.shape, y.shape], expected: "matching inner dimensions")
    }
    let kernels = self.kernels
    let xBatch = Array(x.shape.dropLast(2)), yBatch = Array(y.shape.dropLast(2))
    if yBatch.isEmpty && !transposeX {
      // Every batch of x times one matrix: fold the batches into the rows.
      let rows = xBatch.reduce(1, *) * m
      var c = Tensor(uninitializedPooledShape: xBatch + [m, n])  // beta 0: written whole
      gemm(kernels, x, y, &c, m: rows, n: n, k: k, transposeX: false, transposeY: transposeY)
      return c
    }
    let batch = try broadcastShape(xBatch, yBatch, op: op)
    let xs = expand(x, to: batch + Array(x.shape.suffix(2)))
    let ys = expand(y, to: batch + Array(y.shape.suffix(2)))
    var c = Tensor(uninitializedPooledShape: batch + [m, n])  // beta 0: written whole
    let count = batch.reduce(1, *)
    xs.withUnsafeBufferPointer { a in
      ys.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          for i in 0..<count {
            kernels.gemm(
              transposeA: transposeX, transposeB: transposeY, m: m, n: n, k: k, alpha: 1,
              a: UnsafeBufferPointer(rebasing: a[(i * m * k)..<((i + 1) * m * k)]),
              b: UnsafeBufferPointer(rebasing: b[(i * k * n)..<((i + 1) * k * n)]), beta: 0,
              c: UnsafeMutableBufferPointer(rebasing: c[(i * m * n)..<((i + 1) * m * n)]))
          }
        }
      }
    }
    return c
  }

  private static func gemm(
    _ kernels: any Kernels, _ x: Tensor, _ y: Tensor, _ c: inout Tensor, m: Int, n: Int, k: Int,
    transposeX: Bool, transposeY: Bool
  ) {
    x.withUnsafeBufferPointer { a in
      y.withUnsafeBufferPointer { b in
        c.withUnsafeMutableBufferPointer { c in
          kernels.gemm(
            transposeA: transposeX, transposeB: transposeY, m: m, n: n, k: k, alpha: 1, a: a, b: b,
            beta: 0, c: c)
        }
      }
    }
  }

  /// Einstein summation over one or two operands (Keras' `ops.einsum`), such as `"ij,jk->ik"`,
  /// `"bqhd,bkhd->bhqk"` or `"bhqk,bkhd->bqhd"` (attention's patterns). Axes named only in the inputs
  /// are summed; each letter names an axis once per operand. Runs as transposes, reshapes and one
  /// batched `matmul`, so its gradient is theirs.
  public static func einsum(_ subscripts: String, _ operands: Tensor...) throws -> Tensor {
    let parts = subscripts.replacingOccurrences(of: " ", with: "").components(separatedBy: "->")
    let inputs = parts[0].components(separatedBy: ",").map { Array($0) }
    guard parts.count == 2, inputs.count == operands.count, (1...2).contains(inputs.count),
      zip(inputs, operands).allSatisfy({ $0.count == $1.rank && Set($0).count == $0.count }),
      Set(parts[1]).count == parts[1].count
    else {
      throw argumentError(
        "einsum", "subscripts", "'\(subscripts)' for \(operands.count) operands",
        expected: "'in,in->out' with one letter per axis of each operand, each once")
    }
    let output = Array(parts[1])
    var sizes: [Character: Int] = [:]
    for (letters, operand) in zip(inputs, operands) {
      for (letter, size) in zip(letters, operand.shape) {
        if let known = sizes[letter], known != size {
          throw shapeError(
            "einsum", operands.map(\.shape), expected: "equal lengths for axis '\(letter)'")
        }
        sizes[letter] = size
      }
    }
    guard output.allSatisfy({ sizes[$0] != nil }) else {
      throw argumentError(
        "einsum", "subscripts", "'\(subscripts)'", expected: "output letters that name input axes")
    }
    // Sum away the axes one operand alone has and the output does not keep.
    var reduced: [(letters: [Character], tensor: Tensor)] = []
    for (index, (letters, operand)) in zip(inputs, operands).enumerated() {
      let others = inputs.enumerated().filter { $0.offset != index }.flatMap(\.element)
      let lonely = letters.indices.filter {
        !output.contains(letters[$0]) && !others.contains(letters[$0])
      }
      let tensor = lonely.isEmpty ? operand : try sum(operand, axes: lonely)
      reduced.append(
        (letters.enumerated().filter { !lonely.contains($0.offset) }.map(\.element), tensor))
    }
    if reduced.count == 1 {
      let (letters, tensor) = reduced[0]
      return try transpose(tensor, axes: output.map { letters.firstIndex(of: $0)! })
    }
    let (left, a) = reduced[0], (right, b) = reduced[1]
    let batch = output.filter { left.contains($0) && right.contains($0) }
    let contracted = left.filter { right.contains($0) && !output.contains($0) }
    let leftFree = left.filter { !right.contains($0) }
    let rightFree = right.filter { !left.contains($0) }
    func arranged(_ tensor: Tensor, _ letters: [Character], _ order: [Character], _ shape: [Int])
      throws -> Tensor
    {
      try reshape(transpose(tensor, axes: order.map { letters.firstIndex(of: $0)! }), shape)
    }
    func size(_ letters: [Character]) -> Int { letters.reduce(1) { $0 * sizes[$1]! } }
    let batchShape = batch.map { sizes[$0]! }
    let x = try arranged(
      a, left, batch + leftFree + contracted, batchShape + [size(leftFree), size(contracted)])
    let y = try arranged(
      b, right, batch + contracted + rightFree, batchShape + [size(contracted), size(rightFree)])
    let product = try reshape(
      matmul(x, y), (batch + leftFree + rightFree).map { sizes[$0]! })
    let produced = batch + leftFree + rightFree
    return try transpose(product, axes: output.map { produced.firstIndex(of: $0)! })
  }
}
