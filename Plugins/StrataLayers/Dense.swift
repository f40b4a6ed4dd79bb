import StrataCore

/// A fully connected layer on the last axis: `y = activation(x · kernel + bias)`.
///
/// Keras: `Dense(units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
/// bias_initializer="zeros")`. The kernel is `[inputFeatures, units]`, as in Keras. An input of rank
/// above 2 is treated as rows of its last axis. The products run on the context's GEMM.
public final class Dense: KernelLayer, SoftmaxHead {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `units`.
    public var units: Int = 0
    /// Keras' `activation`.
    public var activation: Spec = "linear"
    /// Keras' weight arguments: `use_bias`, the initializers, constraints and regularizers.
    public var weights: WeightArguments = WeightArguments()

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      units: Int, activation: Spec = Config().activation,
      weights: WeightArguments = Config().weights
    ) {
      self.units = units
      self.activation = activation
      self.weights = weights
    }

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> {
      Set<String>(["units"]).union(WeightArguments.requiredArguments)
    }

    enum CodingKeys: String, CodingKey { case units, activation }

    /// Decodes the arguments, the flattened ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      units = try container.decode(Int.self, forKey: .units)
      activation = try container.decode(Spec.self, forKey: .activation)
      weights = try WeightArguments(from: decoder)
    }

    /// Encodes the arguments, the flattened ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(units, forKey: .units)
      try container.encode(activation, forKey: .activation)
      try weights.encode(to: encoder)
    }
  }

  public static let identifier = "Dense"
  public let config: Config
  public let declaredInputShape: [Int]?
  private var inputFeatures = 0

  // Kept between steps so that a training step allocates nothing.
  private var input: Tensor?
  private var preactivation = Tensor(shape: [0])
  private var output = Tensor(shape: [0])
  private var preactivationGradient = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  public convenience init(config: Config) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `Dense(128, activation: "relu")`, as in Keras.
  public convenience init(
    _ units: Int, activation: Spec = "linear", useBias: Bool = true,
    kernelInitializer: Spec = "glorot_uniform", biasInitializer: Spec = "zeros",
    inputShape: [Int]? = nil
  ) throws {
    let weights = WeightArguments(
      useBias: useBias, kernelInitializer: kernelInitializer, biasInitializer: biasInitializer)
    try self.init(
      config: Config(units: units, activation: activation, weights: weights), inputShape: inputShape
    )
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.units > 0,
      owner: "Dense", argument: "units", value: "\(config.units)", expected: "a positive integer")
    self.config = config
    self.declaredInputShape = inputShape
    try super.init(activation: config.activation, weights: config.weights)
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard let features = inputShape.last, features > 0 else {
      throw StrataError.shapeMismatch(
        layer: "Dense", received: kerasShape(inputShape),
        expected: "an input with a last axis, like (None, 784)")
    }
    inputFeatures = features
    try makeWeights(
      kernelShape: [features, config.units], units: config.units, generator: &generator)
    return Array(inputShape.dropLast()) + [config.units]
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    guard let kernel else {
      throw StrataError.invalidState("Dense: forward was called before build.")
    }
    guard x.rank >= 2, x.shape.last == inputFeatures else {
      throw StrataError.shapeMismatch(
        layer: "Dense", received: kerasShape(Array(x.shape.dropFirst())),
        expected: "a last axis of \(inputFeatures), like (None, \(inputFeatures))")
    }
    let rows = x.count / inputFeatures, units = config.units
    let outputShape = Array(x.shape.dropLast()) + [units]
    preactivation.reuse(shape: outputShape, in: context)
    context.kernels.gemm(x, kernel.value, into: &preactivation, m: rows, n: units, k: inputFeatures)
    if let bias {
      bias.value.withUnsafeBufferPointer { b in
        preactivation.withUnsafeMutableBufferPointer { context.kernels.addBias(b, to: $0) }
      }
    }
    input = context.isTraining ? x : nil
    if activation.isIdentity { return preactivation.handOut(in: context) }
    output.reuse(shape: outputShape, in: context)
    preactivation.withUnsafeBufferPointer { z in
      output.withUnsafeMutableBufferPointer { activation.forward(z, into: $0, rowLength: units) }
    }
    _ = preactivation.handOut(in: context)  // in inference, back to the pool now
    return output.handOut(in: context)
  }

  public var endsWithSoftmax: Bool { activation.identifier == "softmax" }
  public var logits: Tensor { preactivation }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard outputGradient.shape == preactivation.shape else {
      throw StrataError.shapeMismatch(
        layer: "Dense (backward)", received: kerasShape(outputGradient.shape, batch: false),
        expected: kerasShape(preactivation.shape, batch: false))
    }
    if activation.isIdentity { return try backward(logitsGradient: outputGradient, in: context) }
    guard input != nil else { throw missingForward("Dense") }
    let units = config.units
    preactivationGradient.reuse(shape: outputGradient.shape)
    preactivation.withUnsafeBufferPointer { z in
      output.withUnsafeBufferPointer { y in
        outputGradient.withUnsafeBufferPointer { dy in
          preactivationGradient.withUnsafeMutableBufferPointer {
            activation.backward(input: z, output: y, outputGradient: dy, into: $0, rowLength: units)
          }
        }
      }
    }
    return try backward(logitsGradient: preactivationGradient, in: context)
  }

  public func backward(logitsGradient dz: Tensor, in context: Context) throws -> Tensor {
    guard let x = input, let kernel else { throw missingForward("Dense") }
    input = nil
    let rows = x.count / inputFeatures, units = config.units
    context.kernels.gemm(
      x, dz, into: &kernel.gradient, m: inputFeatures, n: units, k: rows, transposeA: true)
    if let bias {
      dz.withUnsafeBufferPointer { dzs in
        bias.gradient.withUnsafeMutableBufferPointer { context.kernels.sumRows(dzs, into: $0) }
      }
    }
    guard context.needsInputGradient else { return Tensor(shape: [0]) }
    inputGradient.reuse(shape: x.shape)
    context.kernels.gemm(
      dz, kernel.value, into: &inputGradient, m: rows, n: inputFeatures, k: units, transposeB: true)
    return inputGradient
  }
}

extension Dense: ActivityRegularized {}
