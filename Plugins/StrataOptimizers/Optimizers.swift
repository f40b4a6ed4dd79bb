import CStrataKernels
import Foundation
import StrataCore

// MARK: SGD

/// Gradient descent, with optional momentum and Nesterov momentum. Keras: `SGD(learning_rate=0.01,
/// momentum=0.0, nesterov=False)`: `m = momentum · m - lr · g`, then `w += m` (or, Nesterov,
/// `w += momentum · m - lr · g`).
public final class SGD: ConfiguredOptimizer<SGD.Options>, Optimizer {
  /// SGD's own Keras arguments.
  public struct Options: OptimizerOptions, KerasConfig {
    /// Keras' default `learning_rate`.
    public static let defaultLearningRate: Float = 0.01
    /// Keras' `momentum`.
    public var momentum: Float = 0
    /// Keras' `nesterov`.
    public var nesterov: Bool = false
    /// Refuses an argument out of range, naming it.
    public func validate(owner: String) throws {
      try fraction(owner, "momentum", momentum)
    }

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(momentum: Float = Options().momentum, nesterov: Bool = Options().nesterov) {
      self.momentum = momentum
      self.nesterov = nesterov
    }
  }
  /// The registry key.
  public static let identifier = "SGD"

  /// `SGD(learningRate: 0.01, momentum: 0.9, nesterov: true)`.
  public convenience init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false)
    throws
  {
    try self.init(
      config: Config(
        learningRate: learningRate, options: Options(momentum: momentum, nesterov: nesterov)))
  }

  override var slotCount: Int { config.momentum == 0 ? 0 : 1 }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let lr = learningRate, momentum = config.momentum, nesterov = config.nesterov
    if momentum == 0 {
      elementLoop(w, g, &slots) { w, g, _, _, _ in w -= lr * g }
    } else {
      elementLoop(w, g, &slots) { w, g, m, _, _ in
        m = momentum * m - lr * g
        w += nesterov ? momentum * m - lr * g : m
      }
    }
  }
}

// MARK: RMSprop

/// Divides the gradient by a running root mean square. Keras: `RMSprop(learning_rate=0.001, rho=0.9,
/// momentum=0.0, epsilon=1e-07, centered=False)`; `ε` is added inside the square root, as Keras does.
public final class RMSprop: ConfiguredOptimizer<RMSprop.Options>, Optimizer {
  /// RMSprop's own Keras arguments.
  public struct Options: OptimizerOptions, KerasConfig {
    /// Keras' default `learning_rate`.
    public static let defaultLearningRate: Float = 0.001
    /// Keras' `rho`.
    public var rho: Float = 0.9
    /// Keras' `momentum`.
    public var momentum: Float = 0
    /// Keras' `epsilon`.
    public var epsilon: Float = 1e-7
    /// Keras' `centered`.
    public var centered: Bool = false
    /// Refuses an argument out of range, naming it.
    public func validate(owner: String) throws {
      try fraction(owner, "rho", rho)
      try fraction(owner, "momentum", momentum)
      try positive(owner, "epsilon", epsilon)
    }

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      rho: Float = Options().rho, momentum: Float = Options().momentum,
      epsilon: Float = Options().epsilon, centered: Bool = Options().centered
    ) {
      self.rho = rho
      self.momentum = momentum
      self.epsilon = epsilon
      self.centered = centered
    }
  }
  /// The registry key.
  public static let identifier = "RMSprop"

  /// `RMSprop(learningRate: 0.001)`.
  public convenience init(
    learningRate: Float = 0.001, rho: Float = 0.9, momentum: Float = 0, centered: Bool = false
  ) throws {
    try self.init(
      config: Config(
        learningRate: learningRate,
        options: Options(rho: rho, momentum: momentum, centered: centered)))
  }

  // velocity, momentum, average gradient
  override var slotCount: Int { 3 }
  // Keras creates the momentum only when `momentum` > 0, the average gradient only when centered.
  override var kerasSlotIndices: [Int] {
    [0] + (config.momentum > 0 ? [1] : []) + (config.centered ? [2] : [])
  }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let lr = learningRate, rho = config.rho, momentum = config.momentum, eps = config.epsilon,
      centered = config.centered
    strata_rmsprop(
      w.baseAddress, g.baseAddress, slots[0].mutablePointer, slots[1].mutablePointer,
      slots[2].mutablePointer, w.count, lr,
      rho, momentum, eps, centered ? 1 : 0)
  }
}

