import CStrataKernels
/// Neural-network ops: softmax, registered activations, convolution and pooling on the backend's
/// kernels (oneDNN with the `cpu` backend).
extension Ops {
  /// `eˣ / Σ eˣ` along `axis` (Keras' `ops.softmax`).
  public static func softmax(_ x: Tensor, axis: Int = -1) throws -> Tensor {
    try alongLastAxis(x, axis: axis, op: "softmax") { x in
      // One pass a quantity over each row, in C (built for AVX-512 and AVX2).
      let n = Swift.max(x.shape.last ?? 1, 1)
      let rows = x.count / n
      var y = Tensor(uninitializedPooledShape: x.shape)
      if rows > 0 {
        x.withUnsafeBufferPointer { xs in
          y.withUnsafeMutableBufferPointer {
            strata_softmax_forward(xs.baseAddress, $0.baseAddress, rows, n)
          }
        }
      }
      let output = y
      return (
        y,
        { dy in
          // dx = y ⊙ (dy - Σ dy ⊙ y)
          var dx = Tensor(uninitializedPooledShape: output.shape)
          if rows > 0 {
            output.withUnsafeBufferPointer { ys in
              dy.withUnsafeBufferPointer { gs in
                dx.withUnsafeMutableBufferPointer {
                  strata_softmax_backward(ys.baseAddress, gs.baseAddress, $0.baseAddress, rows, n)
                }
              }
            }
          }
          return dx
        }
      )
    }
  }

  /// `log(softmax(x))`, computed stably along `axis` (Keras' `ops.log_softmax`).
  public static func logSoftmax(_ x: Tensor, axis: Int = -1) throws -> Tensor {
    try alongLastAxis(x, axis: axis, op: "log_softmax") { x in
      let shifted = try pairwise(
        "log_softmax", x,
        fold(x, axis: x.rank - 1, initial: -.infinity) {
          $0.replacing(with: $1, where: $1 .> $0)
        }, -)
      let total = sumKeepingDims(map(shifted, SIMDMath.exp), axes: [x.rank - 1])
      let y = try pairwise("log_softmax", shifted, unaryValues(total) { Foundation.log($0) }, -)
      return (
        y,
        { dy in
          // dx = dy - softmax(x) Σ dy
          let sums = sumKeepingDims(dy, axes: [y.rank - 1])
          return try pairwise(
            "log_softmax", dy, map(y, SIMDMath.exp).times(expand(sums, to: y.shape)), -)
        }
      )
    }
  }

