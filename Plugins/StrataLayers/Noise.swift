import StrataCore

/// What the Gaussian noise layers share: a generator split from the model's when built (or seeded),
/// draws for every row of a distributed global batch, and the last call's noise kept for `backward`.
public class GaussianNoiseBase: ShapePreservingLayer {
  private var generator = SeededGenerator(seed: 0)
  private let seeded: Bool
  /// The noise the last training call drew (added or multiplied); empty in inference.
  var noise = Tensor(shape: [0])
  var output = Tensor(shape: [0])
  var inputGradient = Tensor(shape: [0])

  init(seed: UInt64?) {
    seeded = seed != nil
    if let seed { generator = SeededGenerator(seed: seed) }
  }

  /// The state of the noise generator (saved with the model).
  public var generatorState: [UInt64] {
    get { generator.state }
    set { generator.state = newValue }
  }

  /// Splits the generator's stream from the model's (without a seed) and keeps the shape.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let stream = generator.split()
    if !seeded { self.generator = stream }
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  /// Fills ``noise`` for `x` with normal draws of `mean` and `deviation`, skipping the other
  /// processes' rows in a distributed step.
  func drawNoise(like x: Tensor, mean: Float, deviation: Float, in context: Context) {
    noise.reuse(shape: x.shape)
    let rows = x.shape.first ?? 0
    let (before, after) = context.otherRowsDraws(rows: rows, perRow: rows == 0 ? 0 : x.count / rows)
    for _ in 0..<before { _ = generator.nextNormal() }
    noise.withUnsafeMutableBufferPointer { n in
      for i in n.indices { n[i] = mean + deviation * Float(generator.nextNormal()) }
    }
    for _ in 0..<after { _ = generator.nextNormal() }
  }

  /// The last call's noise, for a layer applied several times in a step.
  public func saveCallState() -> Any { noise }
  /// Puts back a call's noise.
  public func restoreCallState(_ state: Any) throws {
    guard let noise = state as? Tensor else {
      throw StrataError.invalidState("\(type(of: self)): a call state that is not its own")
    }
    self.noise = noise
  }
}

/// Adds zero-centred Gaussian noise of `stddev` to its input in training (a regularizer, and a way
/// to augment real-valued inputs); the identity at inference.
///
/// Keras: `GaussianNoise(stddev, seed=None)`, `stddev` from 0 to 1.
public final class GaussianNoise: GaussianNoiseBase, RandomizedLayer, PerCallState {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `stddev`: the noise's standard deviation.
    public var stddev: Float = 0
    /// Keras' `seed`.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["stddev"]
  }
  /// The registry key: Keras' `GaussianNoise`.
  public static let identifier = "GaussianNoise"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `GaussianNoise(0.1)`, as in Keras.
  public convenience init(_ stddev: Float, seed: UInt64? = nil, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.stddev = stddev
    config.seed = seed
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      (0...1).contains(config.stddev), owner: "GaussianNoise", argument: "stddev",
      value: "\(config.stddev)", expected: "a number from 0 to 1, as in Keras")
    self.config = config
    declaredInputShape = inputShape
    super.init(seed: config.seed)
  }

  /// `x + noise` in training, `x` otherwise.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "GaussianNoise")
    guard context.behavesAsTraining, config.stddev > 0 else { return x }
    drawNoise(like: x, mean: 0, deviation: config.stddev, in: context)
    output.reuse(shape: x.shape, in: context)
    x.withUnsafeBufferPointer { xs in
      noise.withUnsafeBufferPointer { n in
        output.withUnsafeMutableBufferPointer { y in
          for i in y.indices { y[i] = xs[i] + n[i] }
        }
      }
    }
    return output.handOut(in: context)
  }

  /// The gradient passes through unchanged: the noise does not depend on the input.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    outputGradient
  }
}

/// Multiplies its input by Gaussian noise of mean 1 and standard deviation `sqrt(rate / (1 -
/// rate))` in training; the identity at inference.
///
/// Keras: `GaussianDropout(rate, seed=None)`, `rate` in [0, 1).
public final class GaussianDropout: GaussianNoiseBase, RandomizedLayer, PerCallState {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `rate`: as `Dropout`'s, the noise's variance is `rate / (1 - rate)`.
    public var rate: Float = 0
    /// Keras' `seed`.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["rate"]
  }
  /// The registry key: Keras' `GaussianDropout`.
  public static let identifier = "GaussianDropout"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `GaussianDropout(0.2)`, as in Keras.
  public convenience init(_ rate: Float, seed: UInt64? = nil, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.rate = rate
    config.seed = seed
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.rate >= 0 && config.rate < 1, owner: "GaussianDropout", argument: "rate",
      value: "\(config.rate)", expected: "a number in [0, 1)")
    self.config = config
    declaredInputShape = inputShape
    super.init(seed: config.seed)
  }

  /// `x · noise` in training, `x` otherwise.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "GaussianDropout")
    guard context.behavesAsTraining, config.rate > 0 else {
      noise.reuse(shape: [0])
      return x
    }
    drawNoise(
      like: x, mean: 1, deviation: (config.rate / (1 - config.rate)).squareRoot(), in: context)
    output.reuse(shape: x.shape, in: context)
    x.withUnsafeBufferPointer { xs in
      noise.withUnsafeBufferPointer { n in
        output.withUnsafeMutableBufferPointer { context.kernels.multiply(xs, n, into: $0) }
      }
    }
    return output.handOut(in: context)
  }

  /// The gradient times the call's noise.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard noise.count > 0 else { return outputGradient }
    guard outputGradient.shape == noise.shape else {
      throw StrataError.shapeMismatch(
        layer: "GaussianDropout (backward)",
        received: kerasShape(outputGradient.shape, batch: false),
        expected: kerasShape(noise.shape, batch: false))
    }
    inputGradient.reuse(shape: outputGradient.shape)
    outputGradient.withUnsafeBufferPointer { dy in
      noise.withUnsafeBufferPointer { n in
        inputGradient.withUnsafeMutableBufferPointer { context.kernels.multiply(dy, n, into: $0) }
      }
    }
    return inputGradient
  }
}

