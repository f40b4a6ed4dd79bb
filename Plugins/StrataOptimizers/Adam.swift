import CStrataKernels
import Foundation
import StrataCore

/// The arguments of Adam and its relatives.
public struct AdamArguments: Codable, Sendable, Equatable {
  /// Keras' `beta_1`.
  public var beta1: Float
  /// Keras' `beta_2`.
  public var beta2: Float
  /// Keras' `epsilon`.
  public var epsilon: Float
  /// Keras' `amsgrad`.
  public var amsgrad: Bool
  /// The arguments given, Keras' defaults for the others.
  public init(
    beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7, amsgrad: Bool = false
  ) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.amsgrad = amsgrad
  }
  // Keras spells them `beta_1` and `beta_2`.
  enum CodingKeys: String, CodingKey { case beta1 = "beta_1", beta2 = "beta_2", epsilon, amsgrad }
  /// Decodes the arguments (each present: the defaults come from `kerasDefaults`).
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: AnyKey.self)
    func value<T: Decodable>(_ names: [String]) throws -> T {
      for name in names {
        if let v = try c.decodeIfPresent(T.self, forKey: AnyKey(name)) { return v }
      }
      throw DecodingError.keyNotFound(
        AnyKey(names[0]), .init(codingPath: c.codingPath, debugDescription: ""))
    }
    // A snake_case key strategy turns `beta_1` into `beta1`; accept both spellings. (Defaults come
    // from the config's `kerasDefaults`.)
    self.init(
      beta1: try value(["beta_1", "beta1"]), beta2: try value(["beta_2", "beta2"]),
      epsilon: try value(["epsilon"]),
      amsgrad: try value(["amsgrad"]))
  }
  func validate(_ owner: String) throws {
    try fraction(owner, "beta_1", beta1)
    try fraction(owner, "beta_2", beta2)
    try positive(owner, "epsilon", epsilon)
  }
}

struct AnyKey: CodingKey {
  var stringValue: String
  var intValue: Int? { nil }
  init(_ string: String) { stringValue = string }
  init?(stringValue: String) { self.stringValue = stringValue }
  init?(intValue: Int) { nil }
}

/// The config shared by the Adam family: common arguments and Adam's.
public struct AdamConfig: KerasConfig, Equatable {
  /// AdamW's decay of 0.004 is set by AdamW when none is given.
  public static let kerasDefaults = AdamConfig(common: .init(learningRate: 0.001))
  /// The arguments every optimizer takes (`learning_rate`, clipping, `weight_decay`), flat in Keras' config.
  public var common: OptimizerArguments
  /// Adam's own arguments (`beta_1`, `beta_2`, `epsilon`, `amsgrad`), flat in Keras' config.
  public var adam: AdamArguments
  /// The arguments given, Keras' defaults for the others.
  public init(common: OptimizerArguments, adam: AdamArguments = AdamArguments()) {
    self.common = common
    self.adam = adam
  }
  /// Decodes the arguments (each present: the defaults come from `kerasDefaults`).
  public init(from decoder: Decoder) throws {
    self.init(common: try OptimizerArguments(from: decoder), adam: try AdamArguments(from: decoder))
  }
  public func encode(to encoder: Encoder) throws {
    try common.encode(to: encoder)
    try adam.encode(to: encoder)
  }
}

/// Adaptive moment estimation. Keras: `Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999,
/// epsilon=1e-07, amsgrad=False)`: `w -= lr · √(1-β₂ᵗ)/(1-β₁ᵗ) · m / (√v + ε)`.
public class Adam: BaseOptimizer, Optimizer {
  public typealias Config = AdamConfig
  /// The registry key (subclasses give their own).
  public class var identifier: String { "Adam" }
  public let config: Config

  public required init(config: Config) throws {
    try config.common.validate(Self.identifier)
    try config.adam.validate(Self.identifier)
    self.config = config
    super.init(arguments: config.common)
  }

  /// `Adam(learningRate: 1e-4)`.
  public convenience init(
    learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
    amsgrad: Bool = false
  ) throws {
    try self.init(
      config: Config(
        common: .init(learningRate: learningRate),
        adam: .init(beta1: beta1, beta2: beta2, epsilon: epsilon, amsgrad: amsgrad)))
  }

