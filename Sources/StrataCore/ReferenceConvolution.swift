/// The plain-loop convolution and pooling every backend is checked against. Layouts: activations
/// NHWC, kernels `[kh, kw, in, out]` (Keras' HWIO). Sums accumulate in Double.
extension Kernels {
  public func convolution(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>, kernel: UnsafeBufferPointer<Float>,
    bias: UnsafeBufferPointer<Float>?, output: UnsafeMutableBufferPointer<Float>
  ) {
    var sums = [Double](repeating: 0, count: g.outputCount)
    for o in 0..<g.outputCount { sums[o] = Double(bias?[o % g.filters] ?? 0) }
    forEachTap(g) { outputBase, inputBase, kernelBase in
      for c in 0..<g.channels {
        let x = Double(input[inputBase + c])
        for f in 0..<g.filters {
          sums[outputBase + f] += x * Double(kernel[kernelBase + c * g.filters + f])
        }
      }
    }
    for o in 0..<g.outputCount { output[o] = Float(sums[o]) }
  }

  public func convolutionBackwardData(
    _ g: ConvolutionGeometry, outputGradient: UnsafeBufferPointer<Float>,
    kernel: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>
  ) {
    var sums = [Double](repeating: 0, count: g.inputCount)
    forEachTap(g) { outputBase, inputBase, kernelBase in
      for c in 0..<g.channels {
        for f in 0..<g.filters {
          sums[inputBase + c] +=
            Double(outputGradient[outputBase + f]) * Double(kernel[kernelBase + c * g.filters + f])
        }
      }
    }
    for i in 0..<g.inputCount { inputGradient[i] = Float(sums[i]) }
  }

  public func convolutionBackwardWeights(
    _ g: ConvolutionGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    kernelGradient: UnsafeMutableBufferPointer<Float>,
    biasGradient: UnsafeMutableBufferPointer<Float>?
  ) {
    var sums = [Double](repeating: 0, count: g.kernelCount)
    forEachTap(g) { outputBase, inputBase, kernelBase in
      for c in 0..<g.channels {
        let x = Double(input[inputBase + c])
        for f in 0..<g.filters {
          sums[kernelBase + c * g.filters + f] += x * Double(outputGradient[outputBase + f])
        }
      }
    }
    for i in 0..<g.kernelCount { kernelGradient[i] = Float(sums[i]) }
    if let biasGradient {
      var biasSums = [Double](repeating: 0, count: g.filters)
      for o in 0..<g.outputCount { biasSums[o % g.filters] += Double(outputGradient[o]) }
      for f in 0..<g.filters { biasGradient[f] = Float(biasSums[f]) }
    }
  }

  /// Bytes a backend needs to remember between max pooling's forward and backward passes; the layer keeps them.
  public func maxPoolingWorkspaceBytes(_ g: PoolingGeometry) -> Int { 0 }

  /// Max pooling; padding never wins (it counts as -∞, as in TensorFlow).
  public func maxPooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>,
    workspace: UnsafeMutableRawBufferPointer
  ) {
    forEachWindow(g) { outputIndex, inputIndices in
      var best = -Float.infinity
      for i in inputIndices where input[i] > best { best = input[i] }
      output[outputIndex] = best
    }
  }

  /// Routes each output gradient to the first maximum of its window, as TensorFlow does.
  public func maxPoolingBackward(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>, workspace: UnsafeRawBufferPointer
  ) {
    inputGradient.update(repeating: 0)
    forEachWindow(g) { outputIndex, inputIndices in
      var best = -Float.infinity, where_ = -1
      for i in inputIndices where input[i] > best { best = input[i]; where_ = i }
      if where_ >= 0 { inputGradient[where_] += outputGradient[outputIndex] }
    }
  }

  /// Average pooling over the window's inputs, padding excluded (TensorFlow's `same`).
  public func averagePooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>
  ) {
    forEachWindow(g) { outputIndex, inputIndices in
      var sum = 0.0
      for i in inputIndices { sum += Double(input[i]) }
      output[outputIndex] = Float(sum / Double(max(inputIndices.count, 1)))
    }
  }

  public func averagePoolingBackward(
    _ g: PoolingGeometry, outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>
  ) {
    inputGradient.update(repeating: 0)
    forEachWindow(g) { outputIndex, inputIndices in
      let share = outputGradient[outputIndex] / Float(max(inputIndices.count, 1))
      for i in inputIndices { inputGradient[i] += share }
    }
  }
}

/// Calls `body` for every output element with the input indices of its window (padding left out).
func forEachWindow(_ g: PoolingGeometry, _ body: (Int, [Int]) -> Void) {
  var indices: [Int] = []
  indices.reserveCapacity(g.poolHeight * g.poolWidth)
  for n in 0..<g.batch {
    for oy in 0..<g.outputHeight {
      for ox in 0..<g.outputWidth {
        for c in 0..<g.channels {
          indices.removeAll(keepingCapacity: true)
          for py in 0..<g.poolHeight {
            let iy = oy * g.strideHeight + py - g.padTop
            guard iy >= 0 && iy < g.height else { continue }
            for px in 0..<g.poolWidth {
              let ix = ox * g.strideWidth + px - g.padLeft
              guard ix >= 0 && ix < g.width else { continue }
              indices.append(((n * g.height + iy) * g.width + ix) * g.channels + c)
            }
          }
          body(((n * g.outputHeight + oy) * g.outputWidth + ox) * g.channels + c, indices)
        }
      }
    }
  }
}

/// Calls `body(outputBase, inputBase, kernelBase)` for every output pixel and every kernel tap that
/// lands inside the image: the offsets of the pixel's filters, of the input pixel's channels and of
/// the tap's `[channels, filters]` block.
func forEachTap(_ g: ConvolutionGeometry, _ body: (Int, Int, Int) -> Void) {
  for n in 0..<g.batch {
    for oy in 0..<g.outputHeight {
      for ox in 0..<g.outputWidth {
        let outputBase = ((n * g.outputHeight + oy) * g.outputWidth + ox) * g.filters
        for ky in 0..<g.kernelHeight {
          let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
          guard iy >= 0 && iy < g.height else { continue }
          for kx in 0..<g.kernelWidth {
            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
            guard ix >= 0 && ix < g.width else { continue }
            body(
              outputBase, ((n * g.height + iy) * g.width + ix) * g.channels,
              (ky * g.kernelWidth + kx) * g.channels * g.filters)
          }
        }
      }
    }
  }
}
