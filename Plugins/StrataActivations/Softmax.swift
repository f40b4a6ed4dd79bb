import StrataCore

/// `e^(x - max) / Σ e^(x - max)` over the last axis, stable for any input. Keras: `"softmax"`.
public struct Softmax: Activation {
  public static let identifier = "softmax"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    forEachShiftedExponentialRow(x, into: y, rowLength: rowLength) { row, out, maximum, sum in
      let inverse = 1 / sum
      simdMap(UnsafeBufferPointer(out), into: out) { $0 * inverse }
    }
  }
  /// `dx = y ⊙ (dy - Σ dy ⊙ y)` per row.
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    forEachRow(x.count, rowLength) { range in
      var dot: Float = 0
      for i in range { dot += dy[i] * y[i] }
      for i in range { dx[i] = y[i] * (dy[i] - dot) }
    }
  }
}

/// `x - max - log Σ e^(x - max)` over the last axis. Keras: `"log_softmax"`.
public struct LogSoftmax: Activation {
  public static let identifier = "log_softmax"
  public init(config: NoConfig = NoConfig()) {}
  /// Applies the activation to `x`, writing `y` (`rowLength` values a row).
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    forEachShiftedExponentialRow(x, into: y, rowLength: rowLength) { row, out, maximum, sum in
      let shift = maximum + Foundation.log(sum)
      simdMap(row, into: out) { $0 - shift }
    }
  }
  /// `dx = dy - softmax(x) · Σ dy` per row; `softmax(x) = e^y`.
  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    forEachRow(x.count, rowLength) { range in
      var sum: Float = 0
      for i in range { sum += dy[i] }
      for i in range { dx[i] = dy[i] - Foundation.exp(y[i]) * sum }
    }
  }
}

/// For each row of `x`: writes `e^(x - max)` into `y`'s row and calls `finish(row, out, max, Σ)`.
@inline(__always)
func forEachShiftedExponentialRow(
  _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int,
  _ finish: (UnsafeBufferPointer<Float>, UnsafeMutableBufferPointer<Float>, Float, Float) -> Void
) {
  forEachRow(x.count, rowLength) { range in
    let row = UnsafeBufferPointer(rebasing: x[range])
    let out = UnsafeMutableBufferPointer(rebasing: y[range])
    let maximum = row.max() ?? 0
    simdMap(row, into: out) { SIMDMath.exp($0 - maximum) }
    var sum: Float = 0
    for v in out { sum += v }
    finish(row, out, maximum, sum)
  }
}

@inline(__always)
func forEachRow(_ count: Int, _ rowLength: Int, _ body: (Range<Int>) -> Void) {
  let length = max(rowLength, 1)
  var start = 0
  while start < count {
    body(start..<min(start + length, count))
    start += length
  }
}

import Foundation
