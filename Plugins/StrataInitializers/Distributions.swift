import Foundation
import StrataCore

/// Normal with `mean` and `stddev`. Keras: `"random_normal"` (`RandomNormal(mean=0.0, stddev=0.05)`).
public struct RandomNormal: Initializer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `mean`.
  public var mean: Double = 0
  /// Keras' `stddev`.
  public var stddev: Double = 0.05
  /// Keras' `seed`.
  public var seed: UInt64?
  public static let identifier = "random_normal"
  /// Refuses a bad argument by name.
  public func validate() throws { try checkDeviation(stddev, owner: "RandomNormal") }
  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    withGenerator(seed: seed, fallback: &generator) { g in
      for i in values.indices { values[i] = Float(mean + stddev * g.nextNormal()) }
    }
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    mean: Double = RandomNormal().mean, stddev: Double = RandomNormal().stddev, seed: UInt64? = nil
  ) throws {
    self.mean = mean
    self.stddev = stddev
    self.seed = seed
    try validate()
  }
}

/// Normal with `mean` and `stddev`, values beyond two deviations redrawn. Keras: `"truncated_normal"`.
public struct TruncatedNormal: Initializer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `mean`.
  public var mean: Double = 0
  /// Keras' `stddev`.
  public var stddev: Double = 0.05
  /// Keras' `seed`.
  public var seed: UInt64?
  public static let identifier = "truncated_normal"
  /// Refuses a bad argument by name.
  public func validate() throws { try checkDeviation(stddev, owner: "TruncatedNormal") }
  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    withGenerator(seed: seed, fallback: &generator) { g in
      for i in values.indices { values[i] = Float(mean + stddev * truncatedNormal(&g)) }
    }
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    mean: Double = TruncatedNormal().mean, stddev: Double = TruncatedNormal().stddev,
    seed: UInt64? = nil
  ) throws {
    self.mean = mean
    self.stddev = stddev
    self.seed = seed
    try validate()
  }
}

/// Uniform in `[minval, maxval)`. Keras: `"random_uniform"` (`RandomUniform(minval=-0.05, maxval=0.05)`).
public struct RandomUniform: Initializer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `minval`.
  public var minval: Double = -0.05
  /// Keras' `maxval`.
  public var maxval: Double = 0.05
  /// Keras' `seed`.
  public var seed: UInt64?
  public static let identifier = "random_uniform"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkArgument(
      minval <= maxval,
      owner: "RandomUniform", argument: "maxval", value: "\(maxval)",
      expected: "at least minval (\(minval))")
  }
  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    withGenerator(seed: seed, fallback: &generator) { g in
      let width = maxval - minval
      for i in values.indices { values[i] = Float(minval + width * Double(g.nextUniform())) }
    }
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    minval: Double = RandomUniform().minval, maxval: Double = RandomUniform().maxval,
    seed: UInt64? = nil
  ) throws {
    self.minval = minval
    self.maxval = maxval
    self.seed = seed
    try validate()
  }
}

/// An initializer that fills every value with one number.
public protocol ConstantFill: Initializer {
  /// The number.
  var fillValue: Float { get }
}

extension ConstantFill {
  /// Fills `values`, a weight of `shape`, with ``fillValue``.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    values.update(repeating: fillValue)
  }
}

/// All zeros. Keras: `"zeros"`, the default for biases.
public struct Zeros: ConstantFill {
  /// The registry key: Keras' `zeros`.
  public static let identifier = "zeros"
  /// No arguments.
  public init(config: NoConfig = NoConfig()) {}
  /// 0.
  public var fillValue: Float { 0 }
}

/// All ones. Keras: `"ones"`.
public struct Ones: ConstantFill {
  /// The registry key: Keras' `ones`.
  public static let identifier = "ones"
  /// No arguments.
  public init(config: NoConfig = NoConfig()) {}
  /// 1.
  public var fillValue: Float { 1 }
}

/// Every value `value`. Keras: `"constant"` (`Constant(value=0.0)`).
public struct Constant: ConstantFill, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `value`.
  public var value: Float = 0
  public static let identifier = "constant"
  /// Keras' `value`.
  public var fillValue: Float { value }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(value: Float = Constant().value) {
    self.value = value
  }
}

/// A (semi-)orthogonal matrix times `gain`: the Q of a QR decomposition of a normal matrix, signs fixed
/// by R's diagonal, as Keras does. Shapes of rank > 2 are flattened to `[Π shape[..<last], last]`.
/// Keras: `"orthogonal"` (`Orthogonal(gain=1.0)`).
public struct Orthogonal: Initializer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `gain`.
  public var gain: Double = 1
  /// Keras' `seed`.
  public var seed: UInt64?
  public static let identifier = "orthogonal"

  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    let columns = shape.last ?? 1
    let rows = max(1, values.count / max(1, columns))
    // Orthonormalize the columns of a tall matrix (the rows of a wide one) by modified Gram–Schmidt.
    let tall = rows >= columns
    let (n, m) = tall ? (rows, columns) : (columns, rows)  // m orthonormal vectors of length n
    var vectors = [[Double]](repeating: [Double](repeating: 0, count: n), count: m)
    withGenerator(seed: seed, fallback: &generator) { g in
      for j in 0..<m { for i in 0..<n { vectors[j][i] = g.nextNormal() } }
    }
    for j in 0..<m {
      for p in 0..<j {
        var dot = 0.0
        for i in 0..<n { dot += vectors[j][i] * vectors[p][i] }
        for i in 0..<n { vectors[j][i] -= dot * vectors[p][i] }
      }
      var norm = 0.0
      for i in 0..<n { norm += vectors[j][i] * vectors[j][i] }
      norm = norm.squareRoot()
      for i in 0..<n { vectors[j][i] /= norm > 0 ? norm : 1 }
    }
    for r in 0..<rows {
      for c in 0..<columns {
        let v = tall ? vectors[c][r] : vectors[r][c]
        values[r * columns + c] = Float(gain * v)
      }
    }
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(gain: Double = Orthogonal().gain, seed: UInt64? = nil) {
    self.gain = gain
    self.seed = seed
  }
}

func checkDeviation(_ stddev: Double, owner: String) throws {
  try checkArgument(
    stddev >= 0 && stddev.isFinite,
    owner: owner, argument: "stddev", value: "\(stddev)", expected: "a non-negative number")
}

/// Runs `body` with a generator seeded by `seed`, or with `fallback` when there is no seed.
func withGenerator(
  seed: UInt64?, fallback: inout SeededGenerator, _ body: (inout SeededGenerator) -> Void
) {
  if let seed {
    var own = SeededGenerator(seed: seed)
    body(&own)
  } else {
    body(&fallback)
  }
}
