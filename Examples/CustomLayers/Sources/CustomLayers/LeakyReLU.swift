import StrataCore

/// Leaky rectified linear unit as a layer: `x` for `x > 0`, `negativeSlope · x` otherwise.
///
/// Keras: `keras.layers.LeakyReLU(negative_slope=0.3)`.
public final class LeakyReLU: ShapePreservingLayer, Layer {
  /// The Keras arguments, each with its Keras default as its initial value; `init()` keeps them.
  public struct Config: KerasConfig, Equatable {
    /// Keras' `negative_slope`.
    public var negativeSlope: Float = 0.3
    /// Keras' defaults.
    public init() {}
  }

  public static let identifier = "LeakyReLU"
  public let config: Config
  private var input: Tensor?

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

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "LeakyReLU")
    input = context.isTraining ? x : nil
    let slope = config.negativeSlope
    var y = Tensor(shape: x.shape)
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer {
        simdMap(xs, into: $0) { $0.replacing(with: $0 * slope, where: $0 .<= 0) }
      }
    }
    return y
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard let x = input else { throw missingForward("LeakyReLU") }
    input = nil
    let slope = config.negativeSlope
    var dx = Tensor(shape: x.shape)
    x.withUnsafeBufferPointer { xs in
      outputGradient.withUnsafeBufferPointer { dy in
        dx.withUnsafeMutableBufferPointer {
          simdZip(xs, dy, into: $0) { x, dy in dy.replacing(with: dy * slope, where: x .<= 0) }
        }
      }
    }
    return dx
  }
}
