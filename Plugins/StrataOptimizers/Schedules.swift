import Foundation
import StrataCore

func checkSteps(_ owner: String, _ argument: String, _ value: Int) throws {
  try checkArgument(
    value > 0,
    owner: owner, argument: argument, value: "\(value)", expected: "a positive integer")
}

/// `initial · rate^(step / decaySteps)` (the exponent floored with `staircase`). Keras:
/// `ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)`.
public struct ExponentialDecay: LearningRateSchedule, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `initial_learning_rate`.
  public var initialLearningRate: Double = 0
  /// Keras' `decay_steps`.
  public var decaySteps: Int = 1
  /// Keras' `decay_rate`.
  public var decayRate: Double = 1
  /// Keras' `staircase`.
  public var staircase: Bool = false
  /// Keras' `name`.
  public var name: String = "ExponentialDecay"
  /// The registry key: Keras' `ExponentialDecay`.
  public static let identifier = "ExponentialDecay"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkSteps(Self.identifier, "decay_steps", decaySteps)
  }
  /// The rate at `step` (from 0).
  public func learningRate(at step: Int) -> Float {
    var p = Double(step) / Double(decaySteps)
    if staircase { p = p.rounded(.down) }
    return Float(initialLearningRate * pow(decayRate, p))
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    initialLearningRate: Double, decaySteps: Int, decayRate: Double,
    staircase: Bool = ExponentialDecay().staircase, name: String = ExponentialDecay().name
  ) throws {
    self.initialLearningRate = initialLearningRate
    self.decaySteps = decaySteps
    self.decayRate = decayRate
    self.staircase = staircase
    self.name = name
    try validate()
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = [
    "initial_learning_rate", "decay_steps", "decay_rate",
  ]
}

