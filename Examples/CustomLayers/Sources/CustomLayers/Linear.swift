import StrataCore

/// `y = x · w + b`: the Keras guide's first custom layer ("Making new layers and models via
/// subclassing"), with weights, written forward-only in ops. Strata differentiates it.
///
/// Keras: `Linear(units=32)`, `w` drawn from `random_normal`, `b` zeros.
public final class Linear: OpsLayer {
  /// The layer's arguments.
  public struct Config: KerasConfig, Equatable {
    /// The number of outputs.
    public var units = 32
    /// The guide's defaults.
    public init() {}
  }

  public static let identifier = "Linear"
  public let config: Config
  /// The weights `w` (`[inputs, units]`) and `b` (`[units]`); `nil` until built.
  public private(set) var w: Parameter?
  public private(set) var b: Parameter?

  public init(config: Config = Config()) throws {
    try checkArgument(
      config.units > 0, owner: "Linear", argument: "units", value: "\(config.units)",
      expected: "a positive integer")
    self.config = config
  }

  /// `Linear(units: 8)`.
  public convenience init(units: Int) throws {
    var config = Config()
    config.units = units
    try self.init(config: config)
  }

  public var parameters: [Parameter] { [w, b].compactMap { $0 } }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard let inputs = inputShape.last, inputs > 0 else {
      throw StrataError.shapeMismatch(
        layer: "Linear", received: kerasShape(inputShape), expected: "(None, …, features)")
    }
    let normal = try Registries.shared.initializer("random_normal")
    w = Parameter(
      name: "w", value: try normal.make(shape: [inputs, config.units], generator: &generator))
    b = Parameter(name: "b", value: Tensor(shape: [config.units]))
    return Array(inputShape.dropLast()) + [config.units]
  }

  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let w, let b else { throw StrataError.invalidState("Linear: called before build.") }
    return try Ops.matmul(x, w.value) + b.value
  }
}
