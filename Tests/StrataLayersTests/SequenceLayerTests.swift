import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

let sequenceLayerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "sequence_layers", withExtension: "json", subdirectory: "Fixtures")!)

/// Embedding, Conv1D and the 1-D pooling layers against Keras (generate_sequence_layers.py), their
/// gradients against finite differences, and their refusals.
@Suite struct SequenceLayerTests {
  @Test func fixtureCoversEachLayer() {
    for (layer, count) in [
      ("Embedding", 2), ("Conv1D", 4), ("MaxPooling1D", 2), ("AveragePooling1D", 2),
      ("GlobalMaxPooling1D", 1), ("GlobalAveragePooling1D", 1), ("SimpleRNN", 2), ("LSTM", 3),
      ("GRU", 4), ("UpSampling1D", 1), ("ZeroPadding1D", 2), ("Cropping1D", 1),
      ("Bidirectional", 4), ("TimeDistributed", 2), ("EinsumDense", 5),
    ] {
      #expect(sequenceLayerFixture.cases(where: "layer", is: layer).count == count, "\(layer)")
    }
  }

  /// Every case on every backend (the convolutions and pooling run on oneDNN on "cpu").
  @Test(arguments: sequenceLayerFixture.cases, convolutionBackends)
  func matchesKeras(_ fixture: KerasCase, backend: String) throws {
    try checkAgainstKeras(
      fixture, kernels: try registries.kernels.make(backend), rtol: 1e-4, atol: 1e-5)
  }

  @Test func gradientsMatchFiniteDifferences() throws {
    let layers: [(String, any Layer)] = [
      ("Conv1D same", try Conv1D(3, 3, strides: 2, padding: "same", activation: "tanh")),
      ("Conv1D causal", try Conv1D(2, 2, padding: "causal", dilationRate: 2)),
      ("MaxPooling1D", try MaxPooling1D(3, strides: 2, padding: "same")),
      ("AveragePooling1D", try AveragePooling1D(2, padding: "same")),
      ("GlobalMaxPooling1D", try GlobalMaxPooling1D()),
      ("GlobalAveragePooling1D", try GlobalAveragePooling1D(keepdims: true)),
      ("SimpleRNN", try SimpleRNN(3, returnSequences: true)),
      ("LSTM", try LSTM(3, goBackwards: true)),
      ("LSTM sequences", try LSTM(2, returnSequences: true)),
      ("GRU", try GRU(3, returnSequences: true)),
      ("GRU reset before", try GRU(2, goBackwards: true, resetAfter: false)),
      ("UpSampling1D", try UpSampling1D(size: 2)),
      ("ZeroPadding1D", try ZeroPadding1D(padding: SequenceMargins(start: 1, end: 2))),
      ("Cropping1D", try Cropping1D(cropping: SequenceMargins(start: 2, end: 1))),
      ("Bidirectional concat", try Bidirectional(LSTM(2, returnSequences: true))),
      ("Bidirectional ave", try Bidirectional(GRU(2), mergeMode: "ave")),
      ("TimeDistributed", try TimeDistributed(Dense(2, activation: "tanh"))),
      (
        "EinsumDense heads",
        try EinsumDense("abc,cde->abde", outputShape: [nil, 2, 2], biasAxes: "de")
      ),
      ("EinsumDense ...", try EinsumDense("...b,bc->...c", outputShape: [4], activation: "tanh")),
      ("EinsumDense steps summed", try EinsumDense("abc,bcd->ad", outputShape: [2], biasAxes: "d")),
    ]
    for (name, layer) in layers {
      let error = try maxGradientError(of: layer, inputShape: [2, 7, 3])
      #expect(error < 1e-2, "\(name): \(error)")
    }
    // Embedding's formula, the table's gradient with the ids held fixed (they are not
    // differentiable).
    let ids = try Tensor(shape: [2, 4], scalars: [0, 1, 4, 1, 3, 3, 2, 0])
    let error = try maxGradientError(
      of: { try Ops.take($0[0], ids, axis: 0) }, at: [awayFromZero([5, 3], seed: 2)])
    #expect(error < 1e-2, "Embedding: \(error)")
  }