/// The arguments of Keras' `SpatialDropout1D` and `SpatialDropout2D`.
public struct SpatialDropoutConfig: Equatable, KerasConfig {
  /// Keras' `rate`: the fraction of channels dropped.
  public var rate: Float = 0
  /// Keras' `seed`.
  public var seed: UInt64?

  /// Keras' defaults.
  public init() {}

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["rate"]
}

/// Dropout of whole channels: one draw per sample and channel, repeated over the other axes. A
/// `Dropout` with the noise shape Keras gives these layers.
public class SpatialDropout {
  /// The arguments the layer was made with.
  public let config: SpatialDropoutConfig
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  let dropout: Dropout
  private let rank: Int

  init(config: SpatialDropoutConfig, inputShape: [Int]?, rank: Int) throws {
    let name = "SpatialDropout\(rank - 2)D"
    try checkArgument(
      config.rate >= 0 && config.rate < 1, owner: name, argument: "rate",
      value: "\(config.rate)", expected: "a number in [0, 1)")
    var inner = Dropout.Config(rate: config.rate, seed: config.seed)
    inner.noiseShape = [nil] + Array(repeating: 1, count: rank - 2) + [nil]
    dropout = try Dropout(config: inner, inputShape: inputShape)
    self.config = config
    self.rank = rank
    declaredInputShape = inputShape
  }

  /// The state of the mask generator (saved with the model).
  public var generatorState: [UInt64] {
    get { dropout.generatorState }
    set { dropout.generatorState = newValue }
  }

  /// Takes `rank - 1` axes (steps and channels, or rows, columns and channels).
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape.count == rank - 1 else {
      throw StrataError.shapeMismatch(
        layer: "SpatialDropout\(rank - 2)D", received: kerasShape(inputShape),
        expected: rank == 3 ? "sequences (steps, channels)" : "images (height, width, channels)")
    }
    return try dropout.build(inputShape: inputShape, generator: &generator)
  }

  /// Drops whole channels in training.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try dropout.forward(x, in: context)
  }

  /// The gradient through the same mask.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try dropout.backward(outputGradient, in: context)
  }

  /// The last call's mask.
  public func saveCallState() -> Any { dropout.saveCallState() }
  /// Puts back a call's mask.
  public func restoreCallState(_ state: Any) throws { try dropout.restoreCallState(state) }
}

/// Drops whole feature channels of sequences `(steps, channels)` in training. Keras:
/// `SpatialDropout1D(rate, seed=None)`.
public final class SpatialDropout1D: SpatialDropout, RandomizedLayer, PerCallState,
  KerasTakesNoTrainable
{
  /// The registry key: Keras' `SpatialDropout1D`.
  public static let identifier = "SpatialDropout1D"
  /// The arguments Keras gives this layer.
  public typealias Config = SpatialDropoutConfig

  /// A layer from a config.
  public convenience init(config: SpatialDropoutConfig) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `SpatialDropout1D(0.2)`, as in Keras.
  public convenience init(_ rate: Float, seed: UInt64? = nil, inputShape: [Int]? = nil) throws {
    var config = SpatialDropoutConfig()
    config.rate = rate
    config.seed = seed
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: SpatialDropoutConfig, inputShape: [Int]?) throws {
    try super.init(config: config, inputShape: inputShape, rank: 3)
  }
}

/// Drops whole feature maps (channels) of images in training: one draw per image and channel.
/// Keras: `SpatialDropout2D(rate, seed=None)`.
public final class SpatialDropout2D: SpatialDropout, RandomizedLayer, PerCallState,
  KerasTakesNoTrainable
{
  /// The registry key: Keras' `SpatialDropout2D`.
  public static let identifier = "SpatialDropout2D"
  /// The arguments Keras gives this layer.
  public typealias Config = SpatialDropoutConfig

  /// A layer from a config.
  public convenience init(config: SpatialDropoutConfig) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `SpatialDropout2D(0.2)`, as in Keras.
  public convenience init(_ rate: Float, seed: UInt64? = nil, inputShape: [Int]? = nil) throws {
    var config = SpatialDropoutConfig()
    config.rate = rate
    config.seed = seed
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: SpatialDropoutConfig, inputShape: [Int]?) throws {
    try super.init(config: config, inputShape: inputShape, rank: 4)
  }
}
