import StrataCore

/// A 1-D convolution over sequences `(steps, channels)`: `y = activation(conv(x, kernel) + bias)`.
///
/// Keras: `Conv1D(filters, kernel_size, strides=1, padding="valid", dilation_rate=1,
/// activation=None, use_bias=True, …)`, where `padding` is `"valid"`, `"same"` or `"causal"` (zeros
/// only before the sequence, so step `t` sees steps up to `t`: WaveNet's and temporal models').
/// The kernel is `[kernel_size, in, filters]`, as in Keras. Runs as a 2-D convolution of height 1 on
/// the backend's kernels (oneDNN).
public final class Conv1D: OpsLayer, ActivityRegularized {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `filters`.
    public var filters: Int = 0
    /// Keras' `kernel_size`.
    public var kernelSize: IntSingle = 1
    /// Keras' `strides`.
    public var strides: IntSingle = 1
    /// Keras' `padding`: `"valid"`, `"same"` or `"causal"`.
    public var padding: String = "valid"
    /// Keras' `dilation_rate`.
    public var dilationRate: IntSingle = 1
    /// Keras' `groups` (1 only).
    public var groups: Int = 1
    /// Keras' `activation`.
    public var activation: Spec = "linear"
    /// Keras' weight arguments: `use_bias`, the initializers, constraints and regularizers.
    public var weights: WeightArguments = WeightArguments()

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> {
      Set<String>(["filters", "kernel_size"]).union(WeightArguments.requiredArguments)
    }

    enum CodingKeys: String, CodingKey {
      case filters, kernelSize, strides, padding, dilationRate, groups, activation
    }