  /// A repeated id gets the sum of its rows' gradients.
  @Test func embeddingGradientAccumulatesRepeatedIds() throws {
    let layer = try Embedding(4, 2)
    var generator = SeededGenerator(seed: 1)
    _ = try layer.build(inputShape: [3], generator: &generator)
    let context = Context(isTraining: true)
    _ = try layer.forward(try Tensor(shape: [1, 3], scalars: [2, 0, 2]), in: context)
    _ = try layer.backward(try Tensor(shape: [1, 3, 2], scalars: [1, 2, 3, 4, 5, 6]), in: context)
    #expect(try #require(layer.embeddings).gradient.scalars == [3, 4, 0, 0, 6, 8, 0, 0])
  }

  /// Bad sequences are errors that say what is wrong, never a crash: a mask of the wrong shape, an
  /// empty sequence, a sequence longer than the layer was built for.
  @Test func badSequencesAreRefused() throws {
    func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
    var generator = SeededGenerator(seed: 1)
    let makers: [() throws -> any Layer] = [{ try LSTM(2) }, { try GRU(2) }, { try SimpleRNN(2) }]
    for make in makers {
      let layer = try make()
      _ = try layer.build(inputShape: [5, 3], generator: &generator)
      let recurrent = try #require(layer as? RecurrentLayer)
      recurrent.inputMask = try Tensor(shape: [2, 4], repeating: 1)
      let wrongMask = message {
        try layer.forward(Tensor(shape: [2, 5, 3], repeating: 0.5), in: Context())
      }
      #expect(
        wrongMask.contains("mask of shape (2, 4)") && wrongMask.contains("(2, 5)"), "\(wrongMask)")
      recurrent.inputMask = nil
      let longer = message {
        try layer.forward(Tensor(shape: [2, 7, 3], repeating: 0.5), in: Context())
      }
      #expect(longer.contains("(None, 5, 3)"), "\(longer)")
      let empty = message { try make().build(inputShape: [0, 3], generator: &generator) }
      #expect(!empty.isEmpty, "\(layer.identifier) built for an empty sequence")
    }
  }
}

/// The fused loops (Ops.lstm, Ops.gru, Ops.simpleRNN) against the same steps written with ops,
/// autodiff giving both gradients: masks, recurrent dropout, both directions, sequences and zero
/// outputs.
@Suite struct FusedLoopTests {
  enum Cell: String, CaseIterable { case lstm, gru, simple }

  /// One cell's step as ops: Keras' formulas. `state` is the state the products read (times the
  /// dropout mask); returns the new states.
  func step(
    _ cell: Cell, _ x: Tensor, _ states: [Tensor], state: Tensor, _ kernel: Tensor, bias: Tensor?
  )
    throws -> [Tensor]
  {
    var inner = try Ops.matmul(state, kernel)
    if let bias { inner = try inner + bias }
    switch cell {
    case .lstm:
      let parts = try Ops.split(x + inner, sections: 4, axis: 1)
      let (i, f) = (Ops.sigmoid(parts[0]), Ops.sigmoid(parts[1]))
      let (g, o) = (Ops.tanh(parts[2]), Ops.sigmoid(parts[3]))
      let c = try f * states[1] + i * g
      return [try o * Ops.tanh(c), c]
    case .gru:
      let (xs, rs) = (
        try Ops.split(x, sections: 3, axis: 1), try Ops.split(inner, sections: 3, axis: 1)
      )
      let z = Ops.sigmoid(try xs[0] + rs[0]), r = Ops.sigmoid(try xs[1] + rs[1])
      let hh = Ops.tanh(try xs[2] + r * rs[2])
      return [try z * states[0] + (1 - z) * hh]
    case .simple:
      return [Ops.tanh(try x + inner)]
    }
  }

