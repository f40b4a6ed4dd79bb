/// Vector math on `SIMD16<Float>` for element-wise kernels, and loops that apply it to buffers.
///
/// `exp` is Cephes' single-precision algorithm (range reduction by ln 2, a degree-6 polynomial,
/// scaling by 2^n through the exponent bits): within 2 ulp of `expf` over its range. Nothing here calls
/// libm: on the baseline x86-64 target, `SIMD16`'s `rounded` and `squareRoot` do, one lane at a time.
public enum SIMDMath {
  /// Sixteen floats, the width the SIMD loops use.
  public typealias Vector = SIMD16<Float>

  /// `e^x`, element-wise; inputs are clamped to `[-87.3, 88.7]` (the Float range of the result).
  @inlinable @inline(__always)
  public static func exp(_ input: Vector) -> Vector {
    var x = clamp(input, -87.336_54, 88.722_83)
    // n = round(x / ln 2). Adding and subtracting 1.5·2^23 rounds to an integer in two vector adds;
    // `SIMD16.rounded(.down)` would call libm's floorf once per lane.
    let n = (x * 1.442_695_04 + 12_582_912) - 12_582_912
    x = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = Vector(repeating: 1.987_569_15e-4)
    p = p * x + 1.398_199_95e-3
    p = p * x + 8.333_451_9e-3
    p = p * x + 4.166_579_59e-2
    p = p * x + 1.666_666_55e-1
    p = p * x + 5.000_000_12e-1
    p = p * x * x + x + 1
    // n + 126 lands in the low mantissa bits of 1.5·2^23 + n + 126; shifted into the exponent field it is
    // 2^(n-1). Scaling by 2^(n-1) and then 2 keeps n = 128 (x near 88.7) finite.
    let exponent = unsafeBitCast(n + 12_583_038, to: SIMD16<Int32>.self) &<< 23
    return p * unsafeBitCast(exponent, to: Vector.self) * 2
  }

  /// `x` limited to `[low, high]`, element-wise, with two compare-and-select operations.
  /// (`SIMD16.clamped` loops over the lanes to order NaNs: twenty times slower.)
  @inlinable @inline(__always)
  public static func clamp(_ x: Vector, _ low: Float, _ high: Float) -> Vector {
    var y = x.replacing(with: low, where: x .< low)
    y.replace(with: high, where: y .> high)
    return y
  }