    /// Decodes the arguments, the flattened weight arguments from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      filters = try container.decode(Int.self, forKey: .filters)
      kernelSize = try container.decode(IntSingle.self, forKey: .kernelSize)
      strides = try container.decode(IntSingle.self, forKey: .strides)
      padding = try container.decode(String.self, forKey: .padding)
      dilationRate = try container.decode(IntSingle.self, forKey: .dilationRate)
      groups = try container.decode(Int.self, forKey: .groups)
      activation = try container.decode(Spec.self, forKey: .activation)
      weights = try WeightArguments(from: decoder)
    }

    /// Encodes the arguments, the weight arguments into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(filters, forKey: .filters)
      try container.encode(kernelSize, forKey: .kernelSize)
      try container.encode(strides, forKey: .strides)
      try container.encode(padding, forKey: .padding)
      try container.encode(dilationRate, forKey: .dilationRate)
      try container.encode(groups, forKey: .groups)
      try container.encode(activation, forKey: .activation)
      try weights.encode(to: encoder)
    }
  }

  /// The registry key: Keras' `Conv1D`.
  public static let identifier = "Conv1D"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let options: WeightOptions
  private var inputShape: [Int] = []
  /// `[kernel_size, in, filters]`; `nil` until built.
  public private(set) var kernel: Parameter?
  /// `[filters]`; `nil` until built or without a bias.
  public private(set) var bias: Parameter?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Conv1D(32, 3, padding: "causal", activation: "relu")`, as in Keras.
  public convenience init(
    _ filters: Int, _ kernelSize: Int, strides: Int = 1, padding: String = "valid",
    dilationRate: Int = 1, activation: Spec = "linear", useBias: Bool = true,
    inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.filters = filters
    config.kernelSize = IntSingle(kernelSize)
    config.strides = IntSingle(strides)
    config.padding = padding
    config.dilationRate = IntSingle(dilationRate)
    config.activation = activation
    config.weights.useBias = useBias
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.filters > 0, owner: "Conv1D", argument: "filters", value: "\(config.filters)",
      expected: "a positive integer")
    try checkArgument(
      config.groups == 1, owner: "Conv1D", argument: "groups", value: "\(config.groups)",
      expected: "1 (grouped 1-D convolutions are not supported)")
    try requirePositive(config.kernelSize, owner: "Conv1D", argument: "kernel_size")
    try requirePositive(config.strides, owner: "Conv1D", argument: "strides")
    try requirePositive(config.dilationRate, owner: "Conv1D", argument: "dilation_rate")
    if config.dilationRate.value > 1 && config.strides.value > 1 {
      throw StrataError.invalidArgument(
        owner: "Conv1D", argument: "strides",
        value: "\(config.strides) with dilation_rate \(config.dilationRate)",
        expected: "strides of 1 when dilation_rate is above 1, as in Keras")
    }
    try checkArgument(
      ["valid", "same", "causal"].contains(config.padding.lowercased()), owner: "Conv1D",
      argument: "padding", value: "'\(config.padding)'", expected: "'valid', 'same' or 'causal'")
    _ = try Registries.shared.activation(config.activation)
    options = try WeightOptions(config.weights)
    self.config = config
    declaredInputShape = inputShape
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }
  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }

  private var causal: Bool { config.padding.lowercased() == "causal" }
  /// Zeros a causal convolution puts before each sequence.
  private var causalPadding: Int {
    causal ? (config.kernelSize.value - 1) * config.dilationRate.value : 0
  }

  /// Creates the weights for sequences `(steps, channels)` and returns the output shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: "Conv1D")
    let g = ConvolutionGeometry(
      batch: 1, height: 1, width: inputShape[0] + causalPadding, channels: inputShape[1],
      filters: config.filters, kernel: (1, config.kernelSize.value),
      strides: (1, config.strides.value), dilation: (1, config.dilationRate.value),
      same: config.padding.lowercased() == "same")
    guard g.outputWidth > 0 else {
      throw StrataError.shapeMismatch(
        layer: "Conv1D", received: kerasShape(inputShape),
        expected:
          "sequences at least as long as the kernel (\(config.kernelSize.value), dilation \(config.dilationRate.value)) with padding '\(config.padding)'"
      )
    }
    self.inputShape = inputShape
    (kernel, bias) = try options.makeWeights(
      kernelShape: [config.kernelSize.value, inputShape[1], config.filters], units: config.filters,
      generator: &generator)
    return [g.outputWidth, config.filters]
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let kernel else { throw StrataError.invalidState("Conv1D: called before build.") }
    try checkInput(x, layer: "Conv1D", expected: inputShape)
    var sequences = x
    if causalPadding > 0 {
      let zeros = Tensor(shape: [x.shape[0], causalPadding, x.shape[2]])
      sequences = try Ops.concatenate([zeros, x], axis: 1)
    }
    let images = try Ops.expandDims(sequences, axis: 1)
    let k = try Ops.expandDims(kernel.value, axis: 0)
    var y = try Ops.conv(
      images, k, strides: IntPair(1, config.strides.value),
      padding: causal ? "valid" : config.padding,
      dilationRate: IntPair(1, config.dilationRate.value))
    y = try Ops.squeeze(y, axis: 1)
    if let bias { y = try y + bias.value }
    return try Ops.activation(config.activation, y)
  }
}

/// What `MaxPooling1D` and `AveragePooling1D` share: windows of `pool_size` steps, `strides` apart.
public struct Pooling1DConfig: Equatable, KerasConfig {
  /// Keras' `pool_size`.
  public var poolSize: IntSingle = 2
  /// Keras' `strides`: `nil` for `pool_size`.
  public var strides: IntSingle?
  /// Keras' `padding`.
  public var padding: String = "valid"

  /// Keras' defaults.
  public init() {}
}

/// The shared body of the 1-D pooling layers: 2-D pooling of height 1.
public class Pooling1D {
  /// The arguments the layer was made with.
  public let config: Pooling1DConfig
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []
  private let name: String

  init(config: Pooling1DConfig, inputShape: [Int]?, name: String) throws {
    try requirePositive(config.poolSize, owner: name, argument: "pool_size")
    if let strides = config.strides {
      try requirePositive(strides, owner: name, argument: "strides")
    }
    _ = try requirePadding(config.padding, owner: name)
    self.config = config
    self.name = name
    declaredInputShape = inputShape
  }

  /// Takes sequences `(steps, channels)`; gives the pooled steps.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: name)
    let g = PoolingGeometry(
      batch: 1, height: 1, width: inputShape[0], channels: inputShape[1],
      pool: (1, config.poolSize.value), strides: (1, (config.strides ?? config.poolSize).value),
      same: config.padding.lowercased() == "same")
    guard g.outputWidth > 0 else {
      throw StrataError.shapeMismatch(
        layer: name, received: kerasShape(inputShape),
        expected: "sequences at least pool_size (\(config.poolSize.value)) long")
    }
    self.inputShape = inputShape
    return [g.outputWidth, inputShape[1]]
  }

  func pool(_ x: Tensor, maximum: Bool) throws -> Tensor {
    try checkInput(x, layer: name, expected: inputShape)
    let images = try Ops.expandDims(x, axis: 1)
    let (size, strides) = (
      IntPair(1, config.poolSize.value), IntPair(1, (config.strides ?? config.poolSize).value)
    )
    let y =
      maximum
      ? try Ops.maxPool(images, poolSize: size, strides: strides, padding: config.padding)
      : try Ops.averagePool(images, poolSize: size, strides: strides, padding: config.padding)
    return try Ops.squeeze(y, axis: 1)
  }
}

/// The largest value of each window of steps. Keras: `MaxPooling1D(pool_size=2, strides=None,
/// padding="valid")`.
public final class MaxPooling1D: Pooling1D, OpsLayer {
  /// The arguments Keras gives this layer.
  public typealias Config = Pooling1DConfig
  /// The registry key: Keras' `MaxPooling1D`.
  public static let identifier = "MaxPooling1D"

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `MaxPooling1D(2)`, as in Keras.
  public convenience init(
    _ poolSize: Int = 2, strides: Int? = nil, padding: String = "valid", inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.poolSize = IntSingle(poolSize)
    config.strides = strides.map { IntSingle($0) }
    config.padding = padding
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try super.init(config: config, inputShape: inputShape, name: "MaxPooling1D")
  }

  /// The pooled batch.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor { try pool(x, maximum: true) }
}

/// The mean of each window of steps, padding excluded. Keras: `AveragePooling1D(pool_size=2,
/// strides=None, padding="valid")`.
public final class AveragePooling1D: Pooling1D, OpsLayer {
  /// The arguments Keras gives this layer.
  public typealias Config = Pooling1DConfig
  /// The registry key: Keras' `AveragePooling1D`.
  public static let identifier = "AveragePooling1D"

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `AveragePooling1D(2)`, as in Keras.
  public convenience init(
    _ poolSize: Int = 2, strides: Int? = nil, padding: String = "valid", inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.poolSize = IntSingle(poolSize)
    config.strides = strides.map { IntSingle($0) }
    config.padding = padding
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try super.init(config: config, inputShape: inputShape, name: "AveragePooling1D")
  }

  /// The pooled batch.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor { try pool(x, maximum: false) }
}

/// The arguments of Keras' global 1-D pooling layers.
public struct GlobalPooling1DConfig: Equatable, KerasConfig {
  /// Keras' `keepdims`: keep the steps axis (of size 1).
  public var keepdims: Bool = false

  /// Keras' defaults.
  public init() {}
}

/// The shared body of the global 1-D pooling layers: a reduction over the steps.
public class GlobalPooling1D {
  /// The arguments the layer was made with.
  public let config: GlobalPooling1DConfig
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []
  private let name: String

  init(config: GlobalPooling1DConfig, inputShape: [Int]?, name: String) {
    self.config = config
    self.name = name
    declaredInputShape = inputShape
  }

  /// Takes sequences `(steps, channels)`; gives `(channels)` (or `(1, channels)` with `keepdims`).
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: name)
    self.inputShape = inputShape
    return config.keepdims ? [1, inputShape[1]] : [inputShape[1]]
  }

  func reduce(_ x: Tensor, maximum: Bool) throws -> Tensor {
    try checkInput(x, layer: name, expected: inputShape)
    return maximum
      ? try Ops.max(x, axis: 1, keepDims: config.keepdims)
      : try Ops.mean(x, axis: 1, keepDims: config.keepdims)
  }
}