  func reference(
    _ cell: Cell, _ projected: Tensor, _ kernel: Tensor, bias: Tensor?, mask: Tensor?,
    recurrentMask: Tensor?, goBackwards: Bool, returnSequences: Bool, zeroOutput: Bool
  ) throws -> Tensor {
    let (batch, steps, units) = (projected.shape[0], projected.shape[1], kernel.shape[0])
    var states = Array(repeating: Tensor(shape: [batch, units]), count: cell == .lstm ? 2 : 1)
    var outputs: [Tensor] = []
    for s in 0..<steps {
      let t = goBackwards ? steps - 1 - s : s
      let x = try Ops.reshape(
        Ops.slice(projected, start: [0, t, 0], shape: [batch, 1, kernel.shape[1]]),
        [batch, kernel.shape[1]])
      let state = try recurrentMask.map { try states[0] * $0 } ?? states[0]
      let next = try step(cell, x, states, state: state, kernel, bias: bias)
      guard let mask else {
        states = next
        outputs.append(next[0])
        continue
      }
      let keep = try Ops.slice(mask, start: [0, t], shape: [batch, 1])
      outputs.append(try Ops.where(keep, next[0], zeroOutput ? Tensor(scalar: 0) : states[0]))
      states = try zip(next, states).map { try Ops.where(keep, $0, $1) }
    }
    return returnSequences ? try Ops.stack(outputs, axis: 1) : outputs[outputs.count - 1]
  }

  @Test(arguments: Cell.allCases, [false, true])
  func matchesTheOpsFormulation(cell: Cell, masked: Bool) throws {
    try check(cell, masked: masked, batch: 3, steps: 5, units: 18)  // 18: a vector of 16 and a tail
  }

  /// Batches large enough that the loops split their rows over threads (on two cores or more):
  /// each block runs the whole sequence on its rows, and the results are the single block's.
  @Test(arguments: Cell.allCases)
  func splitsTheBatchOverThreads(cell: Cell) throws {
    try check(cell, masked: true, batch: 40, steps: 24, units: 72)
  }

