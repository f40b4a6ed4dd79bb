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
    var gates = Tensor(shape: [steps, b, g]), candidates = Tensor(shape: [isGRU ? steps : 0, b, u])
    var previous = Tensor(shape: [steps, b, u]), stateInputs = Tensor(shape: [steps, b, u])
    var h = Tensor(shape: [b, u]), inner = Tensor(shape: [b, g])
    var y = Tensor(shape: returnSequences ? [b, steps, u] : [b, u])
    let keepSteps = mask?.scalars
    let biasValues = bias?.scalars
    projected.withUnsafeBufferPointer { p in
      kernel.withUnsafeBufferPointer { w in
        gates.withUnsafeMutableBufferPointer { gates in
          candidates.withUnsafeMutableBufferPointer { candidates in
            previous.withUnsafeMutableBufferPointer { previous in
              stateInputs.withUnsafeMutableBufferPointer { inputs in
                inner.withUnsafeMutableBufferPointer { inner in
                  h.withUnsafeMutableBufferPointer { h in
                    y.withUnsafeMutableBufferPointer { y in
                      for s in 0..<steps {
                        let t = goBackwards ? steps - 1 - s : s
                        let state = UnsafeMutableBufferPointer(
                          rebasing: inputs[(s * b * u)..<((s + 1) * b * u)])
                        (previous.baseAddress! + s * b * u).update(
                          from: h.baseAddress!, count: b * u)
                        if let recurrentMask {
                          recurrentMask.withUnsafeBufferPointer { m in
                            simdZip(UnsafeBufferPointer(h), m, into: state) { $0 * $1 }
                          }
                        } else {
                          state.baseAddress!.update(from: h.baseAddress!, count: b * u)
                        }
                        kernels.gemm(
                          transposeA: false, transposeB: false, m: b, n: g, k: u, alpha: 1,
                          a: UnsafeBufferPointer(state), b: w, beta: 0, c: inner)
                        for row in 0..<b {
                          let keep = keepSteps.map { $0[row * steps + t] != 0 } ?? true
                          let pr = p.baseAddress! + (row * steps + t) * g
                          let ir = inner.baseAddress! + row * g
                          if let biasValues { for j in 0..<g { ir[j] += biasValues[j] } }
                          let gr = gates.baseAddress! + (s * b + row) * g
                          let hr = h.baseAddress! + row * u
                          let writes = returnSequences || s == steps - 1
                          let out =
                            y.baseAddress! + (returnSequences ? (row * steps + s) * u : row * u)
                          var j = 0
                          while j < u {
                            let n = min(16, u - j)
                            let hPrevious = loadLanes(hr + j, n)
                            let hNew: SIMD16<Float>
                            if isGRU {
                              let z = SIMDMath.sigmoid(loadLanes(pr + j, n) + loadLanes(ir + j, n))
                              let r = SIMDMath.sigmoid(
                                loadLanes(pr + u + j, n) + loadLanes(ir + u + j, n))
                              let candidate = loadLanes(ir + 2 * u + j, n)
                              let hh = SIMDMath.tanh(loadLanes(pr + 2 * u + j, n) + r * candidate)
                              hNew = z * hPrevious + (1 - z) * hh
                              storeLanes(z, gr + j, n)
                              storeLanes(r, gr + u + j, n)
                              storeLanes(hh, gr + 2 * u + j, n)
                              storeLanes(
                                candidate, candidates.baseAddress! + (s * b + row) * u + j, n)
                            } else {
                              hNew = SIMDMath.tanh(loadLanes(pr + j, n) + loadLanes(ir + j, n))
                              storeLanes(hNew, gr + j, n)
                            }
                            if keep {
                              if writes { storeLanes(hNew, out + j, n) }
                              storeLanes(hNew, hr + j, n)
                            } else if writes {
                              storeLanes(zeroOutput ? SIMD16() : hPrevious, out + j, n)
                            }
                            j += 16
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
    let zeroOutput = zeroOutputForMask
    var dProjected = Tensor(shape: [b, steps, g])
    var dInner = Tensor(shape: [steps, b, g])
    var dh = Tensor(shape: [b, u]), dState = Tensor(shape: [b, u])
    let keepSteps = mask?.scalars
    let transposed = transposedKernel(kernel)
    for s in (0..<steps).reversed() {
      let t = goBackwards ? steps - 1 - s : s
      dInner.withUnsafeMutableBufferPointer { di in
        dProjected.withUnsafeMutableBufferPointer { dp in
          dy.withUnsafeBufferPointer { dy in
            gates.withUnsafeBufferPointer { gates in
              candidates.withUnsafeBufferPointer { candidates in
                previous.withUnsafeBufferPointer { previous in
                  dh.withUnsafeMutableBufferPointer { dh in
                    for row in 0..<b {
                      let m: Float = (keepSteps.map { $0[row * steps + t] != 0 } ?? true) ? 1 : 0
                      let gr = gates.baseAddress! + (s * b + row) * g
                      let hp = previous.baseAddress! + (s * b + row) * u
                      let dir = di.baseAddress! + (s * b + row) * g
                      let dpr = dp.baseAddress! + (row * steps + t) * g
                      let dhr = dh.baseAddress! + row * u
                      let hasOutput = returnSequences || s == steps - 1
                      let dout =
                        hasOutput
                        ? dy.baseAddress!
                          + (returnSequences ? (row * steps + s) * u : row * u) : nil
                      var j = 0
                      while j < u {
                        let n = min(16, u - j)
                        let dhNext = loadLanes(dhr + j, n)
                        let dOut = dout.map { loadLanes($0 + j, n) } ?? SIMD16()
                        let dhNew = m * (dhNext + dOut)
                        var carried = (1 - m) * (dhNext + (zeroOutput ? SIMD16() : dOut))
                        if isGRU {
                          let z = loadLanes(gr + j, n), r = loadLanes(gr + u + j, n)
                          let hh = loadLanes(gr + 2 * u + j, n), hPrevious = loadLanes(hp + j, n)
                          let candidate = loadLanes(
                            candidates.baseAddress! + (s * b + row) * u + j, n)
                          let dz = dhNew * (hPrevious - hh) * z * (1 - z)
                          let dhh = dhNew * (1 - z) * (1 - hh * hh)
                          let dr = dhh * candidate * r * (1 - r)
                          storeLanes(dz, dpr + j, n)
                          storeLanes(dr, dpr + u + j, n)
                          storeLanes(dhh, dpr + 2 * u + j, n)
                          storeLanes(dz, dir + j, n)
                          storeLanes(dr, dir + u + j, n)
                          storeLanes(dhh * r, dir + 2 * u + j, n)
                          carried += dhNew * z
                        } else {
                          let hNew = loadLanes(gr + j, n)
                          let pre = dhNew * (1 - hNew * hNew)
                          storeLanes(pre, dpr + j, n)
                          storeLanes(pre, dir + j, n)
                        }
                        storeLanes(carried, dhr + j, n)
                        j += 16
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
      addStateGradient(
        of: dInner, step: s, transposed: transposed, recurrentMask: recurrentMask, into: &dh,
        scratch: &dState, kernels: kernels)
    }
    let dKernel = recurrentKernelGradient(stateInputs, dInner, kernels: kernels)
    var dBias = Tensor(shape: [g])
    dInner.withUnsafeBufferPointer { di in
      dBias.withUnsafeMutableBufferPointer { db in kernels.sumRows(di, into: db) }
    }
    return (dProjected, dKernel, dBias)
  }
}
