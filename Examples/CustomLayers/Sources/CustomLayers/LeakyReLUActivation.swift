import StrataCore

/// The same function as ``LeakyReLU`` as an activation, so that `Dense(8, activation: "LeakyReLU")`
/// works once the plugin is registered. Written forward-only, as an ``OpsActivation``: Strata
/// differentiates it.
public struct LeakyReLUFunction: OpsActivation {
  public typealias Config = LeakyReLU.Config
  public static let identifier = "LeakyReLU"
  public let config: Config
  public init(config: Config = Config()) throws {
    _ = try LeakyReLU(config: config)  // the same argument checks as the layer
    self.config = config
  }
  public func call(_ x: Tensor) throws -> Tensor {
    try Ops.where(x .> 0, x, x * config.negativeSlope)
  }
}