/// `values[i]` while `step ≤ boundaries[i]`, the last value after the last boundary. Keras:
/// `PiecewiseConstantDecay(boundaries, values)`.
public struct PiecewiseConstantDecay: LearningRateSchedule, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `boundaries` (steps, increasing).
  public var boundaries: [Int] = []
  /// Keras' `values`, one more than the boundaries.
  public var values: [Double] = [0]
  /// Keras' `name`.
  public var name: String = "PiecewiseConstant"
  /// The registry key: Keras' `PiecewiseConstantDecay`.
  public static let identifier = "PiecewiseConstantDecay"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkArgument(
      values.count == boundaries.count + 1,
      owner: Self.identifier, argument: "values", value: "of \(values.count) entries",
      expected: "one more than the \(boundaries.count) boundaries")
  }
  /// The rate at `step` (from 0).
  public func learningRate(at step: Int) -> Float {
    let index = boundaries.firstIndex { step <= $0 } ?? boundaries.count
    return Float(values[index])
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(boundaries: [Int], values: [Double], name: String = PiecewiseConstantDecay().name)
    throws
  {
    self.boundaries = boundaries
    self.values = values
    self.name = name
    try validate()
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["boundaries", "values"]
}

/// `initial / (1 + rate · step / decaySteps)` (floored with `staircase`). Keras:
/// `InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)`.
public struct InverseTimeDecay: LearningRateSchedule, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `initial_learning_rate`.
  public var initialLearningRate: Double = 0
  /// Keras' `decay_steps`.
  public var decaySteps: Int = 1
  /// Keras' `decay_rate`.
  public var decayRate: Double = 1
  /// Keras' `staircase`.
  public var staircase: Bool = false
  /// Keras' `name`.
  public var name: String = "InverseTimeDecay"
  /// The registry key: Keras' `InverseTimeDecay`.
  public static let identifier = "InverseTimeDecay"
  /// Refuses a bad argument by name.
  public func validate() throws { try checkSteps(Self.identifier, "decay_steps", decaySteps) }
  /// The rate at `step` (from 0).
  public func learningRate(at step: Int) -> Float {
    var p = Double(step) / Double(decaySteps)
    if staircase { p = p.rounded(.down) }
    return Float(initialLearningRate / (1 + decayRate * p))
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    initialLearningRate: Double, decaySteps: Int, decayRate: Double,
    staircase: Bool = InverseTimeDecay().staircase, name: String = InverseTimeDecay().name
  ) throws {
    self.initialLearningRate = initialLearningRate
    self.decaySteps = decaySteps
    self.decayRate = decayRate
    self.staircase = staircase
    self.name = name
    try validate()
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = [
    "initial_learning_rate", "decay_steps", "decay_rate",
  ]
}

/// From `initial` to `end` over `decaySteps` as `(1 - step / decaySteps)^power`; with `cycle` it starts
/// again, from a farther horizon, after each multiple of `decaySteps`. Keras: `PolynomialDecay(
/// initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False)`.
public struct PolynomialDecay: LearningRateSchedule, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `initial_learning_rate`.
  public var initialLearningRate: Double = 0
  /// Keras' `decay_steps`.
  public var decaySteps: Int = 1
  /// Keras' `end_learning_rate`.
  public var endLearningRate: Double = 0.0001
  /// Keras' `power`.
  public var power: Double = 1
  /// Keras' `cycle`.
  public var cycle: Bool = false
  /// Keras' `name`.
  public var name: String = "PolynomialDecay"
  /// The registry key: Keras' `PolynomialDecay`.
  public static let identifier = "PolynomialDecay"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkSteps(Self.identifier, "decay_steps", decaySteps)
  }
  /// The rate at `step` (from 0).
  public func learningRate(at step: Int) -> Float {
    var horizon = Double(decaySteps)
    var position = Double(step)
    if cycle {
      horizon *= step == 0 ? 1 : (position / horizon).rounded(.up)
    } else {
      position = min(position, horizon)
    }
    let fraction = pow(1 - position / horizon, power)
    return Float(
      (initialLearningRate - endLearningRate) * fraction + endLearningRate)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    initialLearningRate: Double, decaySteps: Int,
    endLearningRate: Double = PolynomialDecay().endLearningRate,
    power: Double = PolynomialDecay().power, cycle: Bool = PolynomialDecay().cycle,
    name: String = PolynomialDecay().name
  ) throws {
    self.initialLearningRate = initialLearningRate
    self.decaySteps = decaySteps
    self.endLearningRate = endLearningRate
    self.power = power
    self.cycle = cycle
    self.name = name
    try validate()
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["initial_learning_rate", "decay_steps"]
}

/// Half a cosine from `initial` down to `alpha · initial` over `decaySteps`, after an optional linear
/// warm-up from `initial` to `warmupTarget` over `warmupSteps` (the cosine then starts from the target).
/// Keras: `CosineDecay(initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None,
/// warmup_steps=0)`.
public struct CosineDecay: LearningRateSchedule, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `initial_learning_rate`.
  public var initialLearningRate: Double = 0
  /// Keras' `decay_steps`.
  public var decaySteps: Int = 1
  /// Keras' `alpha`: the floor, as a fraction of the rate decayed from.
  public var alpha: Double = 0
  /// Keras' `name`.
  public var name: String = "CosineDecay"
  /// Keras' `warmup_target` (`nil`: no warm-up).
  public var warmupTarget: Double?
  /// Keras' `warmup_steps`.
  public var warmupSteps: Int = 0
  // `warmup_target: null` is written, as Keras writes it.
  enum CodingKeys: String, CodingKey {
    case initialLearningRate, decaySteps, alpha, name, warmupTarget, warmupSteps
  }
  /// Encodes every argument, `warmup_target` as null when there is none.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(initialLearningRate, forKey: .initialLearningRate)
    try c.encode(decaySteps, forKey: .decaySteps)
    try c.encode(alpha, forKey: .alpha)
    try c.encode(name, forKey: .name)
    try c.encode(warmupTarget, forKey: .warmupTarget)
    try c.encode(warmupSteps, forKey: .warmupSteps)
  }
  /// The registry key: Keras' `CosineDecay`.
  public static let identifier = "CosineDecay"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkSteps(Self.identifier, "decay_steps", decaySteps)
    try checkArgument(
      warmupSteps >= 0,
      owner: Self.identifier, argument: "warmup_steps", value: "\(warmupSteps)",
      expected: "a number ≥ 0")
  }
  func decayed(_ step: Double, from rate: Double) -> Double {
    let cosine = 0.5 * (1 + cos(Double.pi * step / Double(decaySteps)))
    return rate * ((1 - alpha) * cosine + alpha)
  }
  /// The rate at `step` (from 0).
  public func learningRate(at step: Int) -> Float {
    let decaySteps = Double(self.decaySteps)
    guard let target = warmupTarget else {
      return Float(decayed(min(Double(step), decaySteps), from: initialLearningRate))
    }
    let warmup = Double(warmupSteps)
    let position = min(Double(step), decaySteps + warmup)
    if position < warmup {
      return Float(
        (target - initialLearningRate) * position / warmup + initialLearningRate)
    }
    return Float(decayed(position - warmup, from: target))
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    initialLearningRate: Double, decaySteps: Int, alpha: Double = CosineDecay().alpha,
    name: String = CosineDecay().name, warmupTarget: Double? = nil,
    warmupSteps: Int = CosineDecay().warmupSteps
  ) throws {
    self.initialLearningRate = initialLearningRate
    self.decaySteps = decaySteps
    self.alpha = alpha
    self.name = name
    self.warmupTarget = warmupTarget
    self.warmupSteps = warmupSteps
    try validate()
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["initial_learning_rate", "decay_steps"]
}

