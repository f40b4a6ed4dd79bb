import CStrataKernels

extension Ops {
  /// Layer normalization over the last axis as one operation: `(x - mean) / sqrt(variance +
  /// epsilon) · gamma + beta`, each row's mean and (biased) variance over its last axis, as Keras'
  /// `LayerNormalization(axis=-1)`. One pass a quantity over each row forward and backward (the
  /// same formula as ops would run in eight operations); `gamma` and `beta` are `[features]` or
  /// `nil`.
  public static func layerNormalization(
    _ x: Tensor, gamma: Tensor?, beta: Tensor?, epsilon: Float
  ) throws -> Tensor {
    guard x.rank >= 1, let n = x.shape.last, n > 0,
      gamma.map({ $0.shape == [n] }) ?? true, beta.map({ $0.shape == [n] }) ?? true
    else {
      throw shapeError(
        "layerNormalization", [x.shape] + [gamma, beta].compactMap { $0?.shape },
        expected: "gamma and beta of the last axis' size")
    }
    let rows = x.count / n
    let tape = OpsState.tape(tracking: x, gamma ?? x, beta ?? x)
    var y = Tensor(uninitializedPooledShape: x.shape)
    var xhat = Tensor(uninitializedPooledShape: tape == nil ? [0] : x.shape)
    var inverse = Tensor(uninitializedPooledShape: [tape == nil ? 0 : rows])
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { ys in
        xhat.withUnsafeMutableBufferPointer { hs in
          inverse.withUnsafeMutableBufferPointer { inv in
            withOptionalPointers(gamma, beta) { g, b in
              strata_layer_norm_forward(
                xs.baseAddress, g, b, ys.baseAddress, tape == nil ? nil : hs.baseAddress,
                tape == nil ? nil : inv.baseAddress, rows, n, epsilon)
            }
          }
        }
      }
    }
    guard let tape else { return y }
    let inputs = [x] + [gamma, beta].compactMap { $0 }
    let (kept, inv) = (xhat, inverse)
    let (trackGamma, trackBeta) = (
      gamma.map(tape.isTracking) ?? false, beta.map(tape.isTracking) ?? false
    )
    return tape.record(y, inputs: inputs) { dy in
      var dx = Tensor(uninitializedPooledShape: x.shape)
      var dGamma = Tensor(pooledShape: [trackGamma ? n : 0])
      var dBeta = Tensor(pooledShape: [trackBeta ? n : 0])
      dy.withUnsafeBufferPointer { g in
        kept.withUnsafeBufferPointer { h in
          inv.withUnsafeBufferPointer { inv in
            dx.withUnsafeMutableBufferPointer { dx in
              dGamma.withUnsafeMutableBufferPointer { dg in
                dBeta.withUnsafeMutableBufferPointer { db in
                  withOptionalPointers(gamma, nil) { gp, _ in
                    strata_layer_norm_backward(
                      g.baseAddress, h.baseAddress, inv.baseAddress, gp, dx.baseAddress,
                      trackGamma ? dg.baseAddress : nil, trackBeta ? db.baseAddress : nil, rows, n)
                  }
                }
              }
            }
          }
        }
      }
      return [dx] + (gamma == nil ? [] : [trackGamma ? dGamma : nil])
        + (beta == nil ? [] : [trackBeta ? dBeta : nil])
    }
  }
}

/// Runs `body` with the base addresses of `a` and `b` (`nil` for a missing tensor).
private func withOptionalPointers<R>(
  _ a: Tensor?, _ b: Tensor?,
  _ body: (UnsafePointer<Float>?, UnsafePointer<Float>?) -> R
) -> R {
  func with(_ t: Tensor?, _ inner: (UnsafePointer<Float>?) -> R) -> R {
    guard let t else { return inner(nil) }
    return t.withUnsafeBufferPointer { inner($0.baseAddress) }
  }
  return with(a) { pa in with(b) { pb in body(pa, pb) } }
}