  /// `|x|`, element-wise (clears the sign bit).
  @inlinable @inline(__always)
  public static func abs(_ x: Vector) -> Vector {
    unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF, to: Vector.self)
  }

  /// `1 / (1 + e^-x)`.
  @inlinable @inline(__always)
  public static func sigmoid(_ x: Vector) -> Vector { 1 / (1 + exp(-x)) }

  /// `tanh(x)` as `sign(x) · (1 - e^-2|x|) / (1 + e^-2|x|)`, which never overflows.
  @inlinable @inline(__always)
  public static func tanh(_ x: Vector) -> Vector {
    let magnitude = abs(x)
    let t = exp(-2 * magnitude)
    let result = (1 - t) / (1 + t)
    return result.replacing(with: -result, where: x .< 0)
  }

  /// `log(1 + e^x)` as `max(x, 0) + log1p(e^-|x|)`, stable for large `|x|`.
  @inlinable @inline(__always)
  public static func softplus(_ x: Vector) -> Vector {
    let t = exp(-abs(x))
    return x.replacing(with: 0, where: x .< 0) + log1p(t)
  }

  /// The natural logarithm, element-wise: Cephes' single-precision `logf` (the exponent split off,
  /// a degree-8 polynomial on the mantissa), within 2 ulp of `logf`. 0 gives `-inf`, a negative
  /// number or NaN gives NaN, `inf` gives `inf`; subnormal inputs are scaled into range first.
  @inlinable @inline(__always)
  public static func log(_ input: Vector) -> Vector {
    let subnormal = input .< 1.175_494_35e-38
    let scaled = input.replacing(with: input * 8_388_608, where: subnormal)
    let bits = unsafeBitCast(scaled, to: SIMD16<Int32>.self)
    var exponent = SIMD16<Float>((bits &>> 23) & 0xFF) - 126
    exponent.replace(with: exponent - 23, where: subnormal)
    // The mantissa in [0.5, 1).
    var m = unsafeBitCast((bits & 0x007F_FFFF) | 0x3F00_0000, to: Vector.self)
    let small = m .< 0.707_106_781
    exponent.replace(with: exponent - 1, where: small)
    m = m.replacing(with: m + m, where: small) - 1
    let z = m * m
    var y = Vector(repeating: 7.037_683_629_2e-2)
    y = y * m - 1.151_461_031_0e-1
    y = y * m + 1.167_699_874_0e-1
    y = y * m - 1.242_014_084_6e-1
    y = y * m + 1.424_932_278_7e-1
    y = y * m - 1.666_805_766_5e-1
    y = y * m + 2.000_071_476_5e-1
    y = y * m - 2.499_999_399_3e-1
    y = y * m + 3.333_333_117_4e-1
    y = y * m * z
    y = y + exponent * -2.121_944_40e-4 - 0.5 * z
    var result = m + y + exponent * 0.693_359_375
    result.replace(with: -.infinity, where: input .== 0)
    result.replace(with: .nan, where: input .< 0 .| (input .!= input))
    result.replace(with: .infinity, where: input .== .infinity)
    return result
  }

  /// `log(1 + t)` for `t` in `[0, 1]`, element-wise (scalar loop: rare outside softplus).
  @inlinable @inline(__always)
  public static func log1p(_ t: Vector) -> Vector {
    var result = Vector()
    for i in 0..<16 { result[i] = Foundation.log1p(t[i]) }
    return result
  }
}

/// Applies `body` to `x` sixteen floats at a time and writes `y`; the tail is padded with zeros.
@inlinable @inline(__always)
public func simdMap(
  _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>,
  _ body: (SIMD16<Float>) -> SIMD16<Float>
) {
  let n = min(x.count, y.count)
  guard n > 0 else { return }
  let xs = x.baseAddress!, ys = y.baseAddress!
  var i = 0
  while i + 16 <= n {
    UnsafeMutableRawPointer(ys + i).storeBytes(
      of: body(UnsafeRawPointer(xs + i).loadUnaligned(as: SIMD16<Float>.self)),
      as: SIMD16<Float>.self)
    i += 16
  }
  if i < n {
    var v = SIMD16<Float>()
    for j in 0..<(n - i) { v[j] = xs[i + j] }
    let r = body(v)
    for j in 0..<(n - i) { ys[i + j] = r[j] }
  }
}

/// Applies `body` to `a` and `b` sixteen floats at a time and writes `c`.
@inlinable @inline(__always)
public func simdZip(
  _ a: UnsafeBufferPointer<Float>, _ b: UnsafeBufferPointer<Float>,
  into c: UnsafeMutableBufferPointer<Float>,
  _ body: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>
) {
  let n = min(a.count, b.count, c.count)
  guard n > 0 else { return }
  let ap = a.baseAddress!, bp = b.baseAddress!, cp = c.baseAddress!
  var i = 0
  while i + 16 <= n {
    let va = UnsafeRawPointer(ap + i).loadUnaligned(as: SIMD16<Float>.self)
    let vb = UnsafeRawPointer(bp + i).loadUnaligned(as: SIMD16<Float>.self)
    UnsafeMutableRawPointer(cp + i).storeBytes(of: body(va, vb), as: SIMD16<Float>.self)
    i += 16
  }
  if i < n {
    var va = SIMD16<Float>(), vb = SIMD16<Float>()
    for j in 0..<(n - i) { va[j] = ap[i + j]; vb[j] = bp[i + j] }
    let r = body(va, vb)
    for j in 0..<(n - i) { cp[i + j] = r[j] }
  }
}

import Foundation
