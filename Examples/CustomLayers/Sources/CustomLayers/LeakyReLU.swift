import StrataCore

/// Leaky rectified linear unit as a layer: `x` for `x > 0`, `negativeSlope · x` otherwise.
///
/// Keras: `keras.layers.LeakyReLU(negative_slope=0.3)`. Written forward-only: Strata differentiates
/// it with a tape.
public final class LeakyReLU: ShapePreservingLayer, OpsLayer {
  /// The Keras arguments, each with its Keras default as its initial value; `init()` keeps them.
  public struct Config: KerasConfig, Equatable {
    /// Keras' `negative_slope`.
    public var negativeSlope: Float = 0.3
    /// Keras' defaults.
    public init() {}
  }

  public static let identifier = "LeakyReLU"
  public let config: Config

  public init(config: Config = Config()) throws {
    try checkArgument(
      config.negativeSlope >= 0 && config.negativeSlope.isFinite,
      owner: "LeakyReLU", argument: "negative_slope", value: "\(config.negativeSlope)",
      expected: "a finite number ≥ 0")
    self.config = config
  }

  /// `LeakyReLU(negativeSlope: 0.1)`.
  public convenience init(negativeSlope: Float) throws {
    var config = Config()
    config.negativeSlope = negativeSlope
    try self.init(config: config)
  }

  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "LeakyReLU")
    return try Ops.where(x .> 0, x, x * config.negativeSlope)
  }
}