/// The largest value of each channel over the steps. Keras: `GlobalMaxPooling1D(keepdims=False)`.
public final class GlobalMaxPooling1D: GlobalPooling1D, OpsLayer {
  /// The arguments Keras gives this layer.
  public typealias Config = GlobalPooling1DConfig
  /// The registry key: Keras' `GlobalMaxPooling1D`.
  public static let identifier = "GlobalMaxPooling1D"

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `GlobalMaxPooling1D()`, as in Keras.
  public convenience init(keepdims: Bool = false, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.keepdims = keepdims
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    super.init(config: config, inputShape: inputShape, name: "GlobalMaxPooling1D")
  }

  /// The maxima over the steps.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor { try reduce(x, maximum: true) }
}

/// The mean of each channel over the steps; with a mask, over the unmasked steps only. Keras:
/// `GlobalAveragePooling1D(keepdims=False)`.
public final class GlobalAveragePooling1D: GlobalPooling1D, OpsLayer, MaskReadingLayer {
  /// The mask of the next call's input: masked steps are left out of the mean.
  public var inputMask: Tensor?
  /// The arguments Keras gives this layer.
  public typealias Config = GlobalPooling1DConfig
  /// The registry key: Keras' `GlobalAveragePooling1D`.
  public static let identifier = "GlobalAveragePooling1D"

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `GlobalAveragePooling1D()`, as in Keras.
  public convenience init(keepdims: Bool = false, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.keepdims = keepdims
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    super.init(config: config, inputShape: inputShape, name: "GlobalAveragePooling1D")
  }

  /// The means over the (unmasked) steps.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let inputMask else { return try reduce(x, maximum: false) }
    let weights = try Ops.expandDims(Ops.stopGradient(inputMask), axis: 2)
    return try Ops.sum(x * weights, axis: 1, keepDims: config.keepdims)
      / Ops.sum(weights, axis: 1, keepDims: config.keepdims)
  }
}
