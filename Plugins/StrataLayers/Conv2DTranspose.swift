import StrataCore

/// A transposed 2-D convolution ("deconvolution"): each input pixel spreads over a window of the
/// output, `strides` apart, so `strides: 2` doubles the image's size: the decoder half of
/// autoencoders and U-Nets.
///
/// Keras: `Conv2DTranspose(filters, kernel_size, strides=(1, 1), padding="valid",
/// output_padding=None, dilation_rate=(1, 1), activation=None, use_bias=True, …)`. The kernel is
/// `[kh, kw, filters, in]`, as in Keras; the output is `(h - 1) · stride + kernel` for `"valid"`
/// and `h · stride` for `"same"`. Written forward-only on
/// ``StrataCore/Ops/convTranspose(_:_:strides:padding:outputPadding:dilationRate:)``, which runs
/// on the backend's convolution kernels (oneDNN).
public final class Conv2DTranspose: OpsLayer, ActivityRegularized {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `filters`: output channels.
    public var filters: Int = 0
    /// Keras' `kernel_size`.
    public var kernelSize: IntPair = 1
    /// Keras' `strides`.
    public var strides: IntPair = 1
    /// Keras' `padding`.
    public var padding: String = "valid"
    /// Keras' `output_padding`: rows and columns added at the bottom and right, below the stride;
    /// `nil` for the size the padding gives.
    public var outputPadding: IntPair?
    /// Keras' `dilation_rate`.
    public var dilationRate: IntPair = 1
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
      case filters, kernelSize, strides, padding, outputPadding, dilationRate, activation
    }

    /// Decodes the arguments, the flattened weight arguments from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      filters = try container.decode(Int.self, forKey: .filters)
      kernelSize = try container.decode(IntPair.self, forKey: .kernelSize)
      strides = try container.decode(IntPair.self, forKey: .strides)
      padding = try container.decode(String.self, forKey: .padding)
      outputPadding = try container.decodeIfPresent(IntPair.self, forKey: .outputPadding)
      dilationRate = try container.decode(IntPair.self, forKey: .dilationRate)
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
      try container.encode(outputPadding, forKey: .outputPadding)
      try container.encode(dilationRate, forKey: .dilationRate)
      try container.encode(activation, forKey: .activation)
      try weights.encode(to: encoder)
    }
  }

  /// The registry key: Keras' `Conv2DTranspose`.
  public static let identifier = "Conv2DTranspose"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let options: WeightOptions
  private var inputShape: [Int] = []
  /// `[kh, kw, filters, in]`; `nil` until built.
  public private(set) var kernel: Parameter?
  /// `[filters]`; `nil` until built or without a bias.
  public private(set) var bias: Parameter?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Conv2DTranspose(32, 3, strides: 2, padding: "same")`, as Keras' `Conv2DTranspose(32, 3,
  /// strides=2, padding="same")`.
  public convenience init(
    _ filters: Int, _ kernelSize: IntPair, strides: IntPair = 1, padding: String = "valid",
    outputPadding: IntPair? = nil, dilationRate: IntPair = 1, activation: Spec = "linear",
    useBias: Bool = true, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.filters = filters
    config.kernelSize = kernelSize
    config.strides = strides
    config.padding = padding
    config.outputPadding = outputPadding
    config.dilationRate = dilationRate
    config.activation = activation
    config.weights.useBias = useBias
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    let name = "Conv2DTranspose"
    try checkArgument(
      config.filters > 0, owner: name, argument: "filters", value: "\(config.filters)",
      expected: "a positive integer")
    try requirePositive(config.kernelSize, owner: name, argument: "kernel_size")
    try requirePositive(config.strides, owner: name, argument: "strides")
    try requirePositive(config.dilationRate, owner: name, argument: "dilation_rate")
    if let padding = config.outputPadding {
      try checkArgument(
        (0..<config.strides.height).contains(padding.height)
          && (0..<config.strides.width).contains(padding.width),
        owner: name, argument: "output_padding", value: "\(padding)",
        expected: "sizes from 0 to below the strides \(config.strides)")
    }
    if config.dilationRate != 1 && config.strides != 1 {
      throw StrataError.invalidArgument(
        owner: name, argument: "strides",
        value: "\(config.strides) with dilation_rate \(config.dilationRate)",
        expected: "strides of 1 when dilation_rate is above 1, as in Keras")
    }
    _ = try requirePadding(config.padding, owner: name)
    _ = try Registries.shared.activation(config.activation)
    options = try WeightOptions(config.weights)
    self.config = config
    declaredInputShape = inputShape
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }
  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }

  /// Creates the weights for `inputShape` and returns the output shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: "Conv2DTranspose")
    let same = config.padding.lowercased() == "same"
    let side = { (length: Int, kernel: Int, stride: Int, dilation: Int, padding: Int?) in
      try Ops.transposedLength(
        length, kernel: kernel, stride: stride, dilation: dilation, same: same,
        outputPadding: padding)
    }
    let height = try side(
      inputShape[0], config.kernelSize.height, config.strides.height, config.dilationRate.height,
      config.outputPadding?.height)
    let width = try side(
      inputShape[1], config.kernelSize.width, config.strides.width, config.dilationRate.width,
      config.outputPadding?.width)
    let g = ConvolutionGeometry(
      batch: 1, height: height, width: width, channels: config.filters, filters: inputShape[2],
      kernel: config.kernelSize.tuple, strides: config.strides.tuple,
      dilation: config.dilationRate.tuple, same: same)
    guard height > 0, width > 0, g.outputHeight == inputShape[0], g.outputWidth == inputShape[1]
    else {
      throw StrataError.shapeMismatch(
        layer: "Conv2DTranspose", received: kerasShape(inputShape),
        expected:
          "images a '\(config.padding)' convolution of kernel \(config.kernelSize) and strides \(config.strides) can invert (output_padding \(config.outputPadding.map { "\($0)" } ?? "None"))"
      )
    }
    self.inputShape = inputShape
    (kernel, bias) = try options.makeWeights(
      kernelShape: [
        config.kernelSize.height, config.kernelSize.width, config.filters, inputShape[2],
      ], units: config.filters, generator: &generator)
    return [height, width, config.filters]
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let kernel else {
      throw StrataError.invalidState("Conv2DTranspose: called before build.")
    }
    try checkInput(x, layer: "Conv2DTranspose", expected: inputShape)
    var y = try Ops.convTranspose(
      x, kernel.value, strides: config.strides, padding: config.padding,
      outputPadding: config.outputPadding, dilationRate: config.dilationRate)
    if let bias { y = try y + bias.value }
    return try Ops.activation(config.activation, y)
  }
}
