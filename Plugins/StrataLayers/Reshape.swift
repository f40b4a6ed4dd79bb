import StrataCore

/// Gives each sample a new shape of the same size; one axis may be `-1` (inferred). No copy is made.
///
/// Keras: `Reshape(target_shape)`.
public final class Reshape: Layer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `target_shape`.
    public var targetShape: [Int] = []

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(targetShape: [Int]) {
      self.targetShape = targetShape
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["target_shape"]
  }
  public static let identifier = "Reshape"
  public let config: Config
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []
  private var outputShape: [Int] = []

  public convenience init(config: Config) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `Reshape([7, 7, 16])`.
  public convenience init(_ targetShape: [Int], inputShape: [Int]? = nil) throws {
    try self.init(config: Config(targetShape: targetShape), inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    guard config.targetShape.allSatisfy({ $0 > 0 || $0 == -1 }),
      config.targetShape.filter({ $0 == -1 }).count <= 1
    else {
      throw StrataError.invalidArgument(
        owner: "Reshape", argument: "target_shape", value: "\(config.targetShape)",
        expected: "positive sizes and at most one -1")
    }
    self.config = config
    declaredInputShape = inputShape
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let size = inputShape.reduce(1, *)
    let known = config.targetShape.filter { $0 != -1 }.reduce(1, *)
    var shape = config.targetShape
    if let unknown = shape.firstIndex(of: -1), known > 0, size % known == 0 {
      shape[unknown] = size / known
    }
    guard shape.reduce(1, *) == size, !shape.contains(-1) else {
      throw StrataError.shapeMismatch(
        layer: "Reshape", received: kerasShape(inputShape),
        expected:
          "an input of the same size as the target shape \(kerasShape(config.targetShape, batch: false))"
      )
    }
    self.inputShape = inputShape
    outputShape = shape
    return shape
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "Reshape", expected: inputShape)
    return try x.reshaped(to: [x.shape[0]] + outputShape)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try outputGradient.reshaped(to: [outputGradient.shape[0]] + inputShape)
  }
}

/// Reorders the axes of each sample (the batch axis stays first). Keras: `Permute(dims)`, where
/// `dims` numbers the axes from 1: `Permute((2, 1))` swaps the steps and features of sequences.
public final class Permute: OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `dims`: a permutation of `1…rank`.
    public var dims: [Int] = []

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["dims"]
  }
  /// The registry key: Keras' `Permute`.
  public static let identifier = "Permute"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Permute([2, 1])`, as Keras' `Permute((2, 1))`.
  public convenience init(_ dims: [Int], inputShape: [Int]? = nil) throws {
    var config = Config()
    config.dims = dims
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.dims.sorted() == Array(1...Swift.max(config.dims.count, 1))
        && !config.dims.isEmpty,
      owner: "Permute", argument: "dims", value: "\(config.dims)",
      expected: "each of the axes 1…\(Swift.max(config.dims.count, 1)) once")
    self.config = config
    declaredInputShape = inputShape
  }

  /// The input's axes in the order `dims` gives.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape.count == config.dims.count else {
      throw StrataError.shapeMismatch(
        layer: "Permute", received: kerasShape(inputShape),
        expected: "samples of \(config.dims.count) axes, as dims \(config.dims) has")
    }
    self.inputShape = inputShape
    return config.dims.map { inputShape[$0 - 1] }
  }

  /// The transposed batch.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "Permute", expected: inputShape)
    return try Ops.transpose(x, axes: [0] + config.dims)
  }
}

/// Repeats each sample's feature vector `n` times: `(features)` becomes `(n, features)`, the bridge
/// from an encoder's summary to a decoder's steps. Keras: `RepeatVector(n)`.
public final class RepeatVector: OpsLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `n`: the number of repetitions.
    public var n: Int = 0

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["n"]
  }
  /// The registry key: Keras' `RepeatVector`.
  public static let identifier = "RepeatVector"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `RepeatVector(3)`, as in Keras.
  public convenience init(_ n: Int, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.n = n
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.n > 0 && config.n <= maximumWindowExtent, owner: "RepeatVector", argument: "n",
      value: "\(config.n)", expected: "a positive integer")
    self.config = config
    declaredInputShape = inputShape
  }

  /// Takes vectors `(features)`; gives `(n, features)`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape.count == 1 else {
      throw StrataError.shapeMismatch(
        layer: "RepeatVector", received: kerasShape(inputShape), expected: "vectors (features)")
    }
    self.inputShape = inputShape
    return [config.n, inputShape[0]]
  }

  /// The batch broadcast along a new axis of `n` steps.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "RepeatVector", expected: inputShape)
    return try Ops.broadcastTo(
      Ops.expandDims(x, axis: 1), [x.shape[0], config.n, inputShape[0]])
  }
}
