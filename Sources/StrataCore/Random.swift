/// A fast, seeded random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Everything random in Strata (initial weights, dropout masks, shuffling) draws from one of these, so
/// the same seed gives the same run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var s0, s1, s2, s3: UInt64

  /// A generator whose sequence is fixed by `seed`.
  public init(seed: UInt64) {
    var x = seed
    func splitMix() -> UInt64 {
      x &+= 0x9E37_79B9_7F4A_7C15
      var z = x
      z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
      z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
      return z ^ (z >> 31)
    }
    s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
  }

  /// The next 64 random bits.
  @inlinable public mutating func next() -> UInt64 { nextValue() }

  @usableFromInline mutating func nextValue() -> UInt64 {
    let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
    let t = s1 << 17
    s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
    s2 ^= t
    s3 = (s3 << 45) | (s3 >> 19)
    return result
  }

  /// A uniform Float in `[0, 1)` from the top 24 bits.
  @inlinable public mutating func nextUniform() -> Float {
    Float(next() >> 40) * (1.0 / 16_777_216.0)
  }

  /// A standard normal Double (Box–Muller).
  public mutating func nextNormal() -> Double {
    var u1 = 0.0
    repeat { u1 = Double(next() >> 11) * 0x1p-53 } while u1 == 0
    let u2 = Double(next() >> 11) * 0x1p-53
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }

  /// A new generator whose stream is independent of this one's: for giving each layer its own.
  public mutating func split() -> SeededGenerator { SeededGenerator(seed: next()) }

  /// The generator's whole state, for saving a training run and resuming it exactly.
  public var state: [UInt64] {
    get { [s0, s1, s2, s3] }
    set {
      guard newValue.count == 4 else { return }
      (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
    }
  }
}

@usableFromInline func _log(_ x: Double) -> Double { Foundation.log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { Foundation.cos(x) }

import Foundation
