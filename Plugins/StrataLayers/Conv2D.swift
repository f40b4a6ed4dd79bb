import StrataCore

/// A 2-D convolution over channels-last images: `y = activation(conv(x, kernel) + bias)`.
///
/// Keras: `Conv2D(filters, kernel_size, strides=(1, 1), padding="valid", dilation_rate=(1, 1),
/// activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros")`.
/// The kernel is `[kh, kw, in, out]`, as in Keras. `"same"` padding follows TensorFlow: the output is
/// `ceil(input / stride)` and an odd total padding puts the extra pixel at the bottom and right.
public final class Conv2D: KernelLayer, Layer, InferenceConvolutionLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `filters`.
    public var filters: Int = 0
    /// Keras' `kernel_size`.
    public var kernelSize: IntPair = 1
    /// Keras' `strides`.
    public var strides: IntPair = 1
    /// Keras' `padding`.
    public var padding: String = "valid"
    /// Keras' `dilation_rate`.
    public var dilationRate: IntPair = 1
    /// Keras' `activation`.
    public var activation: Spec = "linear"
    /// Grouped convolutions are not supported: only Keras' default of 1 is accepted.
    public var groups: Int = 1
    /// Keras' weight arguments: `use_bias`, the initializers, constraints and regularizers.
    public var weights: WeightArguments = WeightArguments()

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      filters: Int, kernelSize: IntPair, strides: IntPair = Config().strides,
      padding: String = Config().padding, dilationRate: IntPair = Config().dilationRate,
      activation: Spec = Config().activation, groups: Int = Config().groups,
      weights: WeightArguments = Config().weights
    ) {
      self.filters = filters
      self.kernelSize = kernelSize
      self.strides = strides
      self.padding = padding
      self.dilationRate = dilationRate
      self.activation = activation
      self.groups = groups
      self.weights = weights
    }

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> {
      Set<String>(["filters", "kernel_size"]).union(WeightArguments.requiredArguments)
    }

    enum CodingKeys: String, CodingKey {
      case filters, kernelSize, strides, padding, dilationRate, activation, groups
    }

    /// Decodes the arguments, the flattened ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      filters = try container.decode(Int.self, forKey: .filters)
      kernelSize = try container.decode(IntPair.self, forKey: .kernelSize)
      strides = try container.decode(IntPair.self, forKey: .strides)
      padding = try container.decode(String.self, forKey: .padding)
      dilationRate = try container.decode(IntPair.self, forKey: .dilationRate)
      activation = try container.decode(Spec.self, forKey: .activation)
      groups = try container.decode(Int.self, forKey: .groups)
      weights = try WeightArguments(from: decoder)
    }

    /// Encodes the arguments, the flattened ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(filters, forKey: .filters)
      try container.encode(kernelSize, forKey: .kernelSize)
      try container.encode(strides, forKey: .strides)
      try container.encode(padding, forKey: .padding)
      try container.encode(dilationRate, forKey: .dilationRate)
      try container.encode(activation, forKey: .activation)
      try container.encode(groups, forKey: .groups)
      try weights.encode(to: encoder)
    }
  }

  public static let identifier = "Conv2D"
  public let config: Config
  public let declaredInputShape: [Int]?
  let same: Bool
  private var inputShape: [Int] = []
  private var geometry: ConvolutionGeometry?
  private var input: Tensor?
  private var preactivation = Tensor(shape: [0])
  private var output = Tensor(shape: [0])
  private var preactivationGradient = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])
  /// With `groups` above 1: the same weights, computed with ops.
  private var grouped: GroupedConvolution?

  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Conv2D(32, kernelSize: 3, activation: "relu")`, as Keras' `Conv2D(32, 3, activation="relu")`.
  public convenience init(
    _ filters: Int, kernelSize: IntPair, strides: IntPair = 1, padding: String = "valid",
    dilationRate: IntPair = 1,
    activation: Spec = "linear", useBias: Bool = true, kernelInitializer: Spec = "glorot_uniform",
    biasInitializer: Spec = "zeros", inputShape: [Int]? = nil
  ) throws {
    let weights = WeightArguments(
      useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    try self.init(
      config: Config(
        filters: filters, kernelSize: kernelSize, strides: strides, padding: padding,
        dilationRate: dilationRate, activation: activation, weights: weights),
      inputShape: inputShape)
  }

  /// `Conv2D(32, 3, activation: "relu")`: the kernel size without its label, as Keras users write it.
  public convenience init(
    _ filters: Int, _ kernelSize: IntPair, strides: IntPair = 1, padding: String = "valid",
    dilationRate: IntPair = 1,
    activation: Spec = "linear", useBias: Bool = true, kernelInitializer: Spec = "glorot_uniform",
    biasInitializer: Spec = "zeros", inputShape: [Int]? = nil
  ) throws {
    try self.init(
      filters, kernelSize: kernelSize, strides: strides, padding: padding,
      dilationRate: dilationRate, activation: activation,
      useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer,
      inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.filters > 0,
      owner: "Conv2D", argument: "filters", value: "\(config.filters)",
      expected: "a positive integer")
    try checkArgument(
      config.groups > 0 && config.filters % Swift.max(config.groups, 1) == 0,
      owner: "Conv2D", argument: "groups", value: "\(config.groups)",
      expected: "a positive divisor of filters (\(config.filters))")
    try requirePositive(config.kernelSize, owner: "Conv2D", argument: "kernel_size")
    try requirePositive(config.strides, owner: "Conv2D", argument: "strides")
    try requirePositive(config.dilationRate, owner: "Conv2D", argument: "dilation_rate")
    if config.dilationRate != 1 && config.strides != 1 {
      throw StrataError.invalidArgument(
        owner: "Conv2D", argument: "strides",
        value: "\(config.strides) with dilation_rate \(config.dilationRate)",
        expected: "strides of 1 when dilation_rate is above 1, as in Keras")
    }
    same = try requirePadding(config.padding, owner: "Conv2D")
    self.config = config
    declaredInputShape = inputShape
    try super.init(activation: config.activation, weights: config.weights)
  }

  func geometry(batch: Int) -> ConvolutionGeometry {
    ConvolutionGeometry(
      batch: batch, height: inputShape[0], width: inputShape[1], channels: inputShape[2],
      filters: config.filters,
      kernel: config.kernelSize.tuple, strides: config.strides.tuple,
      dilation: config.dilationRate.tuple, same: same)
  }

  /// What an inference plan needs to run this layer as one fused convolution; `nil` before `build`.
  package func inferenceParts(batch: Int) -> InferenceConvolutionParts? {
    guard let kernel, !inputShape.isEmpty else { return nil }
    return InferenceConvolutionParts(
      geometry: geometry.forBatch(batch, make: geometry(batch:)), groups: config.groups,
      kernel: kernel, bias: bias, activation: activation)
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: "Conv2D")
    self.inputShape = inputShape
    let g = geometry(batch: 1)
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      let extent = IntPair(
        (config.kernelSize.height - 1) * config.dilationRate.height + 1,
        (config.kernelSize.width - 1) * config.dilationRate.width + 1)
      throw StrataError.shapeMismatch(
        layer: "Conv2D", received: kerasShape(inputShape),
        expected:
          "images of at least \(extent.height)x\(extent.width) for a kernel of \(config.kernelSize) with padding '\(config.padding)'"
      )
    }
    guard inputShape[2] % config.groups == 0 else {
      throw StrataError.shapeMismatch(
        layer: "Conv2D", received: kerasShape(inputShape),
        expected: "input channels divisible by groups (\(config.groups))")
    }
    try makeWeights(
      kernelShape: [
        config.kernelSize.height, config.kernelSize.width, inputShape[2] / config.groups,
        config.filters,
      ],
      units: config.filters, generator: &generator)
    grouped = config.groups > 1 ? GroupedConvolution(self) : nil
    return [g.outputHeight, g.outputWidth, config.filters]
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    guard let kernel else {
      throw StrataError.invalidState("Conv2D: forward was called before build.")
    }
    try checkInput(x, layer: "Conv2D", expected: inputShape)
    if let grouped { return try grouped.forward(x, in: context) }
    let g = geometry.forBatch(x.shape[0], make: geometry(batch:))
    let shape = [g.batch, g.outputHeight, g.outputWidth, g.filters]
    preactivation.reuse(shape: shape, in: context)
    x.withUnsafeBufferPointer { xs in
      kernel.value.withUnsafeBufferPointer { k in
        preactivation.withUnsafeMutableBufferPointer { z in
          if let bias {
            bias.value.withUnsafeBufferPointer { b in
              context.kernels.convolution(g, input: xs, kernel: k, bias: b, output: z)
            }
          } else {
            context.kernels.convolution(g, input: xs, kernel: k, bias: nil, output: z)
          }
        }
      }
    }
    input = context.isTraining ? x : nil
    if activation.isIdentity { return preactivation.handOut(in: context) }
    output.reuse(shape: shape, in: context)
    preactivation.withUnsafeBufferPointer { z in
      output.withUnsafeMutableBufferPointer {
        activation.forward(z, into: $0, rowLength: g.filters)
      }
    }
    _ = preactivation.handOut(in: context)  // in inference, back to the pool now
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    if let grouped { return try grouped.backward(outputGradient, in: context) }
    guard let x = input, let kernel, let g = geometry else { throw missingForward("Conv2D") }
    guard outputGradient.shape == preactivation.shape else {
      throw StrataError.shapeMismatch(
        layer: "Conv2D (backward)", received: kerasShape(outputGradient.shape, batch: false),
        expected: kerasShape(preactivation.shape, batch: false))
    }
    input = nil
    var dz = outputGradient
    if !activation.isIdentity {
      preactivationGradient.reuse(shape: outputGradient.shape)
      preactivation.withUnsafeBufferPointer { z in
        output.withUnsafeBufferPointer { y in
          outputGradient.withUnsafeBufferPointer { dy in
            preactivationGradient.withUnsafeMutableBufferPointer {
              activation.backward(
                input: z, output: y, outputGradient: dy, into: $0, rowLength: g.filters)
            }
          }
        }
      }
      dz = preactivationGradient
    }
    dz.withUnsafeBufferPointer { dzs in
      x.withUnsafeBufferPointer { xs in
        kernel.gradient.withUnsafeMutableBufferPointer { dk in
          if let bias {
            bias.gradient.withUnsafeMutableBufferPointer { db in
              context.kernels.convolutionBackwardWeights(
                g, input: xs, outputGradient: dzs, kernelGradient: dk, biasGradient: db)
            }
          } else {
            context.kernels.convolutionBackwardWeights(
              g, input: xs, outputGradient: dzs, kernelGradient: dk, biasGradient: nil)
          }
        }
      }
    }
    guard context.needsInputGradient else { return Tensor(shape: [0]) }
    inputGradient.reuse(shape: x.shape)
    dz.withUnsafeBufferPointer { dzs in
      kernel.value.withUnsafeBufferPointer { k in
        inputGradient.withUnsafeMutableBufferPointer {
          context.kernels.convolutionBackwardData(
            g, outputGradient: dzs, kernel: k, inputGradient: $0)
        }
      }
    }
    return inputGradient
  }
}

extension Conv2D: ActivityRegularized {}

/// A grouped convolution (Keras' `Conv2D(groups=…)`, ConvNeXt's depthwise 7×7) on a `Conv2D`'s own
/// weights, written with ops: with one input channel per group, a depthwise convolution (the
/// kernel's memory is already a depthwise kernel's); otherwise one convolution per group of
/// channels, concatenated.
final class GroupedConvolution: OpsLayer {
  static let identifier = "Conv2D"
  let config = NoConfig()
  unowned let layer: Conv2D

  init(_ layer: Conv2D) { self.layer = layer }
  convenience init(config: NoConfig) throws {
    throw StrataError.invalidState("GroupedConvolution is made by its Conv2D.")
  }

  var parameters: [Parameter] { layer.parameters }
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] { inputShape }

  func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let kernel = layer.kernel else {
      throw StrataError.invalidState("Conv2D: called before build.")
    }
    let c = layer.config
    var y: Tensor
    if kernel.shape[2] == 1 {
      let k = kernel.value
      let depthwise = try Ops.reshape(
        k, [k.shape[0], k.shape[1], x.shape[3], k.shape[3] / x.shape[3]])
      y = try Ops.depthwiseConv(
        x, depthwise, strides: c.strides, padding: c.padding, dilationRate: c.dilationRate)
    } else {
      let inputs = try Ops.split(x, sections: c.groups, axis: 3)
      let kernels = try Ops.split(kernel.value, sections: c.groups, axis: 3)
      y = try Ops.concatenate(
        zip(inputs, kernels).map {
          try Ops.conv($0, $1, strides: c.strides, padding: c.padding, dilationRate: c.dilationRate)
        }, axis: 3)
    }
    if let bias = layer.bias { y = try y + bias.value }
    return try Ops.activation(c.activation, y)
  }
}

/// What an inference plan needs to run a convolution layer (with its weights as they are, or with a
/// batch normalization folded in) on ``StrataCore/Kernels/inferenceConvolution(_:groups:input:kernel:kernelVersion:bias:output:epilogue:)``.
package struct InferenceConvolutionParts {
  /// The geometry at the batch asked for.
  package var geometry: ConvolutionGeometry
  /// Groups of channels convolved apart (the input channels for a depthwise convolution).
  package var groups: Int
  /// `[kh, kw, in / groups, out]` (a depthwise `[kh, kw, in, multiplier]` is the same memory).
  package var kernel: Parameter
  /// `[out]`, when the layer has a bias.
  package var bias: Parameter?
  /// The layer's own activation (`linear` for none).
  package var activation: any Activation
}

/// A layer an inference plan can run as one fused convolution.
package protocol InferenceConvolutionLayer: Layer {
  /// The geometry at `batch`, the weights and the activation; `nil` before `build`.
  func inferenceParts(batch: Int) -> InferenceConvolutionParts?
}