  /// Ops.layerNormalization (one fused operation) against the same formula as eight ops, values
  /// and the gradients of x, gamma and beta, with and without gamma and beta.
  @Test(arguments: [false, true])
  func layerNormalizationMatchesTheOps(affine: Bool) throws {
    let x = try awayFromZero([3, 5, 20], seed: 8) * 2 + 0.5
    let gamma = affine ? awayFromZero([20], seed: 9) : nil
    let beta = affine ? awayFromZero([20], seed: 10) : nil
    func run(_ fused: Bool) throws -> [Tensor] {
      let tape = GradientTape()
      let xs = tape.watch(x), g = gamma.map { tape.watch($0) }, b = beta.map { tape.watch($0) }
      let y = try tape.record { () throws -> Tensor in
        if fused { return try Ops.layerNormalization(xs, gamma: g, beta: b, epsilon: 1e-3) }
        let mean = try Ops.mean(xs, axes: [2], keepDims: true)
        let centered = try xs - mean
        let variance = try Ops.mean(Ops.square(centered), axes: [2], keepDims: true)
        var y = try centered * (1 / Ops.sqrt(variance + 1e-3))
        if let g { y = try y * g }
        if let b { y = try y + b }
        return y
      }
      let seed = try Tensor(shape: y.shape, scalars: (0..<y.count).map { Float($0 % 5) - 2 })
      let wrt = [xs] + [g, b].compactMap { $0 }
      return [y] + (try tape.gradients(of: y, seed: seed, for: wrt).tensors)
    }
    let (fused, ops) = (try run(true), try run(false))
    #expect(fused.count == ops.count)
    for (k, name) in ["y", "dx", "d gamma", "d beta"].prefix(fused.count).enumerated() {
      #expect(
        isClose(fused[k], ops[k], rtol: 1e-4, atol: 1e-5),
        "\(name): \(closeness(fused[k], ops[k], rtol: 1e-4, atol: 1e-5))")
    }
  }

  func check(_ cell: Cell, masked: Bool, batch: Int, steps: Int, units: Int) throws {
    let gates = ["lstm": 4, "gru": 3, "simple": 1][cell.rawValue]!
    let projected = awayFromZero([batch, steps, gates * units], seed: 3)
    let kernel =
      try awayFromZero([units, gates * units], seed: 4) * (0.3 * sqrt(18 / Float(units)))
    let bias = cell == .gru ? try awayFromZero([gates * units], seed: 5) * 0.5 : nil
    let pattern: [Float] = [1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0]
    let mask = try Tensor(
      shape: [batch, steps], scalars: (0..<(batch * steps)).map { pattern[$0 % pattern.count] })
    let recurrentMask = try Tensor(
      shape: [batch, units], scalars: (0..<(batch * units)).map { $0 % 3 == 0 ? 0 : 1.25 })
    for (returnSequences, zeroOutput, dropout, backwards) in [
      (false, false, false, false), (true, false, true, true), (true, true, false, false),
      (false, true, true, true),
    ] {
      let label =
        "\(cell) masked \(masked), backwards \(backwards), sequences \(returnSequences), zeros \(zeroOutput), dropout \(dropout)"
      func run(_ fused: Bool) throws -> [Tensor] {
        let tape = GradientTape()
        let p = tape.watch(projected), k = tape.watch(kernel), b = bias.map { tape.watch($0) }
        let (m, r) = (masked ? mask : nil, dropout ? recurrentMask : nil)
        let y = try tape.record { () throws -> Tensor in
          guard fused else {
            return try reference(
              cell, p, k, bias: b, mask: m, recurrentMask: r, goBackwards: backwards,
              returnSequences: returnSequences, zeroOutput: zeroOutput)
          }
          switch cell {
          case .lstm:
            return try Ops.lstm(
              p, recurrentKernel: k, mask: m, recurrentMask: r, goBackwards: backwards,
              returnSequences: returnSequences, zeroOutputForMask: zeroOutput)
          case .gru:
            return try Ops.gru(
              p, recurrentKernel: k, recurrentBias: b, mask: m, recurrentMask: r,
              goBackwards: backwards, returnSequences: returnSequences,
              zeroOutputForMask: zeroOutput)
          case .simple:
            return try Ops.simpleRNN(
              p, recurrentKernel: k, mask: m, recurrentMask: r, goBackwards: backwards,
              returnSequences: returnSequences, zeroOutputForMask: zeroOutput)
          }
        }
        let seed = try Tensor(shape: y.shape, scalars: (0..<y.count).map { Float($0 % 7) - 3 })
        return [y]
          + (try tape.gradients(of: y, seed: seed, for: [p, k] + (b.map { [$0] } ?? [])).tensors)
      }
      let (fused, steps) = (try run(true), try run(false))
      for (k, name) in ["y", "d projected", "d kernel", "d bias"].prefix(fused.count).enumerated() {
        // A gradient summed over the batch and the steps (d kernel: 960 terms of up to ~50 in the
        // threaded case) rounds in the order each side adds: the absolute tolerance follows the
        // largest value, so an element near zero is not held to 1e-5 of nothing.
        let scale = max(1, steps[k].scalars.map(abs).max() ?? 1)
        #expect(
          isClose(fused[k], steps[k], rtol: 1e-4, atol: 1e-5 * scale),
          "\(label) \(name): \(closeness(fused[k], steps[k], rtol: 1e-4, atol: 1e-5 * scale))")
      }
    }
  }
}

/// Recurrent states between layers: `return_state` gives the final states as more outputs and
/// `initial_state` starts a layer from them, as Keras' encoder-decoder does.
@Suite struct RecurrentStateTests {
  @Test func gradientsMatchFiniteDifferences() throws {
    for (name, layer, shapes) in [
      (
        "LSTM from states", try LSTM(3, returnSequences: true) as any MergeLayer,
        [[2, 4, 3], [2, 3], [2, 3]]
      ),
      ("GRU from a state", try GRU(2, goBackwards: true), [[2, 4, 3], [2, 2]]),
      ("SimpleRNN from a state", try SimpleRNN(2), [[2, 3, 2], [2, 2]]),
    ] {
      let error = try maxGradientError(of: layer, inputShapes: shapes)
      #expect(error < 1e-2, "\(name): \(error)")
    }
    // The output and the final states, packed.
    for (name, layer) in [
      ("LSTM returning states", try LSTM(3, returnState: true) as any Layer),
      ("GRU returning sequences and state", try GRU(2, returnSequences: true, returnState: true)),
    ] {
      let error = try maxGradientError(of: layer, inputShape: [2, 4, 3])
      #expect(error < 1e-2, "\(name): \(error)")
    }
  }

}
