import StrataCore

/// A depthwise 2-D convolution: each input channel convolved with `depthMultiplier` kernels of its
/// own, then the bias and the activation: MobileNet's and Xception's building block.
///
/// Keras: `DepthwiseConv2D(kernel_size, strides=(1, 1), padding="valid", depth_multiplier=1,
/// dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
/// bias_initializer="zeros")`. The kernel is `[kh, kw, in, depthMultiplier]` and output channel
/// `c · depthMultiplier + m` comes from input channel `c`, as in Keras. Written forward-only on
/// ``StrataCore/Ops/depthwiseConv(_:_:strides:padding:dilationRate:)``.
public final class DepthwiseConv2D: OpsLayer, ActivityRegularized, InferenceConvolutionLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `kernel_size`.
    public var kernelSize: IntPair = 1
    /// Keras' `strides`.
    public var strides: IntPair = 1
    /// Keras' `padding`.
    public var padding: String = "valid"
    /// Keras' `depth_multiplier`: output channels per input channel.
    public var depthMultiplier: Int = 1
    /// Keras' `dilation_rate`.
    public var dilationRate: IntPair = 1
    /// Keras' `activation`.
    public var activation: Spec = "linear"
    /// Keras' `use_bias`.
    public var useBias: Bool = true
    /// Keras' `depthwise_initializer`.
    public var depthwiseInitializer: Spec = "glorot_uniform"
    /// Keras' `bias_initializer`.
    public var biasInitializer: Spec = "zeros"
    /// Keras' `depthwise_regularizer`.
    public var depthwiseRegularizer: Spec?
    /// Keras' `bias_regularizer`.
    public var biasRegularizer: Spec?
    /// Keras' `activity_regularizer`.
    public var activityRegularizer: Spec?
    /// Keras' `depthwise_constraint`.
    public var depthwiseConstraint: Spec?
    /// Keras' `bias_constraint`.
    public var biasConstraint: Spec?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["kernel_size"]
  }

  /// The registry key: Keras' `DepthwiseConv2D`.
  public static let identifier = "DepthwiseConv2D"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let options: WeightOptions
  /// `config.activation`, resolved (what an inference plan fuses).
  private let activation: any Activation
  private var inputShape: [Int] = []
  /// `[kh, kw, in, depthMultiplier]`; `nil` until built.
  public private(set) var kernel: Parameter?
  /// `[in · depthMultiplier]`; `nil` until built or without a bias.
  public private(set) var bias: Parameter?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `DepthwiseConv2D(3, strides: 2, padding: "same")`, as Keras' `DepthwiseConv2D(3, strides=2,
  /// padding="same")`.
  public convenience init(
    _ kernelSize: IntPair, strides: IntPair = 1, padding: String = "valid",
    depthMultiplier: Int = 1, dilationRate: IntPair = 1, activation: Spec = "linear",
    useBias: Bool = true, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
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
    try checkArgument(
      config.depthMultiplier > 0, owner: "DepthwiseConv2D", argument: "depth_multiplier",
      value: "\(config.depthMultiplier)", expected: "a positive integer")
    try requirePositive(config.kernelSize, owner: "DepthwiseConv2D", argument: "kernel_size")
    try requirePositive(config.strides, owner: "DepthwiseConv2D", argument: "strides")
    try requirePositive(config.dilationRate, owner: "DepthwiseConv2D", argument: "dilation_rate")
    _ = try requirePadding(config.padding, owner: "DepthwiseConv2D")
    activation = try Registries.shared.activation(config.activation)
    options = try WeightOptions(
      WeightArguments(
        useBias: config.useBias, kernelInitializer: config.depthwiseInitializer,
        biasInitializer: config.biasInitializer, kernelConstraint: config.depthwiseConstraint,
        biasConstraint: config.biasConstraint, kernelRegularizer: config.depthwiseRegularizer,
        biasRegularizer: config.biasRegularizer, activityRegularizer: config.activityRegularizer))
    self.config = config
    declaredInputShape = inputShape
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }
  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }

  /// Creates the weights for `inputShape` and returns the output shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: "DepthwiseConv2D")
    let filters = inputShape[2] * config.depthMultiplier
    let g = ConvolutionGeometry(
      batch: 1, height: inputShape[0], width: inputShape[1], channels: inputShape[2],
      filters: filters, kernel: config.kernelSize.tuple, strides: config.strides.tuple,
      dilation: config.dilationRate.tuple, same: config.padding.lowercased() == "same")
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      throw StrataError.shapeMismatch(
        layer: "DepthwiseConv2D", received: kerasShape(inputShape),
        expected:
          "images at least as large as the kernel (\(config.kernelSize), dilation \(config.dilationRate)) with padding '\(config.padding)'"
      )
    }
    self.inputShape = inputShape
    // Keras 3 names the depthwise kernel `kernel` too.
    (kernel, bias) = try options.makeWeights(
      kernelShape: [
        config.kernelSize.height, config.kernelSize.width, inputShape[2], config.depthMultiplier,
      ], units: filters, generator: &generator)
    return [g.outputHeight, g.outputWidth, filters]
  }

  /// What an inference plan needs to run this layer on a fused convolution (`groups` = channels).
  package func inferenceParts(batch: Int) -> InferenceConvolutionParts? {
    guard let kernel, inputShape.count == 3 else { return nil }
    let g = ConvolutionGeometry(
      batch: batch, height: inputShape[0], width: inputShape[1], channels: inputShape[2],
      filters: inputShape[2] * config.depthMultiplier, kernel: config.kernelSize.tuple,
      strides: config.strides.tuple, dilation: config.dilationRate.tuple,
      same: config.padding.lowercased() == "same")
    return InferenceConvolutionParts(
      geometry: g, groups: inputShape[2], kernel: kernel, bias: bias, activation: activation)
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let kernel else {
      throw StrataError.invalidState("DepthwiseConv2D: called before build.")
    }
    try checkInput(x, layer: "DepthwiseConv2D", expected: inputShape)
    var y = try Ops.depthwiseConv(
      x, kernel.value, strides: config.strides, padding: config.padding,
      dilationRate: config.dilationRate)
    if let bias { y = try y + bias.value }
    return try Ops.activation(config.activation, y)
  }
}
