import CStrataKernels

/// The loops of GRU (Keras 3's default `reset_after` form) and SimpleRNN layers as one operation
/// each, as ``Ops/lstm(_:recurrentKernel:mask:recurrentMask:goBackwards:returnSequences:zeroOutputForMask:)``
/// runs an LSTM's: gates in SIMD, one product per step for the state, the recurrent kernel's (and
/// bias's) gradient as one product over every step.
extension Ops {
  /// A GRU's outputs (`reset_after`, `tanh` and `sigmoid`) for projected inputs `projected`
  /// (`[batch, steps, 3·units]`: `x · kernel + input bias`, gates `z, r, h` in Keras' order),
  /// `recurrentKernel` (`[units, 3·units]`) and the recurrent bias (`[3·units]`, Keras' bias row
  /// 1). The recurrent dropout mask multiplies the state in its products only, as Keras'.
  /// The other arguments are the LSTM's.
  public static func gru(
    _ projected: Tensor, recurrentKernel: Tensor, recurrentBias: Tensor?, mask: Tensor? = nil,
    recurrentMask: Tensor? = nil, goBackwards: Bool = false, returnSequences: Bool = false,
    zeroOutputForMask: Bool = false
  ) throws -> Tensor {
    try gatedLoop(
      .gru, projected, recurrentKernel: recurrentKernel, recurrentBias: recurrentBias, mask: mask,
      recurrentMask: recurrentMask, goBackwards: goBackwards, returnSequences: returnSequences,
      zeroOutputForMask: zeroOutputForMask)
  }

  /// A SimpleRNN's outputs (`tanh`): `h = tanh(projected_t + h · recurrentKernel)`, with the
  /// LSTM's other arguments.
  public static func simpleRNN(
    _ projected: Tensor, recurrentKernel: Tensor, mask: Tensor? = nil,
    recurrentMask: Tensor? = nil, goBackwards: Bool = false, returnSequences: Bool = false,
    zeroOutputForMask: Bool = false
  ) throws -> Tensor {
    try gatedLoop(
      .simple, projected, recurrentKernel: recurrentKernel, recurrentBias: nil, mask: mask,
      recurrentMask: recurrentMask, goBackwards: goBackwards, returnSequences: returnSequences,
      zeroOutputForMask: zeroOutputForMask)
  }

  private static func gatedLoop(
    _ kind: GatedLoop.Kind, _ projected: Tensor, recurrentKernel: Tensor, recurrentBias: Tensor?,
    mask: Tensor?, recurrentMask: Tensor?, goBackwards: Bool, returnSequences: Bool,
    zeroOutputForMask: Bool
  ) throws -> Tensor {
    let op = kind == .gru ? "gru" : "simpleRNN"
    let gates = kind == .gru ? 3 : 1
    guard projected.rank == 3, recurrentKernel.rank == 2,
      recurrentKernel.shape[1] == gates * recurrentKernel.shape[0],
      projected.shape[2] == recurrentKernel.shape[1],
      recurrentBias.map({ $0.shape == [recurrentKernel.shape[1]] }) ?? true
    else {
      throw shapeError(
        op, [projected.shape, recurrentKernel.shape] + (recurrentBias.map { [$0.shape] } ?? []),
        expected:
          "[batch, steps, \(gates)·units] inputs, a [units, \(gates)·units] recurrent kernel and bias"
      )
    }
    let (batch, steps, units) = (projected.shape[0], projected.shape[1], recurrentKernel.shape[0])
    if let mask, mask.shape != [batch, steps] {
      throw shapeError(op, [mask.shape], expected: "a mask [\(batch), \(steps)]")
    }
    if let recurrentMask, recurrentMask.shape != [batch, units] {
      throw shapeError(op, [recurrentMask.shape], expected: "a recurrent mask [\(batch), \(units)]")
    }
    let tape =
      recurrentBias.flatMap { OpsState.tape(tracking: projected, recurrentKernel, $0) }
      ?? OpsState.tape(tracking: projected, recurrentKernel)
    var loop = GatedLoop(
      kind: kind, batch: batch, steps: steps, units: units, goBackwards: goBackwards,
      returnSequences: returnSequences, zeroOutputForMask: zeroOutputForMask)
    let kernels = self.kernels
    let y = loop.forward(
      projected, recurrentKernel, bias: recurrentBias, mask: mask, recurrentMask: recurrentMask,
      kernels: kernels)
    guard let tape else { return y }
    let inputs = [projected, recurrentKernel] + (recurrentBias.map { [$0] } ?? [])
    let tracked = inputs.map(tape.isTracking)
    return tape.record(y, inputs: inputs) { dy in
      let (dProjected, dKernel, dBias) = loop.backward(
        dy, recurrentKernel, mask: mask, recurrentMask: recurrentMask, kernels: kernels)
      return zip([dProjected, dKernel, dBias], tracked).map { $1 ? $0 : nil }
    }
  }
}

