import Foundation
import StrataCore
import StrataTesting
import Testing

/// Each op's value on a small case worked by hand (NumPy's results), and its tape gradient against
/// finite differences.
@Suite struct OpsTests {
  let a = awayFromZero([2, 3], seed: 1)
  let b = awayFromZero([2, 3], seed: 2)
  let row = awayFromZero([3], seed: 3)
  /// In [0.6, 1.5]: where log, division and negative powers are gentle enough for differences.
  let positive = try! Ops.abs(awayFromZero([2, 3], seed: 4)) + 0.5

  @Test func arithmeticBroadcastsAsNumPy() throws {
    let x = try Tensor([[1, 2, 3], [4, 5, 6]])
    let bias = Tensor([10, 20, 30])
    #expect(try (x + bias).scalars == [11, 22, 33, 14, 25, 36])
    let column = try Tensor(shape: [2, 1], scalars: [1, 2])
    #expect(try (x * column).scalars == [1, 2, 3, 8, 10, 12])
    #expect(try (x - 1).scalars == [0, 1, 2, 3, 4, 5])
    #expect(try (1 - x).scalars == [0, -1, -2, -3, -4, -5])
    #expect(try (x / 2).scalars == [0.5, 1, 1.5, 2, 2.5, 3])
    // (2, 1, 3) with (2, 1): a general broadcast to (2, 2, 3).
    let cube = try Tensor(shape: [2, 1, 3], scalars: [1, 2, 3, 4, 5, 6])
    let sum = try cube + column
    #expect(sum.shape == [2, 2, 3])
    #expect(sum.scalars == [2, 3, 4, 3, 4, 5, 5, 6, 7, 6, 7, 8])
    #expect((-x).scalars == [-1, -2, -3, -4, -5, -6])
    let error = refusal { try x + Tensor([1, 2]) }
    #expect(
      error
        == .shapeMismatch(
          layer: "ops.add", received: "(2, 3) and (2,)",
          expected: "shapes that broadcast (equal or 1 on each axis)"))
  }

  @Test func elementwiseGradientsMatchFiniteDifferences() throws {
    let binary: [(String, (Tensor, Tensor) throws -> Tensor)] = [
      ("add", { try $0 + $1 }), ("subtract", { try $0 - $1 }), ("multiply", { try $0 * $1 }),
      ("divide", { try $0 / (Ops.abs($1) + 0.5) }), ("maximum", Ops.maximum),
      ("minimum", Ops.minimum), ("power", { try Ops.power(Ops.abs($0) + 0.5, $1) }),
    ]
    for (name, op) in binary {
      let same = try maxGradientError(of: { try op($0[0], $0[1]) }, at: [a, b])
      let broadcast = try maxGradientError(of: { try op($0[0], $0[1]) }, at: [a, row])
      #expect(same < 2e-3, "\(name): \(same)")
      #expect(broadcast < 2e-3, "\(name) broadcast: \(broadcast)")
    }
    let unary: [(String, (Tensor) throws -> Tensor, Tensor)] = [
      ("negative", Ops.negative, a), ("abs", Ops.abs, a), ("square", Ops.square, a),
      ("sqrt", Ops.sqrt, positive), ("exp", Ops.exp, a), ("log", Ops.log, positive),
      ("log1p", Ops.log1p, positive), ("erf", Ops.erf, a), ("tanh", Ops.tanh, a),
      ("sigmoid", Ops.sigmoid, a),
      ("relu", Ops.relu, a), ("softplus", Ops.softplus, a), ("power 3", { Ops.power($0, 3) }, a),
      ("power -0.5", { Ops.power($0, -0.5) }, positive),
      ("clip", { try Ops.clip($0, -0.5, 0.5) }, a),
      ("where", { try Ops.where($0 .> 0, $0, $0 * 0.2) }, a),
      ("softmax", { try Ops.softmax($0) }, a),
      ("softmax axis 0", { try Ops.softmax($0, axis: 0) }, a),
      ("log_softmax", { try Ops.logSoftmax($0) }, a),
      ("log_softmax axis 0", { try Ops.logSoftmax($0, axis: 0) }, a),
    ]
    for (name, op, x) in unary {
      let error = try maxGradientError(of: { try op($0[0]) }, at: [x])
      #expect(error < 2e-3, "\(name): \(error)")
    }
    // stop_gradient: the constant factor's derivative is left out, so the gradient of x·sg(x) is x.
    let tape = GradientTape()
    let x = tape.watch(a)
    let y = try tape.record { try Ops.stopGradient(x) * x }
    #expect(try tape.gradients(of: y, for: [x]).tensors[0] == a)
  }

  @Test func vectorLogarithmsMatchLibm() throws {
    // Across the range, subnormals included, within 2 ulp of logf; and the special values.
    var values: [Float] = [
      1, 2, 0.5, 0.707_106_77, 0.707_106_8, 1e-40, 1e-45, 1.175_494_4e-38, 3e38,
    ]
    var generator = SeededGenerator(seed: 9)
    for _ in 0..<2_000 {
      values.append(Foundation.exp(Float.random(in: -87...88, using: &generator)))
    }
    let logs = Ops.log(Tensor(values)).scalars
    for (x, y) in zip(values, logs) {
      let expected = Foundation.log(x)
      #expect(abs(y - expected) <= 2 * max(expected.ulp, Float.leastNormalMagnitude), "log \(x)")
    }
    let special = Ops.log(Tensor([0, -1, .infinity, .nan])).scalars
    #expect(
      special[0] == -.infinity && special[1].isNaN && special[2] == .infinity && special[3].isNaN)
    let small: [Float] = [1e-8, -1e-8, 3e-4, -0.5, 0.25, 10, 1e6, -1, .infinity]
    for (x, y) in zip(small, Ops.log1p(Tensor(small)).scalars) {
      let expected = Foundation.log1p(x)
      #expect(y == expected || abs(y - expected) <= 4 * expected.ulp, "log1p \(x): \(y)")
    }
  }

  @Test func whereSelectsAndComparisonsGiveOnesAndZeros() throws {
    let x = Tensor([-2, -0.5, 0, 1.5])
    #expect(try Ops.where(x .> 0, x, x * 0.1).scalars == [-0.2, -0.05, 0, 1.5])
    #expect(try (x .>= 0).scalars == [0, 0, 1, 1])
    #expect(try (x .< 0).scalars == [1, 1, 0, 0])
    #expect(try (x .<= -0.5).scalars == [1, 1, 0, 0])
    #expect(try (x .== 0).scalars == [0, 0, 1, 0])
    #expect(try (x .!= 0).scalars == [1, 1, 0, 1])
    #expect(try Ops.clip(x, -1, 1).scalars == [-1, -0.5, 0, 1])
    #expect(try Ops.maximum(x, Tensor(scalar: 0)).scalars == [0, 0, 0, 1.5])
    #expect(try Ops.minimum(x, Tensor(scalar: 0)).scalars == [-2, -0.5, 0, 0])
    #expect(Ops.sign(x).scalars == [-1, -1, 0, 1])
    #expect(refusal { try Ops.clip(x, 1, -1) } != nil)
  }

  @Test func reductionsOverAxes() throws {
    let x = try Tensor(shape: [2, 3, 2], scalars: (1...12).map(Float.init))
    #expect(try Ops.sum(x).scalars == [78])
    #expect(try Ops.sum(x).shape == [])
    let overMiddle = try Ops.sum(x, axis: 1)
    #expect(overMiddle.shape == [2, 2] && overMiddle.scalars == [9, 12, 27, 30])
    let kept = try Ops.sum(x, axes: [0, 2], keepDims: true)
    #expect(kept.shape == [1, 3, 1] && kept.scalars == [18, 26, 34])
    #expect(try Ops.mean(x, axis: -1).scalars == [1.5, 3.5, 5.5, 7.5, 9.5, 11.5])
    #expect(try Ops.max(x, axis: 1).scalars == [5, 6, 11, 12])
    #expect(try Ops.min(x, axes: [1, 2]).scalars == [1, 7])
    #expect(try Ops.argmax(x, axis: 1).scalars == [2, 2, 2, 2])
    #expect(try Ops.argmin(x, axis: -1, keepDims: true).shape == [2, 3, 1])
    // Long rows take the vector path; the result is the plain sum.
    let long = Tensor((0..<37).map(Float.init))
    #expect(try Ops.sum(long).scalars == [666])
    #expect(try Ops.max(long).scalars == [36])
    let cube = awayFromZero([2, 3, 4], seed: 5)
    let cases: [(String, (Tensor) throws -> Tensor)] = [
      ("sum", { try Ops.sum($0, axis: 1) }), ("sum all", { try Ops.sum($0) }),
      ("mean", { try Ops.mean($0, axes: [0, 2], keepDims: true) }),
      ("max", { try Ops.max($0, axis: -1) }), ("min", { try Ops.min($0, axes: [0, 1]) }),
    ]
    for (name, op) in cases {
      let error = try maxGradientError(of: { try op($0[0]) }, at: [cube])
      #expect(error < 2e-3, "\(name): \(error)")
    }
    // Ties share the gradient, as TensorFlow's reduce_max does.
    let tape = GradientTape()
    let ties = tape.watch(Tensor([3, 1, 3]))
    let top = try tape.record { try Ops.max(ties) }
    #expect(try tape.gradients(of: top, for: [ties]).tensors[0].scalars == [0.5, 0, 0.5])
    #expect(refusal { try Ops.sum(x, axis: 3) } != nil)
    #expect(refusal { try Ops.sum(x, axes: [1, 1]) } != nil)
  }

  @Test func shapeOpsMoveElements() throws {
    let x = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    #expect(try Ops.reshape(x, [3, -1]).shape == [3, 2])
    #expect(try Ops.transpose(x).scalars == [1, 4, 2, 5, 3, 6])
    let cube = try Tensor(shape: [2, 2, 2], scalars: (0..<8).map(Float.init))
    #expect(try Ops.transpose(cube, axes: [1, 0, 2]).scalars == [0, 1, 4, 5, 2, 3, 6, 7])
    #expect(try Ops.expandDims(x, axis: 1).shape == [2, 1, 3])
    #expect(try Ops.squeeze(Ops.expandDims(x, axis: -1)).shape == [2, 3])
    #expect(try Ops.broadcastTo(Tensor([1, 2, 3]), [2, 3]).scalars == [1, 2, 3, 1, 2, 3])
    let joined = try Ops.concatenate([x, Tensor([[7], [8]])], axis: 1)
    #expect(joined.shape == [2, 4] && joined.scalars == [1, 2, 3, 7, 4, 5, 6, 8])
    #expect(try Ops.stack([Tensor([1, 2]), Tensor([3, 4])], axis: 1).scalars == [1, 3, 2, 4])
    let parts = try Ops.split(x, sections: 3, axis: 1)
    #expect(parts.map(\.scalars) == [[1, 4], [2, 5], [3, 6]])
    #expect(try Ops.split(x, at: [1], axis: 0).map(\.shape) == [[1, 3], [1, 3]])
    #expect(try Ops.slice(x, start: [1, 1], shape: [1, 2]).scalars == [5, 6])
    let table = try Tensor([[0, 0], [1, 1], [2, 2]])
    let gathered = try Ops.take(table, try Tensor([[2, 0], [1, -1]]), axis: 0)
    #expect(gathered.shape == [2, 2, 2] && gathered.scalars == [2, 2, 0, 0, 1, 1, 2, 2])
    #expect(try Ops.take(x, Tensor([5, 0])).scalars == [6, 1])
    #expect(try Ops.oneHot(Tensor([2, 0, 5]), classes: 3).scalars == [0, 0, 1, 1, 0, 0, 0, 0, 0])

    let y = awayFromZero([2, 3, 4], seed: 6)
    let cases: [(String, ([Tensor]) throws -> Tensor, [Tensor])] = [
      ("reshape", { try Ops.reshape($0[0], [4, 6]) }, [y]),
      ("expand_dims", { try Ops.expandDims($0[0], axis: 1) * 3 }, [y]),
      ("squeeze", { try Ops.squeeze(Ops.slice($0[0], start: [0, 0, 2], shape: [2, 3, 1])) }, [y]),
      ("transpose", { try Ops.transpose($0[0], axes: [2, 0, 1]) }, [y]),
      ("broadcast_to", { try Ops.broadcastTo($0[0], [2, 2, 3]) }, [a]),
      ("concatenate", { try Ops.concatenate($0, axis: 0) }, [a, b]),
      ("stack", { try Ops.stack($0, axis: 2) }, [a, b]),
      ("split", { try Ops.split($0[0], sections: 2, axis: 2)[1] * 2 }, [y]),
      ("slice", { try Ops.slice($0[0], start: [0, 1, 1], shape: [2, 2, 3]) }, [y]),
      ("take", { try Ops.take($0[0], Tensor([1, 1, 0]), axis: 1) }, [y]),
    ]
    for (name, op, inputs) in cases {
      let error = try maxGradientError(of: op, at: inputs)
      #expect(error < 2e-3, "\(name): \(error)")
    }
    #expect(refusal { try Ops.reshape(x, [4, -1]) } != nil)
    #expect(refusal { try Ops.take(x, Tensor([6])) } != nil)
    #expect(refusal { try Ops.take(x, Tensor([0.5])) } != nil)
    #expect(refusal { try Ops.concatenate([x, Tensor([1])]) } != nil)
    #expect(refusal { try Ops.slice(x, start: [1, 2], shape: [1, 2]) } != nil)
  }

  @Test func matmulBatchesAndBroadcasts() throws {
    let x = try Tensor([[1, 2], [3, 4]])
    let w = try Tensor([[5, 6, 7], [8, 9, 10]])
    #expect(try Ops.matmul(x, w).scalars == [21, 24, 27, 47, 54, 61])
    #expect(try Ops.matmul(Tensor([1, 2]), w).scalars == [21, 24, 27])
    #expect(try Ops.matmul(x, Tensor([1, 1])).scalars == [3, 7])
    // A batch of matrices times one matrix, and batches that broadcast.
    let batch = try Ops.stack([x, try x * 2])
    let product = try Ops.matmul(batch, w)
    #expect(product.shape == [2, 2, 3])
    #expect(product.scalars == [21, 24, 27, 47, 54, 61, 42, 48, 54, 94, 108, 122])
    let broadcast = try Ops.matmul(Ops.expandDims(x, axis: 0), try Ops.stack([w, w]))
    #expect(broadcast.shape == [2, 2, 3])
    let cases: [(String, [Tensor])] = [
      ("matrix", [awayFromZero([3, 4], seed: 7), awayFromZero([4, 2], seed: 8)]),
      ("batch × matrix", [awayFromZero([2, 3, 4], seed: 9), awayFromZero([4, 2], seed: 10)]),
      ("batch × batch", [awayFromZero([2, 3, 4], seed: 11), awayFromZero([2, 4, 2], seed: 12)]),
      (
        "broadcast batches",
        [awayFromZero([1, 3, 4], seed: 13), awayFromZero([2, 4, 2], seed: 14)]
      ),
      ("vector × matrix", [awayFromZero([4], seed: 15), awayFromZero([4, 2], seed: 16)]),
      ("matrix × vector", [awayFromZero([3, 4], seed: 17), awayFromZero([4], seed: 18)]),
    ]
    for (name, inputs) in cases {
      let error = try maxGradientError(of: { try Ops.matmul($0[0], $0[1]) }, at: inputs)
      #expect(error < 2e-3, "\(name): \(error)")
    }
    let error = refusal { try Ops.matmul(x, Tensor([1, 2, 3])) }
    #expect(
      error
        == .shapeMismatch(
          layer: "ops.matmul", received: "(2, 2) and (3,)",
          expected: "the last axis of the first = the second's rows"))
  }

  @Test func einsumComputesAttentionPatterns() throws {
    let q = awayFromZero([2, 3, 2, 4], seed: 20)  // batch, query, head, depth
    let k = awayFromZero([2, 5, 2, 4], seed: 21)  // batch, key, head, depth
    let scores = try Ops.einsum("bqhd,bkhd->bhqk", q, k)
    #expect(scores.shape == [2, 2, 3, 5])
    // Element (1, 0, 2, 4) by the definition.
    var expected: Float = 0
    for d in 0..<4 { expected += q[1, 2, 0, d] * k[1, 4, 0, d] }
    #expect(abs(scores[1, 0, 2, 4] - expected) < 1e-5)
    #expect(try Ops.einsum("ij,jk->ik", a, Ops.transpose(b)) == Ops.matmul(a, Ops.transpose(b)))
    #expect(try Ops.einsum("ij->j", a) == Ops.sum(a, axis: 0))
    #expect(try Ops.einsum("ij->ji", a) == Ops.transpose(a))
    let patterns: [(String, [Tensor])] = [
      ("bqhd,bkhd->bhqk", [q, k]),
      ("bhqk,bkhd->bqhd", [awayFromZero([2, 2, 3, 5], seed: 22), k]),
      ("ij,j->i", [a, row]),
    ]
    for (pattern, inputs) in patterns {
      let error = try maxGradientError(
        of: { try Ops.einsum(pattern, $0[0], $0[1]) }, at: inputs)
      #expect(error < 2e-3, "\(pattern): \(error)")
    }
    #expect(refusal { try Ops.einsum("ij,jk", a, b) } != nil)
    #expect(refusal { try Ops.einsum("ij,jk->ik", a, a) } != nil)
  }

  @Test func aTapeAccumulatesFreesAndRefusesReuse() throws {
    let tape = GradientTape()
    let x = tape.watch(Tensor([1, 2, 3]))
    // y = x·x + x: a tensor used three times gets the sum, 2x + 1.
    let y = try tape.record { try x * x + x }
    #expect(tape.recordedCount == 3)
    #expect(tape.recordedBytes == 24)  // two ops of three floats; the leaf is not counted
    let unused = Tensor([5])
    let (tensors, _) = try tape.gradients(of: y, for: [x, unused])
    #expect(tensors[0].scalars == [3, 5, 7])
    // A tensor the result does not depend on gets zeros, where Keras gives None.
    #expect(tensors[1].scalars == [0])
    #expect(tape.recordedCount == 0)
    #expect(refusal { try tape.gradients(of: y, for: [x]) } != nil)
    #expect(refusal { try tape.record { try x + 1 } } != nil)
    // Without a recording tape, ops record nothing: a result is a constant.
    let other = GradientTape()
    let z = try x * 2
    #expect(!other.isTracking(z))
    #expect(refusal { try other.gradients(of: z, seed: Tensor([1, 1]), for: [x]) } != nil)
  }

  @Test func opResultsReuseTheMemoryOfFreedOnes() throws {
    // 7919 floats: a size no other test computes, so that shelf of the pool is this test's.
    let size = 7919
    var address = 0
    do {
      let sevens = try Tensor(shape: [size], repeating: 3) + 4
      #expect(sevens.scalars.allSatisfy { $0 == 7 })
      address = Int(bitPattern: sevens.storage.base)
    }
    // The next result of that size gets the freed buffer back, zeroed: one_hot writes only its one.
    let hot = try Ops.oneHot(Tensor([5]), classes: size)
    #expect(Int(bitPattern: hot.storage.base) == address)
    #expect(hot.scalars.reduce(0, +) == 1 && hot.scalars[5] == 1)
    // What the pool keeps stays under its limit.
    #expect(BufferPool.heldBytes <= BufferPool.limitBytes)
  }
}
