import StrataCore

/// The same function as ``LeakyReLU`` as an activation, so that `Dense(8, activation: "LeakyReLU")`
/// works once the plugin is registered. Written as an ``ElementwiseActivation``: a scalar function and
/// its derivative, and Strata supplies the loops.
public struct LeakyReLUFunction: ElementwiseActivation {
  public typealias Config = LeakyReLU.Config
  public static let identifier = "LeakyReLU"
  public let config: Config
  public init(config: Config = Config()) throws {
    _ = try LeakyReLU(config: config)  // the same argument checks as the layer
    self.config = config
  }
  public func callAsFunction(_ x: Float) -> Float { x > 0 ? x : config.negativeSlope * x }
  public func derivative(_ x: Float) -> Float { x > 0 ? 1 : config.negativeSlope }
}
