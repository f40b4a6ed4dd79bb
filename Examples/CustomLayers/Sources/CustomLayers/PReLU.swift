import StrataCore

/// Parametric ReLU: `x` for `x > 0`, `alpha · x` otherwise, with a learned `alpha` per feature.
///
/// Keras: `keras.layers.PReLU(alpha_initializer="zeros", shared_axes=None)`. `alpha` has the input's
/// shape without the batch axis, except along `shared_axes` (1-based, as in Keras), where it is 1 and
/// broadcast. Written forward-only: Strata differentiates it, `alpha` included.
public final class PReLU: OpsLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `alpha_initializer`.
    public var alphaInitializer: Spec = "zeros"
    /// Keras' `shared_axes`.
    public var sharedAxes: [Int]?

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(alphaInitializer: Spec = Config().alphaInitializer, sharedAxes: [Int]? = nil) {
      self.alphaInitializer = alphaInitializer
      self.sharedAxes = sharedAxes
    }
  }

  public static let identifier = "PReLU"
  public let config: Config
  /// The slopes for negative inputs; `nil` until built.
  public private(set) var alpha: Parameter?
  private let initializer: any Initializer
  private var inputShape: [Int] = []

  public init(config: Config = Config()) throws {
    self.config = config
    initializer = try Registries.shared.initializer(config.alphaInitializer)
  }

  public var parameters: [Parameter] { alpha.map { [$0] } ?? [] }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    var shape = inputShape
    for axis in config.sharedAxes ?? [] {
      guard axis >= 1, axis <= inputShape.count else {
        throw StrataError.invalidArgument(
          owner: "PReLU", argument: "shared_axes", value: "\(config.sharedAxes ?? [])",
          expected:
            "axes between 1 and \(inputShape.count) for an input of shape \(kerasShape(inputShape))"
        )
      }
      shape[axis - 1] = 1
    }
    self.inputShape = inputShape
    alpha = Parameter(
      name: "alpha", value: try initializer.make(shape: shape, generator: &generator))
    return inputShape
  }

  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let alpha else {
      throw StrataError.invalidState("PReLU: forward was called before build.")
    }
    try checkInput(x, layer: "PReLU", expected: inputShape)
    return try Ops.where(x .> 0, x, alpha.value * x)
  }
}
