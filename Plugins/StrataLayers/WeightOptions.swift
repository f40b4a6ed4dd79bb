import StrataCore

/// The arguments Keras' `Dense` and `Conv2D` share for their kernel and bias, flat in their configs
/// (decoded from the same decoder): `Dense.Config(units: 64, weights: .init(kernelRegularizer: "l2"))`.
public struct WeightArguments: Equatable, KerasConfig {
  /// Keras' `use_bias`.
  public var useBias: Bool = true
  /// Keras' `kernel_initializer`.
  public var kernelInitializer: Spec = "glorot_uniform"
  /// Keras' `bias_initializer`.
  public var biasInitializer: Spec = "zeros"
  /// Keras' `kernel_constraint`, applied after each optimizer update.
  public var kernelConstraint: Spec?
  /// Keras' `bias_constraint`, applied after each optimizer update.
  public var biasConstraint: Spec?
  /// Keras' `kernel_regularizer`: a penalty on the kernel added to the loss.
  public var kernelRegularizer: Spec?
  /// Keras' `bias_regularizer`: a penalty on the bias added to the loss.
  public var biasRegularizer: Spec?
  /// Keras' `activity_regularizer`: a penalty on the output, divided by the batch size.
  public var activityRegularizer: Spec?

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(
    useBias: Bool = WeightArguments().useBias,
    kernelInitializer: Spec = WeightArguments().kernelInitializer,
    biasInitializer: Spec = WeightArguments().biasInitializer, kernelConstraint: Spec? = nil,
    biasConstraint: Spec? = nil, kernelRegularizer: Spec? = nil, biasRegularizer: Spec? = nil,
    activityRegularizer: Spec? = nil
  ) {
    self.useBias = useBias
    self.kernelInitializer = kernelInitializer
    self.biasInitializer = biasInitializer
    self.kernelConstraint = kernelConstraint
    self.biasConstraint = biasConstraint
    self.kernelRegularizer = kernelRegularizer
    self.biasRegularizer = biasRegularizer
    self.activityRegularizer = activityRegularizer
  }
}

/// ``WeightArguments`` resolved once, when the layer is made: the initializers, constraints and
/// regularizers from the registries (an unknown name is an error then, not at `build`).
struct WeightOptions {
  let useBias: Bool
  let kernelInitializer: any Initializer
  let biasInitializer: any Initializer
  let kernelConstraint: (any Constraint)?
  let biasConstraint: (any Constraint)?
  let kernelRegularizer: (any Regularizer)?
  let biasRegularizer: (any Regularizer)?
  let activityRegularizer: (any Regularizer)?

  init(_ arguments: WeightArguments) throws {
    let registries = Registries.shared
    useBias = arguments.useBias
    kernelInitializer = try registries.initializer(arguments.kernelInitializer)
    biasInitializer = try registries.initializer(arguments.biasInitializer)
    kernelConstraint = try arguments.kernelConstraint.map { try registries.constraint($0) }
    biasConstraint = try arguments.biasConstraint.map { try registries.constraint($0) }
    kernelRegularizer = try arguments.kernelRegularizer.map { try registries.regularizer($0) }
    biasRegularizer = try arguments.biasRegularizer.map { try registries.regularizer($0) }
    activityRegularizer = try arguments.activityRegularizer.map { try registries.regularizer($0) }
  }

  /// A new kernel of `kernelShape` and, with `use_bias`, a bias of `units`, drawn from `generator`
  /// and given their constraints and regularizers.
  func makeWeights(
    kernelShape: [Int], units: Int, biasShape: [Int]? = nil, kernelName: String = "kernel",
    generator: inout SeededGenerator
  ) throws -> (kernel: Parameter, bias: Parameter?) {
    let kernel = Parameter(
      name: kernelName, value: try kernelInitializer.make(shape: kernelShape, generator: &generator)
    )
    let bias =
      useBias
      ? Parameter(
        name: "bias",
        value: try biasInitializer.make(shape: biasShape ?? [units], generator: &generator))
      : nil
    kernel.constraint = kernelConstraint
    kernel.regularizer = kernelRegularizer
    bias?.constraint = biasConstraint
    bias?.regularizer = biasRegularizer
    return (kernel, bias)
  }
}

/// What `Dense` and `Conv2D` share: the activation, and a kernel and optional bias made from
/// ``WeightArguments`` with their constraints and regularizers.
public class KernelLayer {
  /// The resolved activation.
  public let activation: any Activation
  let options: WeightOptions
  /// The kernel (`Dense`: `[inputFeatures, units]`; `Conv2D`: `[kh, kw, in, out]`); `nil` until built.
  public internal(set) var kernel: Parameter?
  /// `[units]` or `[filters]`; `nil` until built or without a bias.
  public internal(set) var bias: Parameter?

  init(activation: Spec, weights: WeightArguments) throws {
    self.activation = try Registries.shared.activation(activation)
    options = try WeightOptions(weights)
  }

  /// The kernel and the bias, once built.
  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }
  /// The regularizer of the output (Keras' `activity_regularizer`).
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }

  /// Makes the kernel, of `kernelShape`, and the bias, of `units`.
  func makeWeights(kernelShape: [Int], units: Int, generator: inout SeededGenerator) throws {
    (kernel, bias) = try options.makeWeights(
      kernelShape: kernelShape, units: units, generator: &generator)
  }
}
