import Foundation
import StrataCore

/// Draws with a variance of `scale / n`, `n` being the fan-in, the fan-out or their mean.
///
/// Keras: `VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")`. Glorot, He and
/// LeCun initializers are instances of it. A truncated normal is cut at two standard deviations and its
/// standard deviation is divided by 0.8796…, the deviation of a unit normal cut there, as in Keras.
public struct VarianceScaling: Initializer {
  /// The Keras arguments; a default is written once, in the memberwise `init`.
  public struct Config: KerasConfig, Equatable {
    /// Keras' `scale`.
    public var scale: Double
    /// `"fan_in"`, `"fan_out"` or `"fan_avg"`.
    public var mode: String
    /// `"truncated_normal"`, `"untruncated_normal"` or `"uniform"` (`"normal"` means truncated, as in Keras).
    public var distribution: String
    /// A fixed seed makes the initializer draw the same values every time, ignoring the model's generator.
    public var seed: UInt64?
    /// The arguments given, Keras' defaults for the others.
    public init(
      scale: Double = 1, mode: String = "fan_in", distribution: String = "truncated_normal",
      seed: UInt64? = nil
    ) {
      self.scale = scale
      self.mode = mode
      self.distribution = distribution
      self.seed = seed
    }
    /// The config with Keras' defaults: what arguments left out take.
    public static let kerasDefaults = Config()
  }

  public static let identifier = "variance_scaling"
  public let config: Config

  public init(config: Config = Config()) throws {
    guard config.scale > 0 else {
      throw StrataError.invalidArgument(
        owner: "VarianceScaling", argument: "scale", value: "\(config.scale)",
        expected: "a positive number")
    }
    guard ["fan_in", "fan_out", "fan_avg"].contains(config.mode) else {
      throw StrataError.invalidArgument(
        owner: "VarianceScaling", argument: "mode", value: "'\(config.mode)'",
        expected: "'fan_in', 'fan_out' or 'fan_avg'")
    }
    guard
      ["truncated_normal", "untruncated_normal", "normal", "uniform"].contains(config.distribution)
    else {
      throw StrataError.invalidArgument(
        owner: "VarianceScaling", argument: "distribution", value: "'\(config.distribution)'",
        expected: "'truncated_normal', 'untruncated_normal' or 'uniform'")
    }
    self.config = config
  }

  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    var own = config.seed.map(SeededGenerator.init(seed:))
    let (fanIn, fanOut) = fans(of: shape)
    let n: Double
    switch config.mode {
    case "fan_out": n = fanOut
    case "fan_avg": n = (fanIn + fanOut) / 2
    default: n = fanIn
    }
    let variance = config.scale / max(1, n)
    if own != nil {
      draw(values, variance: variance, generator: &own!)
    } else {
      draw(values, variance: variance, generator: &generator)
    }
  }

  private func draw(
    _ values: UnsafeMutableBufferPointer<Float>, variance: Double, generator: inout SeededGenerator
  ) {
    switch config.distribution {
    case "uniform":
      let limit = (3 * variance).squareRoot()
      for i in values.indices {
        values[i] = Float((2 * Double(generator.nextUniform()) - 1) * limit)
      }
    case "untruncated_normal":
      let stddev = variance.squareRoot()
      for i in values.indices { values[i] = Float(generator.nextNormal() * stddev) }
    default:
      let stddev = variance.squareRoot() / 0.879_625_661_034_239_78
      for i in values.indices { values[i] = Float(truncatedNormal(&generator) * stddev) }
    }
  }
}

/// A unit normal cut at ±2, by rejection.
func truncatedNormal(_ generator: inout SeededGenerator) -> Double {
  while true {
    let value = generator.nextNormal()
    if abs(value) <= 2 { return value }
  }
}

/// The config of an initializer whose only argument is an optional seed.
public struct SeedConfig: Codable, Sendable, Equatable {
  /// Keras' `seed`.
  public var seed: UInt64?
  /// The arguments given, Keras' defaults for the others.
  public init(seed: UInt64? = nil) { self.seed = seed }
}

/// A variance-scaling initializer with fixed scale, mode and distribution (Glorot, He, LeCun).
public protocol FixedVarianceScaling: Initializer where Config == SeedConfig {
  static var scale: Double { get }
  static var mode: String { get }
  static var distribution: String { get }
}

extension FixedVarianceScaling {
  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    // The constants are valid by construction.
    let scaling = try! VarianceScaling(
      config: .init(
        scale: Self.scale, mode: Self.mode, distribution: Self.distribution, seed: config.seed))
    scaling.fill(values, shape: shape, generator: &generator)
  }
}

/// Uniform in `±sqrt(6 / (fanIn + fanOut))`. Keras: `"glorot_uniform"`, Dense's and Conv2D's default.
public struct GlorotUniform: FixedVarianceScaling {
  public static let identifier = "glorot_uniform"
  public static let scale = 1.0, mode = "fan_avg", distribution = "uniform"
  public let config: SeedConfig
  public init(config: SeedConfig = SeedConfig()) { self.config = config }
}

/// Truncated normal with deviation `sqrt(2 / (fanIn + fanOut))`. Keras: `"glorot_normal"`.
public struct GlorotNormal: FixedVarianceScaling {
  public static let identifier = "glorot_normal"
  public static let scale = 1.0, mode = "fan_avg", distribution = "truncated_normal"
  public let config: SeedConfig
  public init(config: SeedConfig = SeedConfig()) { self.config = config }
}

/// Truncated normal with deviation `sqrt(2 / fanIn)`. Keras: `"he_normal"`.
public struct HeNormal: FixedVarianceScaling {
  public static let identifier = "he_normal"
  public static let scale = 2.0, mode = "fan_in", distribution = "truncated_normal"
  public let config: SeedConfig
  public init(config: SeedConfig = SeedConfig()) { self.config = config }
}

/// Uniform in `±sqrt(6 / fanIn)`. Keras: `"he_uniform"`.
public struct HeUniform: FixedVarianceScaling {
  public static let identifier = "he_uniform"
  public static let scale = 2.0, mode = "fan_in", distribution = "uniform"
  public let config: SeedConfig
  public init(config: SeedConfig = SeedConfig()) { self.config = config }
}

/// Truncated normal with deviation `sqrt(1 / fanIn)`. Keras: `"lecun_normal"`.
public struct LecunNormal: FixedVarianceScaling {
  public static let identifier = "lecun_normal"
  public static let scale = 1.0, mode = "fan_in", distribution = "truncated_normal"
  public let config: SeedConfig
  public init(config: SeedConfig = SeedConfig()) { self.config = config }
}

/// Uniform in `±sqrt(3 / fanIn)`. Keras: `"lecun_uniform"`.
public struct LecunUniform: FixedVarianceScaling {
  public static let identifier = "lecun_uniform"
  public static let scale = 1.0, mode = "fan_in", distribution = "uniform"
  public let config: SeedConfig
  public init(config: SeedConfig = SeedConfig()) { self.config = config }
}
