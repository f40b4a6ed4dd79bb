import StrataCore

/// A depthwise separable 2-D convolution: a depthwise convolution (each input channel with
/// `depthMultiplier` kernels of its own), then a 1×1 pointwise convolution that mixes the channels
/// into `filters`, then the bias and the activation: Xception's and NASNet's building block.
///
/// Keras: `SeparableConv2D(filters, kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
/// dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
/// pointwise_initializer="glorot_uniform", bias_initializer="zeros")`. The weights, in Keras' order:
/// the depthwise kernel `[kh, kw, in, depthMultiplier]`, the pointwise kernel
/// `[1, 1, in · depthMultiplier, filters]` and the bias `[filters]`. Strides, padding and dilation
/// apply to the depthwise step. Written forward-only on ``StrataCore/Ops``.
public final class SeparableConv2D: OpsLayer, ActivityRegularized {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `filters`: the output channels.
    public var filters: Int = 0
    /// Keras' `kernel_size`.
    public var kernelSize: IntPair = 1
    /// Keras' `strides`.
    public var strides: IntPair = 1
    /// Keras' `padding`.
    public var padding: String = "valid"
    /// Keras' `depth_multiplier`: depthwise output channels per input channel.
    public var depthMultiplier: Int = 1
    /// Keras' `dilation_rate`.
    public var dilationRate: IntPair = 1
    /// Keras' `activation`.
    public var activation: Spec = "linear"
    /// Keras' `use_bias`.
    public var useBias: Bool = true
    /// Keras' `depthwise_initializer`.
    public var depthwiseInitializer: Spec = "glorot_uniform"
    /// Keras' `pointwise_initializer`.
    public var pointwiseInitializer: Spec = "glorot_uniform"
    /// Keras' `bias_initializer`.
    public var biasInitializer: Spec = "zeros"
    /// Keras' `depthwise_regularizer`.
    public var depthwiseRegularizer: Spec?
    /// Keras' `pointwise_regularizer`.
    public var pointwiseRegularizer: Spec?
    /// Keras' `bias_regularizer`.
    public var biasRegularizer: Spec?
    /// Keras' `activity_regularizer`.
    public var activityRegularizer: Spec?
    /// Keras' `depthwise_constraint`.
    public var depthwiseConstraint: Spec?
    /// Keras' `pointwise_constraint`.
    public var pointwiseConstraint: Spec?
    /// Keras' `bias_constraint`.
    public var biasConstraint: Spec?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["filters", "kernel_size"]
  }

  /// The registry key: Keras' `SeparableConv2D`.
  public static let identifier = "SeparableConv2D"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let depthwiseOptions: WeightOptions
  private let pointwiseOptions: WeightOptions
  private var inputShape: [Int] = []
  /// `[kh, kw, in, depthMultiplier]`; `nil` until built.
  public private(set) var depthwiseKernel: Parameter?
  /// `[1, 1, in · depthMultiplier, filters]`; `nil` until built.
  public private(set) var pointwiseKernel: Parameter?
  /// `[filters]`; `nil` until built or without a bias.
  public private(set) var bias: Parameter?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `SeparableConv2D(64, 3, padding: "same")`, as Keras' `SeparableConv2D(64, 3, padding="same")`.
  public convenience init(
    _ filters: Int, _ kernelSize: IntPair, strides: IntPair = 1, padding: String = "valid",
    depthMultiplier: Int = 1, dilationRate: IntPair = 1, activation: Spec = "linear",
    useBias: Bool = true, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.filters = filters
    config.kernelSize = kernelSize
    config.strides = strides
    config.padding = padding
    config.depthMultiplier = depthMultiplier
    config.dilationRate = dilationRate
    config.activation = activation
    config.useBias = useBias
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    let owner = Self.identifier
    try checkArgument(
      config.filters > 0, owner: owner, argument: "filters", value: "\(config.filters)",
      expected: "a positive integer")
    try checkArgument(
      config.depthMultiplier > 0, owner: owner, argument: "depth_multiplier",
      value: "\(config.depthMultiplier)", expected: "a positive integer")
    try requirePositive(config.kernelSize, owner: owner, argument: "kernel_size")
    try requirePositive(config.strides, owner: owner, argument: "strides")
    try requirePositive(config.dilationRate, owner: owner, argument: "dilation_rate")
    _ = try requirePadding(config.padding, owner: owner)
    _ = try Registries.shared.activation(config.activation)
    depthwiseOptions = try WeightOptions(
      WeightArguments(
        useBias: false, kernelInitializer: config.depthwiseInitializer,
        kernelConstraint: config.depthwiseConstraint,
        kernelRegularizer: config.depthwiseRegularizer))
    pointwiseOptions = try WeightOptions(
      WeightArguments(
        useBias: config.useBias, kernelInitializer: config.pointwiseInitializer,
        biasInitializer: config.biasInitializer, kernelConstraint: config.pointwiseConstraint,
        biasConstraint: config.biasConstraint, kernelRegularizer: config.pointwiseRegularizer,
        biasRegularizer: config.biasRegularizer, activityRegularizer: config.activityRegularizer))
    self.config = config
    declaredInputShape = inputShape
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] {
    [depthwiseKernel, pointwiseKernel, bias].compactMap { $0 }
  }
  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { pointwiseOptions.activityRegularizer }

  /// Creates the weights for `inputShape` and returns the output shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: Self.identifier)
    let channels = inputShape[2] * config.depthMultiplier
    let g = ConvolutionGeometry(
      batch: 1, height: inputShape[0], width: inputShape[1], channels: inputShape[2],
      filters: channels, kernel: config.kernelSize.tuple, strides: config.strides.tuple,
      dilation: config.dilationRate.tuple, same: config.padding.lowercased() == "same")
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      throw StrataError.shapeMismatch(
        layer: Self.identifier, received: kerasShape(inputShape),
        expected:
          "images at least as large as the kernel (\(config.kernelSize), dilation \(config.dilationRate)) with padding '\(config.padding)'"
      )
    }
    self.inputShape = inputShape
    let (depthwise, _) = try depthwiseOptions.makeWeights(
      kernelShape: [
        config.kernelSize.height, config.kernelSize.width, inputShape[2], config.depthMultiplier,
      ], units: channels, kernelName: "depthwise_kernel", generator: &generator)
    let (pointwise, bias) = try pointwiseOptions.makeWeights(
      kernelShape: [1, 1, channels, config.filters], units: config.filters,
      kernelName: "pointwise_kernel", generator: &generator)
    (depthwiseKernel, pointwiseKernel, self.bias) = (depthwise, pointwise, bias)
    return [g.outputHeight, g.outputWidth, config.filters]
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let depthwiseKernel, let pointwiseKernel else {
      throw StrataError.invalidState("SeparableConv2D: called before build.")
    }
    try checkInput(x, layer: Self.identifier, expected: inputShape)
    let depthwise = try Ops.depthwiseConv(
      x, depthwiseKernel.value, strides: config.strides, padding: config.padding,
      dilationRate: config.dilationRate)
    var y = try Ops.conv(depthwise, pointwiseKernel.value)
    if let bias { y = try y + bias.value }
    return try Ops.activation(config.activation, y)
  }
}
