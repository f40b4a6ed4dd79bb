/// The loop of an LSTM layer as one operation: the steps' gates in SIMD, one matrix product per step
/// for the state, and on the backward pass one product per step for the state's gradient and a
/// single product for the recurrent kernel's over every step (Keras' `backend.lstm`, the fused
/// path its backends take on the GPU).
extension Ops {
  /// An LSTM's outputs for projected inputs `projected` (`[batch, steps, 4·units]`: `x · kernel +
  /// bias`, gates `i, f, c, o` in Keras' order) and `recurrentKernel` (`[units, 4·units]`), with
  /// `tanh` and `sigmoid` as Keras' defaults.
  ///
  /// - Parameters:
  ///   - mask: `[batch, steps]`, 1 for a real step: a masked step keeps the states, and outputs
  ///     the previous output (zeros with `zeroOutputForMask`).
  ///   - recurrentMask: `[batch, units]`, multiplies the state before its product (recurrent
  ///     dropout).
  ///   - goBackwards: reads the steps from the last; the outputs come in that order.
  ///   - returnSequences: every step's output `[batch, steps, units]`, else the last `[batch, units]`.
  public static func lstm(
    _ projected: Tensor, recurrentKernel: Tensor, mask: Tensor? = nil,
    recurrentMask: Tensor? = nil, goBackwards: Bool = false, returnSequences: Bool = false,
    zeroOutputForMask: Bool = false
  ) throws -> Tensor {
    guard projected.rank == 3, recurrentKernel.rank == 2,
      recurrentKernel.shape[1] == 4 * recurrentKernel.shape[0],
      projected.shape[2] == recurrentKernel.shape[1]
    else {
      throw shapeError(
        "lstm", [projected.shape, recurrentKernel.shape],
        expected: "[batch, steps, 4·units] inputs and a [units, 4·units] recurrent kernel")
    }
    let (batch, steps, units) = (projected.shape[0], projected.shape[1], recurrentKernel.shape[0])
    if let mask, mask.shape != [batch, steps] {
      throw shapeError("lstm", [mask.shape], expected: "a mask [\(batch), \(steps)]")
    }
    if let recurrentMask, recurrentMask.shape != [batch, units] {
      throw shapeError(
        "lstm", [recurrentMask.shape], expected: "a recurrent mask [\(batch), \(units)]")
    }
    let tape = OpsState.tape(tracking: projected, recurrentKernel)
    var loop = LSTMLoop(
      batch: batch, steps: steps, units: units, goBackwards: goBackwards,
      returnSequences: returnSequences, zeroOutputForMask: zeroOutputForMask,
      keeps: tape != nil)
    let kernels = self.kernels
    let y = loop.forward(
      projected, recurrentKernel, mask: mask, recurrentMask: recurrentMask, kernels: kernels)
    guard let tape else { return y }
    let (trackProjected, trackKernel) = (
      tape.isTracking(projected), tape.isTracking(recurrentKernel)
    )
    return tape.record(y, inputs: [projected, recurrentKernel]) { dy in
      let (dProjected, dKernel) = loop.backward(
        dy, recurrentKernel, mask: mask, recurrentMask: recurrentMask, kernels: kernels,
        kernelGradient: trackKernel)
      return [trackProjected ? dProjected : nil, dKernel]
    }
  }
}

/// What an LSTM's forward pass keeps for its backward pass, and both passes.
private struct LSTMLoop {
  let batch: Int, steps: Int, units: Int
  let goBackwards: Bool, returnSequences: Bool, zeroOutputForMask: Bool, keeps: Bool
  /// `[steps, batch, 4·units]`: each step's activated gates `i, f, g, o`.
  var gates = Tensor(shape: [0])
  /// `[steps, batch, units]`: the cell state before each step.
  var cells = Tensor(shape: [0])
  /// `[steps, batch, units]`: `tanh` of each step's new cell state.
  var tanhCells = Tensor(shape: [0])
  /// `[steps, batch, units]`: the state each step multiplies by the recurrent kernel.
  var stateInputs = Tensor(shape: [0])