/// A GRU's or SimpleRNN's forward pass, what it keeps, and its backward pass.
private struct GatedLoop {
  enum Kind { case gru, simple }
  let kind: Kind
  let batch: Int, steps: Int, units: Int
  let goBackwards: Bool, returnSequences: Bool, zeroOutputForMask: Bool
  /// `[steps, batch, gates·units]`: GRU `z, r, h̃`; SimpleRNN the new state.
  var gates = Tensor(shape: [0])
  /// `[steps, batch, units]`: GRU's recurrent candidate part `h·U_h + b_h`, before the reset gate.
  var candidates = Tensor(shape: [0])
  /// `[steps, batch, units]`: the state before each step.
  var previous = Tensor(shape: [0])
  /// `[steps, batch, units]`: the state each step multiplies (times the dropout mask).
  var stateInputs = Tensor(shape: [0])

  init(
    kind: Kind, batch: Int, steps: Int, units: Int, goBackwards: Bool, returnSequences: Bool,
    zeroOutputForMask: Bool
  ) {
    (self.kind, self.batch, self.steps, self.units) = (kind, batch, steps, units)
    (self.goBackwards, self.returnSequences) = (goBackwards, returnSequences)
    self.zeroOutputForMask = zeroOutputForMask
  }

  var width: Int { kind == .gru ? 3 * units : units }

