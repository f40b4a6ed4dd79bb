import StrataCore

/// Repeats each step `size` times. Keras: `UpSampling1D(size=2)`.
public final class UpSampling1D: OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `size`: the repetitions of each step.
    public var size: Int = 2

    /// Keras' defaults.
    public init() {}
  }
  /// The registry key: Keras' `UpSampling1D`.
  public static let identifier = "UpSampling1D"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `UpSampling1D(size: 2)`, as in Keras.
  public convenience init(size: Int = 2, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.size = size
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try requirePositive(IntSingle(config.size), owner: "UpSampling1D", argument: "size")
    self.config = config
    declaredInputShape = inputShape
  }

  /// Takes sequences `(steps, channels)`; gives `(steps · size, channels)`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: "UpSampling1D")
    guard inputShape[0] <= maximumWindowExtent / config.size else {
      throw StrataError.shapeMismatch(
        layer: "UpSampling1D", received: kerasShape(inputShape),
        expected: "sequences of at most \(maximumWindowExtent) steps once upsampled")
    }
    self.inputShape = inputShape
    return [inputShape[0] * config.size, inputShape[1]]
  }

  /// Each step broadcast `size` times.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "UpSampling1D", expected: inputShape)
    let (batch, steps, channels) = (x.shape[0], x.shape[1], x.shape[2])
    let repeated = try Ops.broadcastTo(
      Ops.expandDims(x, axis: 2), [batch, steps, config.size, channels])
    return try Ops.reshape(repeated, [batch, steps * config.size, channels])
  }
}

/// Steps added (zeros) or removed at each end of sequences: what `ZeroPadding1D` and `Cropping1D`
/// share. Keras takes one integer for both ends or a pair `(start, end)`, and saves the pair.
public struct SequenceMargins: Codable, Sendable, Hashable, CustomStringConvertible,
  ExpressibleByIntegerLiteral
{
  /// Steps at the start and at the end.
  public var start: Int, end: Int

  /// `start` and `end` steps.
  public init(start: Int, end: Int) { (self.start, self.end) = (start, end) }
  /// `value` steps at each end.
  public init(integerLiteral value: Int) { self.init(start: value, end: value) }

  /// Decodes an integer or a pair.
  public init(from decoder: Decoder) throws {
    let pair = try IntPair(from: decoder)
    self.init(start: pair.height, end: pair.width)
  }

  /// Encodes the pair, as Keras saves it.
  public func encode(to encoder: Encoder) throws {
    try IntPair(start, end).encode(to: encoder)
  }

  /// As Keras prints it.
  public var description: String { "(\(start), \(end))" }
}

/// What `ZeroPadding1D` and `Cropping1D` share: margins checked when made, sequences taken when
/// built, the steps they add or remove.
public class SequenceMarginLayer {
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  let margins: SequenceMargins
  private let name: String
  /// Steps added (`1`) or removed (`-1`) by each margin.
  private let sign: Int
  var inputShape: [Int] = []

  init(margins: SequenceMargins, argument: String, sign: Int, inputShape: [Int]?, name: String)
    throws
  {
    try checkArgument(
      (0...maximumWindowExtent).contains(margins.start)
        && (0...maximumWindowExtent).contains(margins.end),
      owner: name, argument: argument, value: "\(margins)",
      expected: "sizes from 0 to \(maximumWindowExtent)")
    (self.margins, self.sign, self.name) = (margins, sign, name)
    declaredInputShape = inputShape
  }

  /// The steps of the output for the built input.
  var outputSteps: Int { inputShape[0] + sign * (margins.start + margins.end) }

  /// Takes sequences `(steps, channels)`; gives them longer or shorter by the margins.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: name)
    self.inputShape = inputShape
    guard outputSteps > 0 else {
      throw StrataError.shapeMismatch(
        layer: name, received: kerasShape(inputShape),
        expected: "sequences longer than the cropping \(margins)")
    }
    return [outputSteps, inputShape[1]]
  }
}

/// Adds zero steps at the start and end of sequences. Keras: `ZeroPadding1D(padding=1)`.
public final class ZeroPadding1D: SequenceMarginLayer, OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `padding`: steps at the start and at the end.
    public var padding: SequenceMargins = 1

    /// Keras' defaults.
    public init() {}
  }
  /// The registry key: Keras' `ZeroPadding1D`.
  public static let identifier = "ZeroPadding1D"
  /// The arguments the layer was made with.
  public let config: Config

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `ZeroPadding1D(padding: SequenceMargins(start: 2, end: 0))`, as Keras' `ZeroPadding1D((2, 0))`.
  public convenience init(padding: SequenceMargins = 1, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.padding = padding
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    self.config = config
    try super.init(
      margins: config.padding, argument: "padding", sign: 1, inputShape: inputShape,
      name: "ZeroPadding1D")
  }

  /// The batch between zeros.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "ZeroPadding1D", expected: inputShape)
    var parts = [x]
    if margins.start > 0 {
      parts.insert(Tensor(shape: [x.shape[0], margins.start, x.shape[2]]), at: 0)
    }
    if margins.end > 0 { parts.append(Tensor(shape: [x.shape[0], margins.end, x.shape[2]])) }
    return parts.count == 1 ? x : try Ops.concatenate(parts, axis: 1)
  }
}

/// Removes steps at the start and end of sequences. Keras: `Cropping1D(cropping=(1, 1))`.
public final class Cropping1D: SequenceMarginLayer, OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `cropping`: steps removed at the start and at the end.
    public var cropping: SequenceMargins = 1

    /// Keras' defaults.
    public init() {}
  }
  /// The registry key: Keras' `Cropping1D`.
  public static let identifier = "Cropping1D"
  /// The arguments the layer was made with.
  public let config: Config

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Cropping1D(cropping: SequenceMargins(start: 1, end: 2))`, as Keras' `Cropping1D((1, 2))`.
  public convenience init(cropping: SequenceMargins = 1, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.cropping = cropping
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    self.config = config
    try super.init(
      margins: config.cropping, argument: "cropping", sign: -1, inputShape: inputShape,
      name: "Cropping1D")
  }

  /// The steps kept.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "Cropping1D", expected: inputShape)
    return try Ops.slice(
      x, start: [0, margins.start, 0], shape: [x.shape[0], outputSteps, x.shape[2]])
  }
}
