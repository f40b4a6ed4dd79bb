/// The sizes of a 2-D convolution over a channels-last batch, padding resolved.
public struct ConvolutionGeometry: BatchGeometry, Hashable, Sendable, CustomStringConvertible {
  /// The input: batch size, height, width and channels (channels-last).
  public var batch: Int, height: Int, width: Int, channels: Int
  /// Output channels.
  public var filters: Int
  /// The kernel size.
  public var kernelHeight: Int, kernelWidth: Int
  /// The strides.
  public var strideHeight: Int, strideWidth: Int
  /// The dilation rate.
  public var dilationHeight: Int, dilationWidth: Int
  /// Zeros added on each side (TensorFlow puts the odd one at the bottom and right).
  public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
  /// The output size.
  public var outputHeight: Int, outputWidth: Int

  /// The geometry Keras' `padding` gives: `"valid"` (no padding) or `"same"` (the output is
  /// `ceil(input / stride)`, with TensorFlow's rule of putting the odd pixel of padding at the bottom
  /// and right).
  public init(
    batch: Int, height: Int, width: Int, channels: Int, filters: Int, kernel: (Int, Int),
    strides: (Int, Int),
    dilation: (Int, Int) = (1, 1), same: Bool
  ) {
    (self.batch, self.height, self.width, self.channels) = (batch, height, width, channels)
    self.filters = filters
    (kernelHeight, kernelWidth) = kernel
    (strideHeight, strideWidth) = strides
    (dilationHeight, dilationWidth) = dilation
    let vertical = paddedOutput(
      height, kernel: kernel.0, stride: strides.0, dilation: dilation.0, same: same)
    let horizontal = paddedOutput(
      width, kernel: kernel.1, stride: strides.1, dilation: dilation.1, same: same)
    (outputHeight, padTop, padBottom) = vertical
    (outputWidth, padLeft, padRight) = horizontal
  }

  /// Elements of the input.
  public var inputCount: Int { batch * height * width * channels }
  /// Elements of the output.
  public var outputCount: Int { batch * outputHeight * outputWidth * filters }
  /// Elements of the kernel.
  public var kernelCount: Int { kernelHeight * kernelWidth * channels * filters }

  public var description: String {
    "\(batch)x\(height)x\(width)x\(channels) * \(kernelHeight)x\(kernelWidth)x\(filters) /\(strideHeight) → \(outputHeight)x\(outputWidth)"
  }
}

/// The sizes of a 2-D pooling over a channels-last batch, padding resolved.
public struct PoolingGeometry: BatchGeometry, Hashable, Sendable {
  /// The input: batch size, height, width and channels (channels-last).
  public var batch: Int, height: Int, width: Int, channels: Int
  /// The pool size.
  public var poolHeight: Int, poolWidth: Int
  /// The strides.
  public var strideHeight: Int, strideWidth: Int
  /// Zeros added on each side (TensorFlow puts the odd one at the bottom and right).
  public var padTop: Int, padBottom: Int, padLeft: Int, padRight: Int
  /// The output size.
  public var outputHeight: Int, outputWidth: Int

  /// Keras' `"valid"` or `"same"` padding, as ``ConvolutionGeometry``.
  public init(
    batch: Int, height: Int, width: Int, channels: Int, pool: (Int, Int), strides: (Int, Int),
    same: Bool
  ) {
    (self.batch, self.height, self.width, self.channels) = (batch, height, width, channels)
    (poolHeight, poolWidth) = pool
    (strideHeight, strideWidth) = strides
    (outputHeight, padTop, padBottom) = paddedOutput(
      height, kernel: pool.0, stride: strides.0, dilation: 1, same: same)
    (outputWidth, padLeft, padRight) = paddedOutput(
      width, kernel: pool.1, stride: strides.1, dilation: 1, same: same)
  }

  /// Elements of the input.
  public var inputCount: Int { batch * height * width * channels }
  /// Elements of the output.
  public var outputCount: Int { batch * outputHeight * outputWidth * channels }
}

/// A geometry made for a batch size, which a layer keeps from one step to the next.
public protocol BatchGeometry {
  /// The batch size it was made for.
  var batch: Int { get }
}

extension Optional where Wrapped: BatchGeometry {
  /// The geometry kept here when it is for `batch` inputs; otherwise `make(batch)`, kept here.
  public mutating func forBatch(_ batch: Int, make: (Int) -> Wrapped) -> Wrapped {
    if let kept = self, kept.batch == batch { return kept }
    let made = make(batch)
    self = made
    return made
  }
}

/// Output size and padding (before, after) along one axis, as TensorFlow computes them.
func paddedOutput(_ size: Int, kernel: Int, stride: Int, dilation: Int, same: Bool) -> (
  Int, Int, Int
) {
  let extent = (kernel - 1) * dilation + 1
  if !same { return (size < extent ? 0 : (size - extent) / stride + 1, 0, 0) }
  let output = (size + stride - 1) / stride
  let total = max(0, (output - 1) * stride + extent - size)
  return (output, total / 2, total - total / 2)
}
