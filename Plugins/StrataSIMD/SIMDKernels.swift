import CStrataKernels
import StrataCore

/// Element-wise work, bias add and reductions as `SIMD16<Float>` loops, max pooling as C loops along
/// the channels; GEMM and convolution fall back to the reference.
///
/// Registered as `"simd"`. On its own it is the portable fast path for everything but matrix products.
public struct SIMDKernels: Kernels {
  /// A new instance, with nothing cached yet.
  public init() {}

  public func addBias(_ bias: UnsafeBufferPointer<Float>, to c: UnsafeMutableBufferPointer<Float>) {
    let n = bias.count
    guard n > 0 else { return }
    let rows = c.count / n
    for i in 0..<rows {
      let row = UnsafeMutableBufferPointer(rebasing: c[(i * n)..<((i + 1) * n)])
      simdZip(UnsafeBufferPointer(row), bias, into: row) { $0 + $1 }
    }
  }

  public func sumRows(_ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>) {
    let n = y.count
    guard n > 0 else { return }
    let rows = x.count / n
    y.update(repeating: 0)
    for i in 0..<rows {
      let row = UnsafeBufferPointer(rebasing: x[(i * n)..<((i + 1) * n)])
      simdZip(UnsafeBufferPointer(y), row, into: y) { $0 + $1 }
    }
  }

  public func multiply(
    _ x: UnsafeBufferPointer<Float>, _ y: UnsafeBufferPointer<Float>,
    into z: UnsafeMutableBufferPointer<Float>
  ) {
    simdZip(x, y, into: z) { $0 * $1 }
  }

  /// `y += alpha · x`, this backend's way.
  public func axpy(
    alpha: Float, x: UnsafeBufferPointer<Float>, y: UnsafeMutableBufferPointer<Float>
  ) {
    simdZip(x, UnsafeBufferPointer(y), into: y) { $1 + alpha * $0 }
  }

  /// Max pooling needs no workspace here: the backward pass finds each window's maximum again.
  public func maxPoolingWorkspaceBytes(_ g: PoolingGeometry) -> Int { 0 }

  /// Max pooling along the channels of each pixel (memory-bound: one pass over the input); the first
  /// maximum of a window wins, padding and NaN never do, as in the reference.
  public func maxPooling(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    output: UnsafeMutableBufferPointer<Float>,
    workspace: UnsafeMutableRawBufferPointer
  ) {
    precondition(
      input.count >= g.inputCount && output.count >= g.outputCount, "maxPooling: buffers too small")
    guard g.outputCount > 0 else { return }
    withGeometry(g) { strata_max_pooling(input.baseAddress, output.baseAddress, $0) }
  }

  /// Routes each output gradient to its window's first maximum, found again from `input`.
  public func maxPoolingBackward(
    _ g: PoolingGeometry, input: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    inputGradient: UnsafeMutableBufferPointer<Float>, workspace: UnsafeRawBufferPointer
  ) {
    precondition(
      input.count >= g.inputCount && inputGradient.count >= g.inputCount
        && outputGradient.count >= g.outputCount, "maxPoolingBackward: buffers too small")
    guard g.inputCount > 0 else { return }
    withGeometry(g) {
      strata_max_pooling_backward(
        input.baseAddress, outputGradient.baseAddress, inputGradient.baseAddress, $0)
    }
  }
}

/// The 12 numbers of `g` the C pooling kernels read, on the stack (no allocation per call).
private func withGeometry<R>(_ g: PoolingGeometry, _ body: (UnsafePointer<Int>) -> R) -> R {
  withUnsafeTemporaryAllocation(of: Int.self, capacity: 12) { numbers in
    (numbers[0], numbers[1], numbers[2], numbers[3]) = (g.batch, g.height, g.width, g.channels)
    (numbers[4], numbers[5], numbers[6], numbers[7]) =
      (g.poolHeight, g.poolWidth, g.strideHeight, g.strideWidth)
    (numbers[8], numbers[9], numbers[10], numbers[11]) =
      (g.padTop, g.padLeft, g.outputHeight, g.outputWidth)
    return body(UnsafePointer(numbers.baseAddress!))
  }
}

/// Registers the `"simd"` backend.
public enum SIMDPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(kernels: SIMDKernels(), as: "simd")
  }
}