// MARK: Adagrad

/// Divides by the root of the sum of squared gradients. Keras: `Adagrad(learning_rate=0.001,
/// initial_accumulator_value=0.1, epsilon=1e-07)`.
public final class Adagrad: ConfiguredOptimizer<Adagrad.Options>, Optimizer {
  /// Adagrad's own Keras arguments.
  public struct Options: OptimizerOptions, KerasConfig {
    /// Keras' default `learning_rate`.
    public static let defaultLearningRate: Float = 0.001
    /// Keras' `initial_accumulator_value`.
    public var initialAccumulatorValue: Float = 0.1
    /// Keras' `epsilon`.
    public var epsilon: Float = 1e-7
    /// Refuses an argument out of range, naming it.
    public func validate(owner: String) throws {
      try positive(owner, "initial_accumulator_value", initialAccumulatorValue, allowZero: true)
      try positive(owner, "epsilon", epsilon)
    }

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      initialAccumulatorValue: Float = Options().initialAccumulatorValue,
      epsilon: Float = Options().epsilon
    ) {
      self.initialAccumulatorValue = initialAccumulatorValue
      self.epsilon = epsilon
    }
  }
  /// The registry key.
  public static let identifier = "Adagrad"

  /// `Adagrad(learningRate: 0.01)`.
  public convenience init(learningRate: Float = 0.001, initialAccumulatorValue: Float = 0.1) throws
  {
    try self.init(
      config: Config(
        learningRate: learningRate,
        options: Options(initialAccumulatorValue: initialAccumulatorValue)))
  }

  override var slotCount: Int { 1 }
  override func initialSlotValue(_ slot: Int) -> Float { config.initialAccumulatorValue }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let lr = learningRate, eps = config.epsilon
    strata_adagrad(w.baseAddress, g.baseAddress, slots[0].mutablePointer, w.count, lr, eps)
  }
}

// MARK: Adadelta

/// Scales steps by the ratio of running RMS of updates and of gradients. Keras: `Adadelta(learning_rate=0.001,
/// rho=0.95, epsilon=1e-07)`.
public final class Adadelta: ConfiguredOptimizer<Adadelta.Options>, Optimizer {
  /// Adadelta's own Keras arguments.
  public struct Options: OptimizerOptions, KerasConfig {
    /// Keras' default `learning_rate`.
    public static let defaultLearningRate: Float = 0.001
    /// Keras' `rho`.
    public var rho: Float = 0.95
    /// Keras' `epsilon`.
    public var epsilon: Float = 1e-7
    /// Refuses an argument out of range, naming it.
    public func validate(owner: String) throws {
      try fraction(owner, "rho", rho)
      try positive(owner, "epsilon", epsilon)
    }

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(rho: Float = Options().rho, epsilon: Float = Options().epsilon) {
      self.rho = rho
      self.epsilon = epsilon
    }
  }
  /// The registry key.
  public static let identifier = "Adadelta"

  /// `Adadelta(learningRate: 1.0)`.
  public convenience init(learningRate: Float = 0.001, rho: Float = 0.95) throws {
    try self.init(config: Config(learningRate: learningRate, options: Options(rho: rho)))
  }

  // accumulated gradient, accumulated update
  override var slotCount: Int { 2 }

  override func update(
    value w: UnsafeMutableBufferPointer<Float>, gradient g: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {
    let lr = learningRate, rho = config.rho, eps = config.epsilon
    strata_adadelta(
      w.baseAddress, g.baseAddress, slots[0].mutablePointer, slots[1].mutablePointer, w.count, lr,
      rho, eps)
  }
}
