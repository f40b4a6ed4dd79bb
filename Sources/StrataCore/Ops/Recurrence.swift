import CStrataKernels

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
    let goBackwards = self.goBackwards
    let kept = keeps ? steps : 1
    // Every step writes its slots whole: pooled buffers, not cleared (no fresh pages each step).
    var gates = Tensor(uninitializedPooledShape: [kept, b, g4])
    var tanhCells = Tensor(uninitializedPooledShape: [kept, b, u])
    var stateInputs = Tensor(uninitializedPooledShape: [kept, b, u])
    var cells = Tensor(uninitializedPooledShape: [kept, b, u])
    var h = Tensor(pooledShape: [b, u]), c = Tensor(pooledShape: [b, u])
    var z = Tensor(uninitializedPooledShape: [b, g4])
    var y = Tensor(pooledShape: returnSequences ? [b, steps, u] : [b, u])
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
                        let buffers = UncheckedBox(
                          (p, w, gates, tanhCells, inputs, cells, z, h, c, y))
                        let recurrentMask = recurrentMask.map(UncheckedBox.init)
                        forEachRowBlock(
                          rows: b, multiplyAdds: steps * b * u * g4, kernels: kernels
                        ) { rows in
                          let (p, w, gates, tanhCells, inputs, cells, z, h, c, y) = buffers.value
                          let (r0, rb) = (rows.lowerBound, rows.count)
                          for s in 0..<steps {
                            let t = goBackwards ? steps - 1 - s : s, slot = keeps ? s : 0
                            let state = UnsafeMutableBufferPointer(
                              rebasing: inputs[((slot * b + r0) * u)..<((slot * b + r0 + rb) * u)])
                            copyState(
                              h, rows: rows, units: u, mask: recurrentMask?.value, into: state)
                            // The cell state before the step.
                            (cells.baseAddress! + (slot * b + r0) * u).update(
                              from: c.baseAddress! + r0 * u, count: rb * u)
                            for row in rows {
                              (z.baseAddress! + row * g4).update(
                                from: p.baseAddress! + (row * steps + t) * g4, count: g4)
                            }
                            multiplyState(
                              state, by: w, rows: rows, width: g4, adding: true, into: z,
                              kernels: kernels)
                            for row in rows {
                              let keep = keepSteps.map { $0[row * steps + t] != 0 } ?? true
                              let writes = returnSequences || s == steps - 1
                              strata_lstm_forward_row(
                                z.baseAddress! + row * g4,
                                gates.baseAddress! + (slot * b + row) * g4,
                                tanhCells.baseAddress! + (slot * b + row) * u,
                                c.baseAddress! + row * u, h.baseAddress! + row * u,
                                writes
                                  ? y.baseAddress!
                                    + (returnSequences ? (row * steps + s) * u : row * u) : nil,
                                u, keep ? 1 : 0, zeroOutput ? 1 : 0)
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
    // Written whole, every step and row: pooled, not cleared.
    var dProjected = Tensor(uninitializedPooledShape: [b, steps, g4])
    var dGates = Tensor(uninitializedPooledShape: [steps, b, g4])
    var dh = Tensor(pooledShape: [b, u]), dc = Tensor(pooledShape: [b, u])
    var dState = Tensor(uninitializedPooledShape: [b, u])
    let transposed = transposedKernel(kernel)
    let (zeroOutput, returnSequences, goBackwards) = (
      zeroOutputForMask, self.returnSequences, self.goBackwards
    )
    let keepSteps = mask?.scalars
    dGates.withUnsafeMutableBufferPointer { dz in
      dProjected.withUnsafeMutableBufferPointer { dp in
        dy.withUnsafeBufferPointer { dy in
          gates.withUnsafeBufferPointer { gates in
            tanhCells.withUnsafeBufferPointer { tanhCells in
              cells.withUnsafeBufferPointer { cells in
                dh.withUnsafeMutableBufferPointer { dh in
                  dc.withUnsafeMutableBufferPointer { dc in
                    dState.withUnsafeMutableBufferPointer { dState in
                      transposed.withUnsafeBufferPointer { w in
                        let buffers = UncheckedBox(
                          (dz, dp, dy, gates, tanhCells, cells, dh, dc, dState, w))
                        let recurrentMask = recurrentMask.map(UncheckedBox.init)
                        forEachRowBlock(
                          rows: b, multiplyAdds: steps * b * u * g4, kernels: kernels
                        ) { rows in
                          let (dz, dp, dy, gates, tanhCells, cells, dh, dc, dState, w) =
                            buffers.value
                          for s in (0..<steps).reversed() {
                            let t = goBackwards ? steps - 1 - s : s
                            for row in rows {
                              let m: Float =
                                (keepSteps.map { $0[row * steps + t] != 0 } ?? true) ? 1 : 0
                              let dzr = dz.baseAddress! + (s * b + row) * g4
                              let hasOutput = returnSequences || s == steps - 1
                              strata_lstm_backward_row(
                                gates.baseAddress! + (s * b + row) * g4,
                                tanhCells.baseAddress! + (s * b + row) * units,
                                cells.baseAddress! + (s * b + row) * units,
                                hasOutput
                                  ? dy.baseAddress!
                                    + (returnSequences ? (row * steps + s) * units : row * units)
                                  : nil,
                                dh.baseAddress! + row * units, dc.baseAddress! + row * units, dzr,
                                units, m, zeroOutput ? 1 : 0)
                              (dp.baseAddress! + (row * steps + t) * g4).update(
                                from: dzr, count: g4)
                            }
                            addStateGradient(
                              of: UnsafeBufferPointer(dz), step: s, batch: b, rows: rows,
                              transposed: w,
                              units: units, recurrentMask: recurrentMask?.value, into: dh,
                              scratch: dState, kernels: kernels)
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
    guard kernelGradient else { return (dProjected, nil) }
    let dKernel = recurrentKernelGradient(stateInputs, dGates, kernels: kernels)
    return (dProjected, dKernel)
  }
}

/// `c[rows] = state · kernel` (`+=` when `adding`) for the batch rows `rows`: a step's product in
/// one block of a loop split by rows (`state` holds those rows only, `c` is `[batch, width]`).
func multiplyState(
  _ state: UnsafeMutableBufferPointer<Float>, by kernel: UnsafeBufferPointer<Float>,
  rows: Range<Int>, width g: Int, adding: Bool, into c: UnsafeMutableBufferPointer<Float>,
  kernels: any Kernels
) {
  kernels.gemm(
    transposeA: false, transposeB: false, m: rows.count, n: g, k: kernel.count / max(g, 1),
    alpha: 1, a: UnsafeBufferPointer(state), b: kernel, beta: adding ? 1 : 0,
    c: UnsafeMutableBufferPointer(rebasing: c[(rows.lowerBound * g)..<(rows.upperBound * g)]))
}

/// The rows `rows` of the state a step multiplies: `h`'s, or times the recurrent dropout `mask`
/// (`[batch, units]`), into `state` (those rows only).
func copyState(
  _ h: UnsafeMutableBufferPointer<Float>, rows: Range<Int>, units u: Int, mask: Tensor?,
  into state: UnsafeMutableBufferPointer<Float>
) {
  let part = (rows.lowerBound * u)..<(rows.upperBound * u)
  guard let mask else {
    state.baseAddress!.update(from: h.baseAddress! + part.lowerBound, count: part.count)
    return
  }
  mask.withUnsafeBufferPointer { m in
    simdZip(
      UnsafeBufferPointer(rebasing: h[part]), UnsafeBufferPointer(rebasing: m[part]), into: state
    ) { $0 * $1 }
  }
}

/// `kernel` (`[units, gates·units]`) transposed, `[gates·units, units]`: the state-gradient
/// product reads it untransposed every step (a product the backends run without packing it).
func transposedKernel(_ kernel: Tensor) -> Tensor {
  let (u, g) = (kernel.shape[0], kernel.shape[1])
  var result = Tensor(uninitializedPooledShape: [g, u])
  kernel.withUnsafeBufferPointer { w in
    result.withUnsafeMutableBufferPointer { t in
      // In 16×16 tiles: both sides stay in the cache lines a tile touches.
      for i0 in stride(from: 0, to: u, by: 16) {
        for j0 in stride(from: 0, to: g, by: 16) {
          for i in i0..<min(i0 + 16, u) {
            for j in j0..<min(j0 + 16, g) { t[j * u + i] = w[i * g + j] }
          }
        }
      }
    }
  }
  return result
}

/// Adds step `s`'s state gradient to `dh` for the batch rows `rows`: `dGates[s] · recurrentKernelᵀ`
/// (`wt` is ``transposedKernel(_:)`` of it), times the recurrent dropout mask (the state's products
/// are all the mask touched). `dGates` is `[steps, batch, gates·units]`, `dh` and `scratch`
/// `[batch, units]`; a loop split by rows runs it once per thread.
func addStateGradient(
  of dGates: UnsafeBufferPointer<Float>, step s: Int, batch b: Int, rows: Range<Int>,
  transposed wt: UnsafeBufferPointer<Float>, units u: Int, recurrentMask: Tensor?,
  into dh: UnsafeMutableBufferPointer<Float>, scratch: UnsafeMutableBufferPointer<Float>,
  kernels: any Kernels
) {
  let g = wt.count / max(u, 1)
  let part = (rows.lowerBound * u)..<(rows.upperBound * u)
  let ds = UnsafeMutableBufferPointer(rebasing: scratch[part])
  kernels.gemm(
    transposeA: false, transposeB: false, m: rows.count, n: u, k: g, alpha: 1,
    a: UnsafeBufferPointer(
      rebasing: dGates[((s * b + rows.lowerBound) * g)..<((s * b + rows.upperBound) * g)]),
    b: wt, beta: 0, c: ds)
  if let recurrentMask {
    recurrentMask.withUnsafeBufferPointer { m in
      simdZip(UnsafeBufferPointer(ds), UnsafeBufferPointer(rebasing: m[part]), into: ds) {
        $0 * $1
      }
    }
  }
  let dhRows = UnsafeMutableBufferPointer(rebasing: dh[part])
  simdZip(UnsafeBufferPointer(dhRows), UnsafeBufferPointer(ds), into: dhRows) { $0 + $1 }
}

/// `Σ_s stateInputs[s]ᵀ · dGates[s]`: the recurrent kernel's gradient over every step, as one
/// product, or on two threads or more one product per block of steps, the partial sums added.
func recurrentKernelGradient(_ stateInputs: Tensor, _ dGates: Tensor, kernels: any Kernels)
  -> Tensor
{
  let (steps, b) = (dGates.shape[0], dGates.shape[1])
  let (u, g) = (stateInputs.shape[2], dGates.shape[2])
  let blocks = rowBlockCount(rows: steps, minimumRows: 1, multiplyAdds: steps * b * u * g)
  var partials = (0..<blocks).map { _ in Tensor(uninitializedPooledShape: [u, g]) }
  stateInputs.withUnsafeBufferPointer { inputs in
    dGates.withUnsafeBufferPointer { dz in
      let buffers = UncheckedBox((inputs, dz, partials.map { $0.storage.base }))
      forEachRowBlock(rows: steps, blocks: blocks, kernels: kernels) { index, part in
        let (inputs, dz, outputs) = buffers.value
        let (first, count) = (part.lowerBound * b, part.count * b)
        kernels.gemm(
          transposeA: true, transposeB: false, m: u, n: g, k: count, alpha: 1,
          a: UnsafeBufferPointer(rebasing: inputs[(first * u)..<((first + count) * u)]),
          b: UnsafeBufferPointer(rebasing: dz[(first * g)..<((first + count) * g)]), beta: 0,
          c: UnsafeMutableBufferPointer(start: outputs[index], count: u * g))
      }
    }
  }
  var dKernel = partials.removeFirst()
  for partial in partials {
    dKernel.withUnsafeMutableBufferPointer { sum in
      partial.withUnsafeBufferPointer { part in
        simdZip(UnsafeBufferPointer(sum), part, into: sum) { $0 + $1 }
      }
    }
  }
  return dKernel
}