/// Cosine decay with warm restarts (SGDR): each period `tMul` times longer than the last and its peak
/// `mMul` times lower. Keras: `CosineDecayRestarts(initial_learning_rate, first_decay_steps, t_mul=2.0,
/// m_mul=1.0, alpha=0.0)`, saved with the name `SGDRDecay`.
public struct CosineDecayRestarts: LearningRateSchedule, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `initial_learning_rate`.
  public var initialLearningRate: Double = 0
  /// Keras' `first_decay_steps`.
  public var firstDecaySteps: Int = 1
  /// Keras' `t_mul`.
  public var tMul: Double = 2
  /// Keras' `m_mul`.
  public var mMul: Double = 1
  /// Keras' `alpha`.
  public var alpha: Double = 0
  /// Keras' `name`.
  public var name: String = "SGDRDecay"
  /// The registry key: Keras' `CosineDecayRestarts`.
  public static let identifier = "CosineDecayRestarts"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkSteps(Self.identifier, "first_decay_steps", firstDecaySteps)
    try checkArgument(
      tMul > 0,
      owner: Self.identifier, argument: "t_mul", value: "\(tMul)",
      expected: "a positive number")
  }
  /// The rate at `step` (from 0).
  public func learningRate(at step: Int) -> Float {
    var fraction = Double(step) / Double(firstDecaySteps)
    let restart: Double
    if tMul == 1 {
      restart = fraction.rounded(.down)
      fraction -= restart
    } else {
      let t = tMul
      restart = (log(1 - fraction * (1 - t)) / log(t)).rounded(.down)
      let done = (1 - pow(t, restart)) / (1 - t)
      fraction = (fraction - done) / pow(t, restart)
    }
    let cosine = 0.5 * pow(mMul, restart) * (1 + cos(Double.pi * fraction))
    return Float(initialLearningRate * ((1 - alpha) * cosine + alpha))
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(
    initialLearningRate: Double, firstDecaySteps: Int, tMul: Double = CosineDecayRestarts().tMul,
    mMul: Double = CosineDecayRestarts().mMul, alpha: Double = CosineDecayRestarts().alpha,
    name: String = CosineDecayRestarts().name
  ) throws {
    self.initialLearningRate = initialLearningRate
    self.firstDecaySteps = firstDecaySteps
    self.tMul = tMul
    self.mMul = mMul
    self.alpha = alpha
    self.name = name
    try validate()
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["initial_learning_rate", "first_decay_steps"]
}