  mutating func forward(
    _ projected: Tensor, _ kernel: Tensor, bias: Tensor?, mask: Tensor?, recurrentMask: Tensor?,
    kernels: any Kernels
  ) -> Tensor {
    let (b, u, g, steps, isGRU) = (batch, units, width, self.steps, kind == .gru)
    let (returnSequences, zeroOutput) = (self.returnSequences, zeroOutputForMask)
    let goBackwards = self.goBackwards
    // Every step writes its slots whole: pooled buffers, not cleared.
    var gates = Tensor(uninitializedPooledShape: [steps, b, g])
    var candidates = Tensor(uninitializedPooledShape: [isGRU ? steps : 0, b, u])
    var previous = Tensor(uninitializedPooledShape: [steps, b, u])
    var stateInputs = Tensor(uninitializedPooledShape: [steps, b, u])
    var h = Tensor(pooledShape: [b, u]), inner = Tensor(uninitializedPooledShape: [b, g])
    var y = Tensor(pooledShape: returnSequences ? [b, steps, u] : [b, u])
    let keepSteps = mask?.scalars
    projected.withUnsafeBufferPointer { p in
      kernel.withUnsafeBufferPointer { w in
        gates.withUnsafeMutableBufferPointer { gates in
          candidates.withUnsafeMutableBufferPointer { candidates in
            previous.withUnsafeMutableBufferPointer { previous in
              stateInputs.withUnsafeMutableBufferPointer { inputs in
                inner.withUnsafeMutableBufferPointer { inner in
                  h.withUnsafeMutableBufferPointer { h in
                    y.withUnsafeMutableBufferPointer { y in
                      let buffers = UncheckedBox(
                        (p, w, gates, candidates, previous, inputs, inner, h, y))
                      let recurrentMask = recurrentMask.map(UncheckedBox.init)
                      let bias = bias.map(UncheckedBox.init)
                      // Each block of rows runs the whole sequence alone (see the LSTM's loop).
                      forEachRowBlock(rows: b, multiplyAdds: steps * b * u * g, kernels: kernels) {
                        rows in
                        let (p, w, gates, candidates, previous, inputs, inner, h, y) =
                          buffers.value
                        let (r0, rb) = (rows.lowerBound, rows.count)
                        for s in 0..<steps {
                          let t = goBackwards ? steps - 1 - s : s
                          let state = UnsafeMutableBufferPointer(
                            rebasing: inputs[((s * b + r0) * u)..<((s * b + r0 + rb) * u)])
                          (previous.baseAddress! + (s * b + r0) * u).update(
                            from: h.baseAddress! + r0 * u, count: rb * u)
                          copyState(
                            h, rows: rows, units: u, mask: recurrentMask?.value, into: state)
                          multiplyState(
                            state, by: w, rows: rows, width: g, adding: false, into: inner,
                            kernels: kernels)
                          for row in rows {
                            let keep: Int32 =
                              (keepSteps.map { $0[row * steps + t] != 0 } ?? true) ? 1 : 0
                            let writes = returnSequences || s == steps - 1
                            let out =
                              writes
                              ? y.baseAddress!
                                + (returnSequences ? (row * steps + s) * u : row * u) : nil
                            let pr = p.baseAddress! + (row * steps + t) * g
                            let ir = inner.baseAddress! + row * g
                            let gr = gates.baseAddress! + (s * b + row) * g
                            let hr = h.baseAddress! + row * u
                            if isGRU {
                              bias.map { bias in
                                bias.value.withUnsafeBufferPointer { bs in
                                  strata_gru_forward_row(
                                    pr, ir, bs.baseAddress, gr,
                                    candidates.baseAddress! + (s * b + row) * u, hr, out, u, keep,
                                    zeroOutput ? 1 : 0)
                                }
                              }
                                ?? strata_gru_forward_row(
                                  pr, ir, nil, gr, candidates.baseAddress! + (s * b + row) * u,
                                  hr, out, u, keep, zeroOutput ? 1 : 0)
                            } else {
                              strata_simple_rnn_forward_row(
                                pr, ir, gr, hr, out, u, keep, zeroOutput ? 1 : 0)
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    (self.gates, self.candidates, self.previous, self.stateInputs) = (
      gates, candidates, previous, stateInputs
    )
    return y
  }

  /// The gradients of the projected inputs, the recurrent kernel and the recurrent bias.
  func backward(
    _ dy: Tensor, _ kernel: Tensor, mask: Tensor?, recurrentMask: Tensor?, kernels: any Kernels
  ) -> (Tensor, Tensor, Tensor) {
    let (b, u, g, steps, isGRU) = (batch, units, width, self.steps, kind == .gru)
    let (zeroOutput, returnSequences, goBackwards) = (
      zeroOutputForMask, self.returnSequences, self.goBackwards
    )
    // Written whole, every step and row: pooled, not cleared.
    var dProjected = Tensor(uninitializedPooledShape: [b, steps, g])
    var dInner = Tensor(uninitializedPooledShape: [steps, b, g])
    var dh = Tensor(pooledShape: [b, u]), dState = Tensor(uninitializedPooledShape: [b, u])
    let keepSteps = mask?.scalars
    let transposed = transposedKernel(kernel)
    dInner.withUnsafeMutableBufferPointer { di in
      dProjected.withUnsafeMutableBufferPointer { dp in
        dy.withUnsafeBufferPointer { dy in
          gates.withUnsafeBufferPointer { gates in
            candidates.withUnsafeBufferPointer { candidates in
              previous.withUnsafeBufferPointer { previous in
                dh.withUnsafeMutableBufferPointer { dh in
                  dState.withUnsafeMutableBufferPointer { dState in
                    transposed.withUnsafeBufferPointer { wt in
                      let buffers = UncheckedBox(
                        (di, dp, dy, gates, candidates, previous, dh, dState, wt))
                      let recurrentMask = recurrentMask.map(UncheckedBox.init)
                      forEachRowBlock(rows: b, multiplyAdds: steps * b * u * g, kernels: kernels) {
                        rows in
                        let (di, dp, dy, gates, candidates, previous, dh, dState, wt) =
                          buffers.value
                        for s in (0..<steps).reversed() {
                          let t = goBackwards ? steps - 1 - s : s
                          for row in rows {
                            let m: Float =
                              (keepSteps.map { $0[row * steps + t] != 0 } ?? true) ? 1 : 0
                            let hasOutput = returnSequences || s == steps - 1
                            let dout =
                              hasOutput
                              ? dy.baseAddress!
                                + (returnSequences ? (row * steps + s) * u : row * u) : nil
                            let gr = gates.baseAddress! + (s * b + row) * g
                            let dir = di.baseAddress! + (s * b + row) * g
                            let dpr = dp.baseAddress! + (row * steps + t) * g
                            let dhr = dh.baseAddress! + row * u
                            if isGRU {
                              strata_gru_backward_row(
                                gr, candidates.baseAddress! + (s * b + row) * u,
                                previous.baseAddress! + (s * b + row) * u, dout, dhr, dpr, dir, u,
                                m, zeroOutput ? 1 : 0)
                            } else {
                              strata_simple_rnn_backward_row(
                                gr, dout, dhr, dpr, dir, u, m, zeroOutput ? 1 : 0)
                            }
                          }
                          addStateGradient(
                            of: UnsafeBufferPointer(di), step: s, batch: b, rows: rows,
                            transposed: wt, units: u, recurrentMask: recurrentMask?.value,
                            into: dh, scratch: dState, kernels: kernels)
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    let dKernel = recurrentKernelGradient(stateInputs, dInner, kernels: kernels)
    var dBias = Tensor(shape: [g])
    dInner.withUnsafeBufferPointer { di in
      dBias.withUnsafeMutableBufferPointer { db in kernels.sumRows(di, into: db) }
    }
    return (dProjected, dKernel, dBias)
  }
}
