import CStrataKernels
import Foundation
import StrataCore

// MARK: SGD

/// Gradient descent, with optional momentum and Nesterov momentum. Keras: `SGD(learning_rate=0.01,
/// momentum=0.0, nesterov=False)`: `m = momentum · m - lr · g`, then `w += m` (or, Nesterov,
/// `w += momentum · m - lr · g`).
public final class SGD: BaseOptimizer, Optimizer {
  /// The Keras arguments; a default is written once, in the memberwise `init`.
  public struct Config: KerasConfig, Equatable {
    /// The config with Keras' defaults: what arguments left out take.
    public static let kerasDefaults = Config()
    /// The arguments every optimizer takes (`learning_rate`, clipping, `weight_decay`), flat in Keras' config.
    public var common: OptimizerArguments
    /// Keras' `momentum`.
    public var momentum: Float
    /// Keras' `nesterov`.
    public var nesterov: Bool
    /// The arguments given, Keras' defaults for the others.
    public init(
      common: OptimizerArguments = .init(learningRate: 0.01), momentum: Float = 0,
      nesterov: Bool = false
    ) {
      self.common = common
      self.momentum = momentum
      self.nesterov = nesterov
    }
    private enum CodingKeys: String, CodingKey { case momentum, nesterov }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      self.init(
        common: try OptimizerArguments(from: decoder),
        momentum: try c.decode(.momentum), nesterov: try c.decode(.nesterov))
    }
    public func encode(to encoder: Encoder) throws {
      try common.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(momentum, forKey: .momentum)
      try c.encode(nesterov, forKey: .nesterov)
    }
  }
  public static let identifier = "SGD"
  public let config: Config

  public init(config: Config) throws {
    try config.common.validate("SGD")
    try fraction("SGD", "momentum", config.momentum)
    self.config = config
    super.init(arguments: config.common)
  }

  /// `SGD(learningRate: 0.01, momentum: 0.9, nesterov: true)`.
  public convenience init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false)
    throws
  {
    try self.init(
      config: Config(
        common: .init(learningRate: learningRate), momentum: momentum, nesterov: nesterov))
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
public final class RMSprop: BaseOptimizer, Optimizer {
  /// The Keras arguments; a default is written once, in the memberwise `init`.
  public struct Config: KerasConfig, Equatable {
    /// The config with Keras' defaults: what arguments left out take.
    public static let kerasDefaults = Config()
    /// The arguments every optimizer takes (`learning_rate`, clipping, `weight_decay`), flat in Keras' config.
    public var common: OptimizerArguments
    /// Keras' `rho`.
    public var rho: Float
    /// Keras' `momentum`.
    public var momentum: Float
    /// Keras' `epsilon`.
    public var epsilon: Float
    /// Keras' `centered`.
    public var centered: Bool
    /// The arguments given, Keras' defaults for the others.
    public init(
      common: OptimizerArguments = .init(learningRate: 0.001), rho: Float = 0.9,
      momentum: Float = 0,
      epsilon: Float = 1e-7, centered: Bool = false
    ) {
      self.common = common
      self.rho = rho
      self.momentum = momentum
      self.epsilon = epsilon
      self.centered = centered
    }
    private enum CodingKeys: String, CodingKey { case rho, momentum, epsilon, centered }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      self.init(
        common: try OptimizerArguments(from: decoder), rho: try c.decode(.rho),
        momentum: try c.decode(.momentum), epsilon: try c.decode(.epsilon),
        centered: try c.decode(.centered))
    }
    public func encode(to encoder: Encoder) throws {
      try common.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(rho, forKey: .rho)
      try c.encode(momentum, forKey: .momentum)
      try c.encode(epsilon, forKey: .epsilon)
      try c.encode(centered, forKey: .centered)
    }
  }
  public static let identifier = "RMSprop"
  public let config: Config

  public init(config: Config) throws {
    try config.common.validate("RMSprop")
    try fraction("RMSprop", "rho", config.rho)
    try fraction("RMSprop", "momentum", config.momentum)
    try positive("RMSprop", "epsilon", config.epsilon)
    self.config = config
    super.init(arguments: config.common)
  }

  /// `RMSprop(learningRate: 0.001)`.
  public convenience init(
    learningRate: Float = 0.001, rho: Float = 0.9, momentum: Float = 0, centered: Bool = false
  ) throws {
    try self.init(
      config: Config(
        common: .init(learningRate: learningRate), rho: rho, momentum: momentum, centered: centered)
    )
  }

  // velocity, momentum, average gradient
  override var slotCount: Int { 3 }

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
public final class Adagrad: BaseOptimizer, Optimizer {
  /// The Keras arguments; a default is written once, in the memberwise `init`.
  public struct Config: KerasConfig, Equatable {
    /// The config with Keras' defaults: what arguments left out take.
    public static let kerasDefaults = Config()
    /// The arguments every optimizer takes (`learning_rate`, clipping, `weight_decay`), flat in Keras' config.
    public var common: OptimizerArguments
    /// Keras' `initial_accumulator_value`.
    public var initialAccumulatorValue: Float
    /// Keras' `epsilon`.
    public var epsilon: Float
    /// The arguments given, Keras' defaults for the others.
    public init(
      common: OptimizerArguments = .init(learningRate: 0.001), initialAccumulatorValue: Float = 0.1,
      epsilon: Float = 1e-7
    ) {
      self.common = common
      self.initialAccumulatorValue = initialAccumulatorValue
      self.epsilon = epsilon
    }
    private enum CodingKeys: String, CodingKey { case initialAccumulatorValue, epsilon }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      self.init(
        common: try OptimizerArguments(from: decoder),
        initialAccumulatorValue: try c.decode(.initialAccumulatorValue),
        epsilon: try c.decode(.epsilon))
    }
    public func encode(to encoder: Encoder) throws {
      try common.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(initialAccumulatorValue, forKey: .initialAccumulatorValue)
      try c.encode(epsilon, forKey: .epsilon)
    }
  }
  public static let identifier = "Adagrad"
  public let config: Config

  public init(config: Config) throws {
    try config.common.validate("Adagrad")
    try positive(
      "Adagrad", "initial_accumulator_value", config.initialAccumulatorValue, allowZero: true)
    try positive("Adagrad", "epsilon", config.epsilon)
    self.config = config
    super.init(arguments: config.common)
  }

  /// `Adagrad(learningRate: 0.01)`.
  public convenience init(learningRate: Float = 0.001, initialAccumulatorValue: Float = 0.1) throws
  {
    try self.init(
      config: Config(
        common: .init(learningRate: learningRate), initialAccumulatorValue: initialAccumulatorValue)
    )
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
public final class Adadelta: BaseOptimizer, Optimizer {
  /// The Keras arguments; a default is written once, in the memberwise `init`.
  public struct Config: KerasConfig, Equatable {
    /// The config with Keras' defaults: what arguments left out take.
    public static let kerasDefaults = Config()
    /// The arguments every optimizer takes (`learning_rate`, clipping, `weight_decay`), flat in Keras' config.
    public var common: OptimizerArguments
    /// Keras' `rho`.
    public var rho: Float
    /// Keras' `epsilon`.
    public var epsilon: Float
    /// The arguments given, Keras' defaults for the others.
    public init(
      common: OptimizerArguments = .init(learningRate: 0.001), rho: Float = 0.95,
      epsilon: Float = 1e-7
    ) {
      self.common = common
      self.rho = rho
      self.epsilon = epsilon
    }
    private enum CodingKeys: String, CodingKey { case rho, epsilon }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      self.init(
        common: try OptimizerArguments(from: decoder), rho: try c.decode(.rho),
        epsilon: try c.decode(.epsilon))
    }
    public func encode(to encoder: Encoder) throws {
      try common.encode(to: encoder)
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(rho, forKey: .rho)
      try c.encode(epsilon, forKey: .epsilon)
    }
  }
  public static let identifier = "Adadelta"
  public let config: Config

  public init(config: Config) throws {
    try config.common.validate("Adadelta")
    try fraction("Adadelta", "rho", config.rho)
    try positive("Adadelta", "epsilon", config.epsilon)
    self.config = config
    super.init(arguments: config.common)
  }

  /// `Adadelta(learningRate: 1.0)`.
  public convenience init(learningRate: Float = 0.001, rho: Float = 0.95) throws {
    try self.init(config: Config(common: .init(learningRate: learningRate), rho: rho))
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
