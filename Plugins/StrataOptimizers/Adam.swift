import CStrataKernels
import Foundation
import StrataCore

/// The arguments of Adam and its relatives.
public struct AdamOptions: OptimizerOptions, KerasConfig {
  /// Keras' default `learning_rate`.
  public static let defaultLearningRate: Float = 0.001
  /// Keras' `beta_1`.
  public var beta1: Float = 0.9
  /// Keras' `beta_2`.
  public var beta2: Float = 0.999
  /// Keras' `epsilon`.
  public var epsilon: Float = 1e-7
  /// Keras' `amsgrad`.
  public var amsgrad: Bool = false

  // Keras spells them `beta_1` and `beta_2`; a snake_case key strategy reads those as `beta1`.
  private enum CodingKeys: String, CodingKey {
    case beta1 = "beta_1", beta2 = "beta_2", epsilon, amsgrad
    case beta1Converted = "beta1", beta2Converted = "beta2"
  }
  /// Decodes the arguments, `beta_1` and `beta_2` in either spelling.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    beta1 = try c.decodeIfPresent(Float.self, forKey: .beta1) ?? c.decode(.beta1Converted)
    beta2 = try c.decodeIfPresent(Float.self, forKey: .beta2) ?? c.decode(.beta2Converted)
    epsilon = try c.decode(.epsilon)
    amsgrad = try c.decode(.amsgrad)
  }
  /// Encodes the arguments as Keras spells them.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(beta1, forKey: .beta1)
    try c.encode(beta2, forKey: .beta2)
    try c.encode(epsilon, forKey: .epsilon)
    try c.encode(amsgrad, forKey: .amsgrad)
  }

  /// Refuses an argument out of range, naming it.
  public func validate(owner: String) throws {
    try fraction(owner, "beta_1", beta1)
    try fraction(owner, "beta_2", beta2)
    try positive(owner, "epsilon", epsilon)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(
    beta1: Float = AdamOptions().beta1, beta2: Float = AdamOptions().beta2,
    epsilon: Float = AdamOptions().epsilon, amsgrad: Bool = AdamOptions().amsgrad
  ) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    self.amsgrad = amsgrad
  }
}

/// The config shared by the Adam family.
public typealias AdamConfig = OptimizerConfig<AdamOptions>

extension OptimizerConfig where Options == AdamOptions {
  /// `AdamConfig(learningRate: 1e-4, beta2: 0.99)`: the arguments given, Keras' defaults for the others.
  public init(
    learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
    amsgrad: Bool = false
  ) {
    self.init(
      learningRate: learningRate,
      options: AdamOptions(beta1: beta1, beta2: beta2, epsilon: epsilon, amsgrad: amsgrad))
  }
}

/// Adaptive moment estimation. Keras: `Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999,
/// epsilon=1e-07, amsgrad=False)`: `w -= lr · √(1-β₂ᵗ)/(1-β₁ᵗ) · m / (√v + ε)`.
public class Adam: ConfiguredOptimizer<AdamOptions>, Optimizer {
  /// The registry key (subclasses give their own).
  public class var identifier: String { "Adam" }

  /// `Adam(learningRate: 1e-4)`.
  public convenience init(
    learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7,
    amsgrad: Bool = false
  ) throws {
    try self.init(
      config: Config(
        learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, amsgrad: amsgrad))
  }

  // m, v, v̂ (amsgrad)
  override var slotCount: Int { config.amsgrad ? 3 : 2 }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon
    let t = Float(step)
    let alpha = learningRate * (1 - pow(b2, t)).squareRoot() / (1 - pow(b1, t))
    let m = slots[0].mutablePointer, v = slots[1].mutablePointer
    let vHat = config.amsgrad ? slots[2].mutablePointer : nil
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
public final class Adamax: ConfiguredOptimizer<AdamOptions>, Optimizer {
  /// The registry key.
  public static let identifier = "Adamax"

  /// `Adamax(learningRate: 0.002)`.
  public convenience init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999)
    throws
  {
    try self.init(config: Config(learningRate: learningRate, beta1: beta1, beta2: beta2))
  }

  override var slotCount: Int { 2 }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon
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
public final class Nadam: ConfiguredOptimizer<AdamOptions>, Optimizer {
  /// The registry key.
  public static let identifier = "Nadam"
  /// `Π μᵢ` over the steps so far.
  private var momentumProduct: Float = 1

  /// `Nadam(learningRate: 0.002)`.
  public convenience init(learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999)
    throws
  {
    try self.init(config: Config(learningRate: learningRate, beta1: beta1, beta2: beta2))
  }

  override var slotCount: Int { 2 }

  private func mu(_ step: Int) -> Float { config.beta1 * (1 - 0.5 * pow(0.96, Float(step))) }

  override func prepareStep() { momentumProduct *= mu(iterations + 1) }

  override func prepareRestore() {
    momentumProduct = 1
    // Within about a thousand steps the product reaches a fixed point (the smallest subnormal Float,
    // where multiplying by μ ≈ β₁ rounds back to the same value, or 0): stop there, exactly as an
    // uninterrupted run would stand, so a restored count of billions of steps costs no more than that.
    // With gradient accumulation, only every N-th step updated the weights (and the product).
    let every = arguments.gradientAccumulationSteps ?? 1
    if iterations > 0 {
      for step in 1...iterations where step % every == 0 {
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
    let b1 = config.beta1, b2 = config.beta2, eps = config.epsilon, lr = learningRate
    let muT = mu(step), muNext = mu(step + 1)
    let productT = momentumProduct, productNext = momentumProduct * muNext
    let b2Power = pow(b2, Float(step))
    strata_nadam(
      w.baseAddress, g.baseAddress, slots[0].mutablePointer, slots[1].mutablePointer, w.count, lr,
      b1, b2, eps, muT, muNext,
      productT, productNext, b2Power)
  }
}