  init(
    batch: Int, steps: Int, units: Int, goBackwards: Bool, returnSequences: Bool,
    zeroOutputForMask: Bool, keeps: Bool
  ) {
    (self.batch, self.steps, self.units) = (batch, steps, units)
    (self.goBackwards, self.returnSequences) = (goBackwards, returnSequences)
    (self.zeroOutputForMask, self.keeps) = (zeroOutputForMask, keeps)
  }

  /// The time index of processing step `s`.
  func time(_ s: Int) -> Int { goBackwards ? steps - 1 - s : s }

  mutating func forward(
    _ projected: Tensor, _ kernel: Tensor, mask: Tensor?, recurrentMask: Tensor?,
    kernels: any Kernels
  ) -> Tensor {
    let (b, u, g4, steps) = (batch, units, 4 * units, self.steps)
    let (keeps, returnSequences, zeroOutput) = (self.keeps, self.returnSequences, zeroOutputForMask)
    let kept = keeps ? steps : 1
    var gates = Tensor(shape: [kept, b, g4]), tanhCells = Tensor(shape: [kept, b, u])
    var stateInputs = Tensor(shape: [kept, b, u]), cells = Tensor(shape: [kept, b, u])
    var h = Tensor(shape: [b, u]), c = Tensor(shape: [b, u]), z = Tensor(shape: [b, g4])
    var y = Tensor(shape: returnSequences ? [b, steps, u] : [b, u])
    let keepSteps = mask?.scalars
    projected.withUnsafeBufferPointer { p in
      kernel.withUnsafeBufferPointer { w in
        gates.withUnsafeMutableBufferPointer { gates in
          tanhCells.withUnsafeMutableBufferPointer { tanhCells in
            stateInputs.withUnsafeMutableBufferPointer { inputs in
              cells.withUnsafeMutableBufferPointer { cells in
                z.withUnsafeMutableBufferPointer { z in
                  h.withUnsafeMutableBufferPointer { h in
                    c.withUnsafeMutableBufferPointer { c in
                      y.withUnsafeMutableBufferPointer { y in
                        for s in 0..<steps {
                          let t = goBackwards ? steps - 1 - s : s, slot = keeps ? s : 0
                          let state = UnsafeMutableBufferPointer(
                            rebasing: inputs[(slot * b * u)..<((slot + 1) * b * u)])
                          // The state this step multiplies: h, or h times the dropout mask.
                          if let recurrentMask {
                            recurrentMask.withUnsafeBufferPointer { m in
                              simdZip(UnsafeBufferPointer(h), m, into: state) { $0 * $1 }
                            }
                          } else {
                            state.baseAddress!.update(from: h.baseAddress!, count: b * u)
                          }
                          // The cell state before the step.
                          (cells.baseAddress! + slot * b * u).update(
                            from: c.baseAddress!, count: b * u)
                          for row in 0..<b {
                            (z.baseAddress! + row * g4).update(
                              from: p.baseAddress! + (row * steps + t) * g4, count: g4)
                          }
                          kernels.gemm(
                            transposeA: false, transposeB: false, m: b, n: g4, k: u, alpha: 1,
                            a: UnsafeBufferPointer(state), b: w, beta: 1, c: z)
                          for row in 0..<b {
                            let keep = keepSteps.map { $0[row * steps + t] != 0 } ?? true
                            let zr = z.baseAddress! + row * g4
                            let gr = gates.baseAddress! + (slot * b + row) * g4
                            let tr = tanhCells.baseAddress! + (slot * b + row) * u
                            let hr = h.baseAddress! + row * u, cr = c.baseAddress! + row * u
                            let writes = returnSequences || s == steps - 1
                            let out =
                              y.baseAddress! + (returnSequences ? (row * steps + s) * u : row * u)
                            var j = 0
                            while j < u {
                              let n = min(16, u - j)
                              let i = SIMDMath.sigmoid(loadLanes(zr + j, n))
                              let f = SIMDMath.sigmoid(loadLanes(zr + u + j, n))
                              let g = SIMDMath.tanh(loadLanes(zr + 2 * u + j, n))
                              let o = SIMDMath.sigmoid(loadLanes(zr + 3 * u + j, n))
                              let cNew = f * loadLanes(cr + j, n) + i * g
                              let tc = SIMDMath.tanh(cNew)
                              let hNew = o * tc
                              storeLanes(i, gr + j, n)
                              storeLanes(f, gr + u + j, n)
                              storeLanes(g, gr + 2 * u + j, n)
                              storeLanes(o, gr + 3 * u + j, n)
                              storeLanes(tc, tr + j, n)
                              if keep {
                                if writes { storeLanes(hNew, out + j, n) }
                                storeLanes(cNew, cr + j, n)
                                storeLanes(hNew, hr + j, n)
                              } else if writes {
                                storeLanes(zeroOutput ? SIMD16() : loadLanes(hr + j, n), out + j, n)
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
    }
    (self.gates, self.tanhCells, self.stateInputs, self.cells) = (
      gates, tanhCells, stateInputs, cells
    )
    return y
  }

  /// The gradients of the projected inputs and (when asked) of the recurrent kernel.
  func backward(
    _ dy: Tensor, _ kernel: Tensor, mask: Tensor?, recurrentMask: Tensor?, kernels: any Kernels,
    kernelGradient: Bool
  ) -> (Tensor, Tensor?) {
    let (b, u, g4, steps, units) = (batch, units, 4 * units, self.steps, self.units)
    var dProjected = Tensor(shape: [b, steps, g4])
    var dGates = Tensor(shape: [steps, b, g4])
    var dh = Tensor(shape: [b, u]), dc = Tensor(shape: [b, u])
    var dState = Tensor(shape: [b, u])
    let zeroOutput = zeroOutputForMask
    let keepSteps = mask?.scalars
    for s in (0..<steps).reversed() {
      let t = time(s)
      dGates.withUnsafeMutableBufferPointer { dz in
        dProjected.withUnsafeMutableBufferPointer { dp in
          dy.withUnsafeBufferPointer { dy in
            gates.withUnsafeBufferPointer { gates in
              tanhCells.withUnsafeBufferPointer { tanhCells in
                cells.withUnsafeBufferPointer { cells in
                  dh.withUnsafeMutableBufferPointer { dh in
                    dc.withUnsafeMutableBufferPointer { dc in
                      for row in 0..<b {
                        let m: Float = (keepSteps.map { $0[row * steps + t] != 0 } ?? true) ? 1 : 0
                        let gr = gates.baseAddress! + (s * b + row) * g4
                        let tr = tanhCells.baseAddress! + (s * b + row) * units
                        let cPrev = cells.baseAddress! + (s * b + row) * units
                        let dzr = dz.baseAddress! + (s * b + row) * g4
                        let dhr = dh.baseAddress! + row * units, dcr = dc.baseAddress! + row * units
                        let hasOutput = returnSequences || s == steps - 1
                        let dout =
                          hasOutput
                          ? dy.baseAddress!
                            + (returnSequences ? (row * steps + s) * units : row * units) : nil
                        var j = 0
                        while j < units {
                          let n = min(16, units - j)
                          let i = loadLanes(gr + j, n), f = loadLanes(gr + units + j, n)
                          let g = loadLanes(gr + 2 * units + j, n),
                            o = loadLanes(gr + 3 * units + j, n)
                          let tc = loadLanes(tr + j, n), cp = loadLanes(cPrev + j, n)
                          let dhNext = loadLanes(dhr + j, n), dcNext = loadLanes(dcr + j, n)
                          let dOut = dout.map { loadLanes($0 + j, n) } ?? SIMD16()
                          let dhNew = m * (dhNext + dOut)
                          let dcNew = m * dcNext + dhNew * o * (1 - tc * tc)
                          let dzi = dcNew * g * i * (1 - i)
                          let dzf = dcNew * cp * f * (1 - f)
                          let dzg = dcNew * i * (1 - g * g)
                          let dzo = dhNew * tc * o * (1 - o)
                          storeLanes(dzi, dzr + j, n)
                          storeLanes(dzf, dzr + units + j, n)
                          storeLanes(dzg, dzr + 2 * units + j, n)
                          storeLanes(dzo, dzr + 3 * units + j, n)
                          // What reaches the previous states around the step (a masked step).
                          storeLanes(dcNew * f + (1 - m) * dcNext, dcr + j, n)
                          storeLanes(
                            (1 - m) * (dhNext + (zeroOutput ? SIMD16() : dOut)), dhr + j, n)
                          j += 16
                        }
                        (dp.baseAddress! + (row * steps + t) * g4).update(from: dzr, count: g4)
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
        of: dGates, step: s, kernel: kernel, recurrentMask: recurrentMask, into: &dh,
        scratch: &dState, kernels: kernels)
    }
    guard kernelGradient else { return (dProjected, nil) }
    let dKernel = recurrentKernelGradient(stateInputs, dGates, kernels: kernels)
    return (dProjected, dKernel)
  }
}

/// Adds step `s`'s state gradient to `dh`: `dGates[s] · recurrentKernelᵀ`, times the recurrent
/// dropout mask (the state's products are all the mask touched). `scratch` is `[batch, units]`.
func addStateGradient(
  of dGates: Tensor, step s: Int, kernel: Tensor, recurrentMask: Tensor?, into dh: inout Tensor,
  scratch: inout Tensor, kernels: any Kernels
) {
  let (b, g, u) = (dGates.shape[1], dGates.shape[2], kernel.shape[0])
  dGates.withUnsafeBufferPointer { dz in
    kernel.withUnsafeBufferPointer { w in
      scratch.withUnsafeMutableBufferPointer { ds in
        kernels.gemm(
          transposeA: false, transposeB: true, m: b, n: u, k: g, alpha: 1,
          a: UnsafeBufferPointer(rebasing: dz[(s * b * g)..<((s + 1) * b * g)]), b: w, beta: 0,
          c: ds)
      }
    }
  }
  if let recurrentMask {
    scratch.withUnsafeMutableBufferPointer { ds in
      recurrentMask.withUnsafeBufferPointer { m in
        simdZip(UnsafeBufferPointer(ds), m, into: ds) { $0 * $1 }
      }
    }
  }
  dh.withUnsafeMutableBufferPointer { dh in
    scratch.withUnsafeBufferPointer { ds in
      simdZip(UnsafeBufferPointer(dh), ds, into: dh) { $0 + $1 }
    }
  }
}

/// `Σ_s stateInputs[s]ᵀ · dGates[s]`: the recurrent kernel's gradient over every step, as one
/// product.
func recurrentKernelGradient(_ stateInputs: Tensor, _ dGates: Tensor, kernels: any Kernels)
  -> Tensor
{
  let (rows, u, g) = (dGates.shape[0] * dGates.shape[1], stateInputs.shape[2], dGates.shape[2])
  var dKernel = Tensor(shape: [u, g])
  stateInputs.withUnsafeBufferPointer { inputs in
    dGates.withUnsafeBufferPointer { dz in
      dKernel.withUnsafeMutableBufferPointer { dk in
        kernels.gemm(
          transposeA: true, transposeB: false, m: u, n: g, k: rows, alpha: 1, a: inputs, b: dz,
          beta: 0, c: dk)
      }
    }
  }
  return dKernel
}

/// `n` ≤ 16 floats from `p`, zero-padded (the recurrent loops' tails).
@inline(__always)
func loadLanes(_ p: UnsafePointer<Float>, _ n: Int) -> SIMD16<Float> {
  if n == 16 { return UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self) }
  var v = SIMD16<Float>()
  for k in 0..<n { v[k] = p[k] }
  return v
}

@inline(__always)
func loadLanes(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> SIMD16<Float> {
  loadLanes(UnsafePointer(p), n)
}

/// The first `n` ≤ 16 lanes of `v` to `p`.
@inline(__always)
func storeLanes(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, _ n: Int) {
  if n == 16 {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    return
  }
  for k in 0..<n { p[k] = v[k] }
}
