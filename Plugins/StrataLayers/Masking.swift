import StrataCore

/// Masks the steps of sequences whose every feature equals `mask_value` (padding), for the layers
/// after that skip masked steps (recurrent layers, `GlobalAveragePooling1D`); the masked steps'
/// values become 0. Keras: `Masking(mask_value=0.0)`.
public final class Masking: ShapePreservingLayer, OpsLayer, MaskingLayer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `mask_value`.
    public var maskValue: Float = 0

    /// Keras' defaults.
    public init() {}
  }
  /// The registry key: Keras' `Masking`.
  public static let identifier = "Masking"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Masking(maskValue: 0)`, as Keras' `Masking(mask_value=0.0)`.
  public convenience init(maskValue: Float = 0, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.maskValue = maskValue
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.maskValue.isFinite, owner: "Masking", argument: "mask_value",
      value: "\(config.maskValue)", expected: "a finite number")
    self.config = config
    declaredInputShape = inputShape
  }

  /// Takes sequences `(steps, features)`.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireSequences(inputShape, layer: "Masking")
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  /// 1 for the steps with a feature other than `mask_value`, `[batch, steps, 1]`.
  private func keep(_ x: Tensor) throws -> Tensor {
    try Ops.max(Ops.notEqual(x, Tensor(scalar: config.maskValue)), axis: -1, keepDims: true)
  }

  /// The batch with its masked steps set to 0.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "Masking")
    return try x * Ops.stopGradient(keep(x))
  }

  /// The steps with a feature other than `mask_value`.
  public func outputMask(for x: Tensor, inputMask: Tensor?) throws -> Tensor? {
    try Ops.squeeze(keep(x), axis: -1)
  }
}

extension Dense: MaskPreservingLayer {}
extension Dropout: MaskPreservingLayer {}
extension ActivationLayer: MaskPreservingLayer {}
extension ReLULayer: MaskPreservingLayer {}
extension ELULayer: MaskPreservingLayer {}
extension LayerNormalization: MaskPreservingLayer {}
extension BatchNormalization: MaskPreservingLayer {}
extension SpatialDropout1D: MaskPreservingLayer {}
extension GaussianNoise: MaskPreservingLayer {}
extension GaussianDropout: MaskPreservingLayer {}
extension ActivityRegularization: MaskPreservingLayer {}
