/// Depthwise convolution: each input channel convolved with kernels of its own (MobileNet's and
/// Xception's building block).
extension Ops {
  /// A depthwise 2-D convolution of channels-last images `[batch, h, w, in]` with a kernel
  /// `[kh, kw, in, multiplier]` (Keras' `ops.depthwise_conv`): output channel `c · multiplier + m` is
  /// input channel `c` cross-correlated with `kernel[:, :, c, m]`. `padding` is `"valid"` or `"same"`.
  public static func depthwiseConv(
    _ x: Tensor, _ kernel: Tensor, strides: IntPair = 1, padding: String = "valid",
    dilationRate: IntPair = 1
  ) throws -> Tensor {
    guard x.rank == 4, kernel.rank == 4, kernel.shape[2] == x.shape[3] else {
      throw shapeError(
        "depthwise_conv", [x.shape, kernel.shape],
        expected:
          "images (batch, height, width, channels) and a kernel (kh, kw, channels, multiplier)")
    }
    let same = try requirePadding(padding, owner: "ops.depthwise_conv")
    let multiplier = kernel.shape[3]
    let g = ConvolutionGeometry(
      batch: x.shape[0], height: x.shape[1], width: x.shape[2], channels: x.shape[3],
      filters: x.shape[3] * multiplier, kernel: (kernel.shape[0], kernel.shape[1]),
      strides: strides.tuple, dilation: dilationRate.tuple, same: same)
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      throw shapeError(
        "depthwise_conv", [x.shape, kernel.shape], expected: "images at least the kernel's size")
    }
    var y = Tensor(pooledShape: [g.batch, g.outputHeight, g.outputWidth, g.filters])
    x.withUnsafeBufferPointer { xs in
      kernel.withUnsafeBufferPointer { ws in
        y.withUnsafeMutableBufferPointer { ys in
          let (x, w, y) = (xs.baseAddress!, ws.baseAddress!, ys.baseAddress!)
          if multiplier == 1 {
            depthwiseForward(g, x, w, into: y)
            return
          }
          depthwiseTaps(g) { xo, yo, wo in
            for c in 0..<g.channels {
              for m in 0..<multiplier {
                y[yo + c * multiplier + m] += x[xo + c] * w[wo + c * multiplier + m]
              }
            }
          }
        }
      }
    }
    guard let tape = OpsState.tape(tracking: x, kernel) else { return y }
    let (tx, tk) = (tape.isTracking(x), tape.isTracking(kernel))
    return tape.record(y, inputs: [x, kernel]) { dy in
      var dx = tx ? Tensor(pooledShape: x.shape) : nil
      var dk = tk ? Tensor(pooledShape: kernel.shape) : nil
      dy.withUnsafeBufferPointer { gs in
        x.withUnsafeBufferPointer { xs in
          kernel.withUnsafeBufferPointer { ws in
            let (g2, x, w) = (gs.baseAddress!, xs.baseAddress!, ws.baseAddress!)
            if dx != nil {
              dx!.withUnsafeMutableBufferPointer { dxs in
                let d = dxs.baseAddress!
                depthwiseTaps(g) { xo, yo, wo in
                  if multiplier == 1 {
                    multiplyAdd(g.channels, g2 + yo, w + wo, into: d + xo)
                  } else {
                    for c in 0..<g.channels {
                      for m in 0..<multiplier {
                        d[xo + c] += g2[yo + c * multiplier + m] * w[wo + c * multiplier + m]
                      }
                    }
                  }
                }
              }
            }
            if dk != nil {
              dk!.withUnsafeMutableBufferPointer { dks in
                let d = dks.baseAddress!
                depthwiseTaps(g) { xo, yo, wo in
                  if multiplier == 1 {
                    multiplyAdd(g.channels, x + xo, g2 + yo, into: d + wo)
                  } else {
                    for c in 0..<g.channels {
                      for m in 0..<multiplier {
                        d[wo + c * multiplier + m] += x[xo + c] * g2[yo + c * multiplier + m]
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
      return [dx, dk]
    }
  }

  /// Calls `body` with the offsets of the input pixel, the output pixel and the kernel tap for every
  /// output position and every tap that falls inside the image (padding contributes nothing).
  private static func depthwiseTaps(
    _ g: ConvolutionGeometry, _ body: (_ input: Int, _ output: Int, _ tap: Int) -> Void
  ) {
    for b in 0..<g.batch {
      for oh in 0..<g.outputHeight {
        for ow in 0..<g.outputWidth {
          let output = ((b * g.outputHeight + oh) * g.outputWidth + ow) * g.filters
          for i in 0..<g.kernelHeight {
            let ih = oh * g.strideHeight - g.padTop + i * g.dilationHeight
            guard ih >= 0 && ih < g.height else { continue }
            for j in 0..<g.kernelWidth {
              let iw = ow * g.strideWidth - g.padLeft + j * g.dilationWidth
              guard iw >= 0 && iw < g.width else { continue }
              body(
                ((b * g.height + ih) * g.width + iw) * g.channels, output,
                (i * g.kernelWidth + j) * g.filters)
            }
          }
        }
      }
    }
  }

  /// The forward pass with one kernel per channel: each output pixel's channels summed over the
  /// taps in registers, sixteen channels at a time, and stored once (the taps in the order
  /// ``depthwiseTaps(_:_:)`` gives them, so the sums are the same).
  private static func depthwiseForward(
    _ g: ConvolutionGeometry, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
    into y: UnsafeMutablePointer<Float>
  ) {
    let channels = g.channels
    var inputs = [Int](repeating: 0, count: g.kernelHeight * g.kernelWidth)
    var taps = inputs
    inputs.withUnsafeMutableBufferPointer { inputs in
      taps.withUnsafeMutableBufferPointer { taps in
        for b in 0..<g.batch {
          for oh in 0..<g.outputHeight {
            for ow in 0..<g.outputWidth {
              let output = y + ((b &* g.outputHeight &+ oh) &* g.outputWidth &+ ow) &* channels
              var count = 0
              for i in 0..<g.kernelHeight {
                let ih = oh &* g.strideHeight &- g.padTop &+ i &* g.dilationHeight
                guard ih >= 0 && ih < g.height else { continue }
                for j in 0..<g.kernelWidth {
                  let iw = ow &* g.strideWidth &- g.padLeft &+ j &* g.dilationWidth
                  guard iw >= 0 && iw < g.width else { continue }
                  inputs[count] = ((b &* g.height &+ ih) &* g.width &+ iw) &* channels
                  taps[count] = (i &* g.kernelWidth &+ j) &* channels
                  count &+= 1
                }
              }
              var c = 0
              while c &+ 16 <= channels {
                var sum = SIMD16<Float>()
                for t in 0..<count {
                  let a = UnsafeRawPointer(x + (inputs[t] &+ c)).loadUnaligned(
                    as: SIMD16<Float>.self)
                  let k = UnsafeRawPointer(w + (taps[t] &+ c)).loadUnaligned(as: SIMD16<Float>.self)
                  sum += a * k
                }
                UnsafeMutableRawPointer(output + c).storeBytes(of: sum, as: SIMD16<Float>.self)
                c &+= 16
              }
              while c < channels {
                var sum: Float = 0
                for t in 0..<count { sum += x[inputs[t] &+ c] * w[taps[t] &+ c] }
                output[c] = sum
                c &+= 1
              }
            }
          }
        }
      }
    }
  }

  /// `y[k] += a[k] · b[k]` for `k < n`, sixteen at a time.
  @inline(__always)
  private static func multiplyAdd(
    _ n: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    into y: UnsafeMutablePointer<Float>
  ) {
    var k = 0
    while k + 16 <= n {
      let va = UnsafeRawPointer(a + k).loadUnaligned(as: SIMD16<Float>.self)
      let vb = UnsafeRawPointer(b + k).loadUnaligned(as: SIMD16<Float>.self)
      let vy = UnsafeRawPointer(y + k).loadUnaligned(as: SIMD16<Float>.self)
      UnsafeMutableRawPointer(y + k).storeBytes(of: vy + va * vb, as: SIMD16<Float>.self)
      k += 16
    }
    while k < n {
      y[k] += a[k] * b[k]
      k += 1
    }
  }
}
