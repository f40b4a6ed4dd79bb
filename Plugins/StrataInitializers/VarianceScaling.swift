import Foundation
import StrataCore

/// Draws with a variance of `scale / n`, `n` being the fan-in, the fan-out or their mean.
///
/// Keras: `VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal")`. Glorot, He and
/// LeCun initializers are instances of it. A truncated normal is cut at two standard deviations and its
/// standard deviation is divided by 0.8796…, the deviation of a unit normal cut there, as in Keras.
public struct VarianceScaling: Initializer, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `scale`.
  public var scale: Double = 1
  /// `"fan_in"`, `"fan_out"` or `"fan_avg"`.
  public var mode: String = "fan_in"
  /// `"truncated_normal"`, `"untruncated_normal"` or `"uniform"` (`"normal"` means truncated, as in Keras).
  public var distribution: String = "truncated_normal"
  /// A fixed seed makes the initializer draw the same values every time, ignoring the model's generator.
  public var seed: UInt64?

  public static let identifier = "variance_scaling"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkArgument(
      scale > 0,
      owner: "VarianceScaling", argument: "scale", value: "\(scale)",
      expected: "a positive number")
    try checkArgument(
      ["fan_in", "fan_out", "fan_avg"].contains(mode),
      owner: "VarianceScaling", argument: "mode", value: "'\(mode)'",
      expected: "'fan_in', 'fan_out' or 'fan_avg'")
    guard
      ["truncated_normal", "untruncated_normal", "normal", "uniform"].contains(distribution)
    else {
      throw StrataError.invalidArgument(
        owner: "VarianceScaling", argument: "distribution", value: "'\(distribution)'",
        expected: "'truncated_normal', 'untruncated_normal' or 'uniform'")
    }
  }

  /// Fills `values`, a weight of `shape`, with this initializer's values.
  public func fill(
    _ values: UnsafeMutableBufferPointer<Float>, shape: [Int], generator: inout SeededGenerator
  ) {
    var own = seed.map(SeededGenerator.init(seed:))
    let (fanIn, fanOut) = fans(of: shape)
    let n: Double
    switch mode {
    case "fan_out": n = fanOut
    case "fan_avg": n = (fanIn + fanOut) / 2
    default: n = fanIn
    }
    let variance = scale / max(1, n)
    if own != nil {
      draw(values, variance: variance, generator: &own!)
    } else {
      draw(values, variance: variance, generator: &generator)
    }
  }

  private func draw(
    _ values: UnsafeMutableBufferPointer<Float>, variance: Double, generator: inout SeededGenerator
  ) {
    switch distribution {
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

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    scale: Double = VarianceScaling().scale, mode: String = VarianceScaling().mode,
    distribution: String = VarianceScaling().distribution, seed: UInt64? = nil
  ) throws {
    self.scale = scale
    self.mode = mode
    self.distribution = distribution
    self.seed = seed
    try validate()
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

extension VarianceScaling {
  /// Keras' variance-scaling initializers with fixed arguments (Glorot, He, LeCun): registered under
  /// their Keras names and class names, each taking only a `seed`.
  public static let presets:
    [(identifier: String, className: String, scale: Double, mode: String, distribution: String)] = [
      // Uniform in ±sqrt(6 / (fanIn + fanOut)): Dense's and Conv2D's default.
      ("glorot_uniform", "GlorotUniform", 1, "fan_avg", "uniform"),
      ("glorot_normal", "GlorotNormal", 1, "fan_avg", "truncated_normal"),
      ("he_normal", "HeNormal", 2, "fan_in", "truncated_normal"),
      ("he_uniform", "HeUniform", 2, "fan_in", "uniform"),
      ("lecun_normal", "LecunNormal", 1, "fan_in", "truncated_normal"),
      ("lecun_uniform", "LecunUniform", 1, "fan_in", "uniform"),
    ]

  /// The preset `name` (`"he_normal"` or `"HeNormal"`) drawing from `seed`'s own generator, or from
  /// the model's without one.
  /// - Throws: ``StrataError/unknownIdentifier(kind:identifier:suggestions:)`` for another name.
  public init(preset name: String, seed: UInt64? = nil) throws {
    guard let preset = Self.presets.first(where: { $0.identifier == name || $0.className == name })
    else {
      throw StrataError.unknownIdentifier(
        kind: "variance-scaling preset", identifier: name,
        suggestions: closestNames(to: name, in: Self.presets.map(\.identifier)))
    }
    try self.init(
      scale: preset.scale, mode: preset.mode, distribution: preset.distribution, seed: seed)
  }
}