  // m, v, v̂ (amsgrad)
  override var slotCount: Int { config.adam.amsgrad ? 3 : 2 }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let b1 = config.adam.beta1, b2 = config.adam.beta2, eps = config.adam.epsilon
    let t = Float(step)
    let alpha = learningRate * (1 - pow(b2, t)).squareRoot() / (1 - pow(b1, t))
    let m = slots[0].mutablePointer, v = slots[1].mutablePointer
    let vHat = config.adam.amsgrad ? slots[2].mutablePointer : nil
    strata_adam(w.baseAddress, g.baseAddress, m, v, vHat, w.count, alpha, b1, b2, eps)
  }
}

/// Adam with decoupled weight decay (default 0.004): `w -= lr · weightDecay · w` before each step.
/// Keras: `AdamW(learning_rate=0.001, weight_decay=0.004, …)`.
public final class AdamW: Adam {
  /// The registry key.
  public override class var identifier: String { "AdamW" }

  public required init(config: Config) throws {
    var config = config
    if config.common.weightDecay == nil { config.common.weightDecay = 0.004 }
    try super.init(config: config)
  }

  /// `AdamW(learningRate: 0.001, weightDecay: 0.004)`.
  public convenience init(learningRate: Float = 0.001, weightDecay: Float = 0.004) throws {
    try self.init(
      config: Config(common: .init(learningRate: learningRate, weightDecay: weightDecay)))
  }
}

/// Adam with the infinity norm. Keras: `Adamax(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)`:
/// `u = max(β₂ · u, |g|)`, `w -= lr · m / ((1 - β₁ᵗ)(u + ε))`.
public final class Adamax: BaseOptimizer, Optimizer {
  public typealias Config = AdamConfig
  public static let identifier = "Adamax"
  public let config: Config

  public init(config: Config) throws {
    try config.common.validate("Adamax")
    try config.adam.validate("Adamax")
    self.config = config
    super.init(arguments: config.common)
  }

  /// `Adamax(learningRate: 0.002)`.
  public convenience init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999)
    throws
  {
    try self.init(
      config: Config(
        common: .init(learningRate: learningRate), adam: .init(beta1: beta1, beta2: beta2)))
  }

  override var slotCount: Int { 2 }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let b1 = config.adam.beta1, b2 = config.adam.beta2, eps = config.adam.epsilon
    let scale = learningRate / (1 - pow(b1, Float(step)))
    elementLoop(w, g, &slots) { w, g, m, u, _ in
      m += (g - m) * (1 - b1)
      u = max(b2 * u, abs(g))
      w -= scale * m / (u + eps)
    }
  }
}

/// Adam with Nesterov momentum and Keras' momentum schedule `μₜ = β₁(1 - 0.5 · 0.96ᵗ)`.
/// Keras: `Nadam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)`.
public final class Nadam: BaseOptimizer, Optimizer {
  public typealias Config = AdamConfig
  public static let identifier = "Nadam"
  public let config: Config
  /// `Π μᵢ` over the steps so far.
  private var momentumProduct: Float = 1

  public init(config: Config) throws {
    try config.common.validate("Nadam")
    try config.adam.validate("Nadam")
    self.config = config
    super.init(arguments: config.common)
  }

  /// `Nadam(learningRate: 0.002)`.
  public convenience init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999)
    throws
  {
    try self.init(
      config: Config(
        common: .init(learningRate: learningRate), adam: .init(beta1: beta1, beta2: beta2)))
  }

  override var slotCount: Int { 2 }

  private func mu(_ step: Int) -> Float { config.adam.beta1 * (1 - 0.5 * pow(0.96, Float(step))) }

  override func prepareStep() { momentumProduct *= mu(iterations + 1) }

  override func prepareRestore() {
    momentumProduct = 1
    // Within about a thousand steps the product reaches a fixed point (the smallest subnormal Float,
    // where multiplying by μ ≈ β₁ rounds back to the same value, or 0): stop there, exactly as an
    // uninterrupted run would stand, so a restored count of billions of steps costs no more than that.
    if iterations > 0 {
      for step in 1...iterations {
        let next = momentumProduct * mu(step)
        if next == momentumProduct && step > 1 { break }
        momentumProduct = next
      }
    }
  }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let b1 = config.adam.beta1, b2 = config.adam.beta2, eps = config.adam.epsilon, lr = learningRate
    let muT = mu(step), muNext = mu(step + 1)
    let productT = momentumProduct, productNext = momentumProduct * muNext
    let b2Power = pow(b2, Float(step))
    strata_nadam(
      w.baseAddress, g.baseAddress, slots[0].mutablePointer, slots[1].mutablePointer, w.count, lr,
      b1, b2, eps, muT, muNext,
      productT, productNext, b2Power)
  }
}