  /// A registered activation by its Keras identifier or spec (`"relu"`, `"gelu"`,
  /// `Spec("leaky_relu", ["negative_slope": 0.2])`), applied with its own kernels and differentiated
  /// with its own backward pass. Row-wise ones (softmax) work along the last axis.
  public static func activation(_ spec: Spec, _ x: Tensor) throws -> Tensor {
    let function = try Registries.shared.activation(spec)
    if function.isIdentity { return x }
    let row = x.shape.last ?? 1
    var y = Tensor(uninitializedPooledShape: x.shape)  // the activation writes every element
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { function.forward(xs, into: $0, rowLength: row) }
    }
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let output = y
    return tape.record(y, inputs: [x]) { dy in
      var dx = Tensor(uninitializedPooledShape: x.shape)  // written whole
      x.withUnsafeBufferPointer { xs in
        output.withUnsafeBufferPointer { ys in
          dy.withUnsafeBufferPointer { g in
            dx.withUnsafeMutableBufferPointer {
              function.backward(input: xs, output: ys, outputGradient: g, into: $0, rowLength: row)
            }
          }
        }
      }
      return [dx]
    }
  }

  /// A 2-D convolution (cross-correlation, as Keras) of channels-last images `[batch, h, w, in]` with
  /// a kernel `[kh, kw, in, out]` (Keras' `ops.conv`); `padding` is `"valid"` or `"same"`.
  public static func conv(
    _ x: Tensor, _ kernel: Tensor, strides: IntPair = 1, padding: String = "valid",
    dilationRate: IntPair = 1
  ) throws -> Tensor {
    guard x.rank == 4, kernel.rank == 4, kernel.shape[2] == x.shape[3] else {
      throw shapeError(
        "conv", [x.shape, kernel.shape],
        expected: "images (batch, height, width, channels) and a kernel (kh, kw, channels, filters)"
      )
    }
    let same = try requirePadding(padding, owner: "ops.conv")
    let g = ConvolutionGeometry(
      batch: x.shape[0], height: x.shape[1], width: x.shape[2], channels: x.shape[3],
      filters: kernel.shape[3], kernel: (kernel.shape[0], kernel.shape[1]), strides: strides.tuple,
      dilation: dilationRate.tuple, same: same)
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      throw shapeError(
        "conv", [x.shape, kernel.shape], expected: "images at least the kernel's size")
    }
    let kernels = self.kernels
    var y = Tensor(pooledShape: [g.batch, g.outputHeight, g.outputWidth, g.filters])
    x.withUnsafeBufferPointer { input in
      kernel.withUnsafeBufferPointer { weights in
        y.withUnsafeMutableBufferPointer {
          kernels.convolution(g, input: input, kernel: weights, bias: nil, output: $0)
        }
      }
    }
    guard let tape = OpsState.tape(tracking: x, kernel) else { return y }
    let (tx, tk) = (tape.isTracking(x), tape.isTracking(kernel))
    return tape.record(y, inputs: [x, kernel]) { dy in
      var dx: Tensor? = nil, dk: Tensor? = nil
      dy.withUnsafeBufferPointer { g2 in
        if tx {
          var gradient = Tensor(pooledShape: x.shape)
          kernel.withUnsafeBufferPointer { weights in
            gradient.withUnsafeMutableBufferPointer {
              kernels.convolutionBackwardData(
                g, outputGradient: g2, kernel: weights, inputGradient: $0)
            }
          }
          dx = gradient
        }
        if tk {
          var gradient = Tensor(pooledShape: kernel.shape)
          x.withUnsafeBufferPointer { input in
            gradient.withUnsafeMutableBufferPointer {
              kernels.convolutionBackwardWeights(
                g, input: input, outputGradient: g2, kernelGradient: $0, biasGradient: nil)
            }
          }
          dk = gradient
        }
      }
      return [dx, dk]
    }
  }

  /// A transposed 2-D convolution of channels-last images `[batch, h, w, in]` with a kernel
  /// `[kh, kw, filters, in]` (Keras' `ops.conv_transpose`): the gradient of ``conv(_:_:strides:padding:dilationRate:)``
  /// with respect to its input, so each input pixel spreads over a `strides`-spaced window of the
  /// output. The output is `(h - 1) · stride + kernel` (`"valid"`, or `h · stride` when the
  /// kernel is smaller than the stride) or `h · stride` (`"same"`); `outputPadding`, below the
  /// stride, adds rows and columns at the bottom and right as Keras' `output_padding`.
  public static func convTranspose(
    _ x: Tensor, _ kernel: Tensor, strides: IntPair = 1, padding: String = "valid",
    outputPadding: IntPair? = nil, dilationRate: IntPair = 1
  ) throws -> Tensor {
    guard x.rank == 4, kernel.rank == 4, kernel.shape[3] == x.shape[3] else {
      throw shapeError(
        "conv_transpose", [x.shape, kernel.shape],
        expected: "images (batch, height, width, channels) and a kernel (kh, kw, filters, channels)"
      )
    }
    let same = try requirePadding(padding, owner: "ops.conv_transpose")
    let height = try transposedLength(
      x.shape[1], kernel: kernel.shape[0], stride: strides.height, dilation: dilationRate.height,
      same: same, outputPadding: outputPadding?.height)
    let width = try transposedLength(
      x.shape[2], kernel: kernel.shape[1], stride: strides.width, dilation: dilationRate.width,
      same: same, outputPadding: outputPadding?.width)
    // The convolution whose input gradient this is: from the output's size to the input's.
    let g = ConvolutionGeometry(
      batch: x.shape[0], height: height, width: width, channels: kernel.shape[2],
      filters: x.shape[3], kernel: (kernel.shape[0], kernel.shape[1]), strides: strides.tuple,
      dilation: dilationRate.tuple, same: same)
    guard g.outputHeight == x.shape[1], g.outputWidth == x.shape[2], height > 0, width > 0 else {
      throw shapeError(
        "conv_transpose", [x.shape, kernel.shape],
        expected:
          "strides \(strides), output_padding \(outputPadding.map { "\($0)" } ?? "None") and dilation \(dilationRate) that invert a '\(padding)' convolution"
      )
    }
    let kernels = self.kernels
    var y = Tensor(pooledShape: [g.batch, height, width, g.channels])
    x.withUnsafeBufferPointer { input in
      kernel.withUnsafeBufferPointer { weights in
        y.withUnsafeMutableBufferPointer {
          kernels.convolutionBackwardData(
            g, outputGradient: input, kernel: weights, inputGradient: $0)
        }
      }
    }
    guard let tape = OpsState.tape(tracking: x, kernel) else { return y }
    let (tx, tk) = (tape.isTracking(x), tape.isTracking(kernel))
    return tape.record(y, inputs: [x, kernel]) { dy in
      var dx: Tensor? = nil, dk: Tensor? = nil
      dy.withUnsafeBufferPointer { g2 in
        if tx {
          var gradient = Tensor(pooledShape: x.shape)
          kernel.withUnsafeBufferPointer { weights in
            gradient.withUnsafeMutableBufferPointer {
              kernels.convolution(g, input: g2, kernel: weights, bias: nil, output: $0)
            }
          }
          dx = gradient
        }
        if tk {
          var gradient = Tensor(pooledShape: kernel.shape)
          x.withUnsafeBufferPointer { input in
            gradient.withUnsafeMutableBufferPointer {
              kernels.convolutionBackwardWeights(
                g, input: g2, outputGradient: input, kernelGradient: $0, biasGradient: nil)
            }
          }
          dk = gradient
        }
      }
      return [dx, dk]
    }
  }

  /// Keras' `deconv_output_length`: the side of a transposed convolution's output.
  package static func transposedLength(
    _ length: Int, kernel: Int, stride: Int, dilation: Int, same: Bool, outputPadding: Int?
  ) throws -> Int {
    guard stride > 0, dilation > 0, kernel > 0, length > 0, length <= maximumWindowExtent,
      stride <= maximumWindowExtent, kernel <= maximumWindowExtent, dilation <= maximumWindowExtent
    else {
      throw StrataError.invalidArgument(
        owner: "ops.conv_transpose", argument: "strides",
        value: "\(stride) (kernel \(kernel), dilation \(dilation), length \(length))",
        expected: "positive sizes up to \(maximumWindowExtent)")
    }
    let extent = (kernel - 1) * dilation + 1
    guard let outputPadding else {
      return same ? length * stride : length * stride + Swift.max(extent - stride, 0)
    }
    guard (0..<stride).contains(outputPadding) else {
      throw StrataError.invalidArgument(
        owner: "ops.conv_transpose", argument: "output_padding", value: "\(outputPadding)",
        expected: "a size below the stride (\(stride))")
    }
    let pad = same ? extent / 2 : 0
    return (length - 1) * stride + extent - 2 * pad + outputPadding
  }

  /// The largest value of each window of channels-last images (Keras' `ops.max_pool`); `strides`
  /// default to `poolSize`.
  public static func maxPool(
    _ x: Tensor, poolSize: IntPair, strides: IntPair? = nil, padding: String = "valid"
  ) throws -> Tensor {
    let g = try poolingGeometry(x, poolSize, strides, padding, op: "max_pool")
    let kernels = self.kernels
    var workspace = [UInt8](repeating: 0, count: kernels.maxPoolingWorkspaceBytes(g))
    var y = Tensor(pooledShape: [g.batch, g.outputHeight, g.outputWidth, g.channels])
    x.withUnsafeBufferPointer { input in
      y.withUnsafeMutableBufferPointer { output in
        workspace.withUnsafeMutableBytes {
          kernels.maxPooling(g, input: input, output: output, workspace: $0)
        }
      }
    }
    guard let tape = OpsState.tape(tracking: x) else { return y }
    let kept = workspace
    return tape.record(y, inputs: [x]) { dy in
      var dx = Tensor(pooledShape: x.shape)
      x.withUnsafeBufferPointer { input in
        dy.withUnsafeBufferPointer { g2 in
          dx.withUnsafeMutableBufferPointer { d in
            kept.withUnsafeBytes {
              kernels.maxPoolingBackward(
                g, input: input, outputGradient: g2, inputGradient: d, workspace: $0)
            }
          }
        }
      }
      return [dx]
    }
  }

  /// The mean of each window of channels-last images, padding excluded (Keras' `ops.average_pool`).
  public static func averagePool(
    _ x: Tensor, poolSize: IntPair, strides: IntPair? = nil, padding: String = "valid"
  ) throws -> Tensor {
    let g = try poolingGeometry(x, poolSize, strides, padding, op: "average_pool")
    let kernels = self.kernels
    var y = Tensor(pooledShape: [g.batch, g.outputHeight, g.outputWidth, g.channels])
    x.withUnsafeBufferPointer { input in
      y.withUnsafeMutableBufferPointer { kernels.averagePooling(g, input: input, output: $0) }
    }
    guard let tape = OpsState.tape(tracking: x) else { return y }
    return tape.record(y, inputs: [x]) { dy in
      var dx = Tensor(pooledShape: x.shape)
      dy.withUnsafeBufferPointer { g2 in
        dx.withUnsafeMutableBufferPointer {
          kernels.averagePoolingBackward(g, outputGradient: g2, inputGradient: $0)
        }
      }
      return [dx]
    }
  }

  private static func poolingGeometry(
    _ x: Tensor, _ poolSize: IntPair, _ strides: IntPair?, _ padding: String, op: String
  ) throws -> PoolingGeometry {
    guard x.rank == 4 else {
      throw shapeError(op, [x.shape], expected: "images (batch, height, width, channels)")
    }
    let same = try requirePadding(padding, owner: "ops.\(op)")
    let g = PoolingGeometry(
      batch: x.shape[0], height: x.shape[1], width: x.shape[2], channels: x.shape[3],
      pool: poolSize.tuple, strides: (strides ?? poolSize).tuple, same: same)
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      throw shapeError(op, [x.shape], expected: "images at least the pool's size")
    }
    return g
  }

  /// Runs a row-wise op along the last axis: `axis` is moved there and back.
  private static func alongLastAxis(
    _ x: Tensor, axis: Int, op: String,
    _ body: (Tensor) throws -> (Tensor, (Tensor) throws -> Tensor)
  ) throws -> Tensor {
    let resolved = try self.axis(axis, rank: Swift.max(x.rank, 1), op: op)
    let last = x.rank - 1
    guard x.rank > 0 else {
      throw shapeError(op, [x.shape], expected: "a tensor of rank 1 or more")
    }
    var order = Array(0..<x.rank)
    order.swapAt(resolved, last)
    let moved = resolved == last ? stopGradient(x) : permute(x, order)
    let (movedY, pullback) = try body(moved)
    let y = resolved == last ? movedY : permute(movedY, order)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    return tape.record(y, inputs: [x]) { dy in
      let movedGradient = resolved == last ? dy : permute(dy, order)
      let dx = try pullback(movedGradient)
      return [resolved == last ? dx : permute(dx, order)]
    }
  }
}

import Foundation
