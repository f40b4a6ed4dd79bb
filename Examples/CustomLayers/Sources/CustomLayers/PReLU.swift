import StrataCore

/// Parametric ReLU: `x` for `x > 0`, `alpha · x` otherwise, with a learned `alpha` per feature.
///
/// Keras: `keras.layers.PReLU(alpha_initializer="zeros", shared_axes=None)`. `alpha` has the input's
/// shape without the batch axis, except along `shared_axes` (1-based, as in Keras), where it is 1 and
/// shared.
public final class PReLU: Layer {
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
  private var input: Tensor?

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

  /// For each element of one sample, the index of its `alpha`.
  private func alphaIndex(_ element: Int) -> Int {
    guard let alpha, alpha.count != inputShape.reduce(1, *) else { return element }
    var index = 0, remainder = element, step = 1
    for axis in stride(from: inputShape.count - 1, through: 0, by: -1) {
      let coordinate = remainder % inputShape[axis]
      remainder /= inputShape[axis]
      if alpha.shape[axis] != 1 { index += coordinate * step }
      step *= alpha.shape[axis]
    }
    return index
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    guard let alpha else {
      throw StrataError.invalidState("PReLU: forward was called before build.")
    }
    try checkInput(x, layer: "PReLU", expected: inputShape)
    input = context.isTraining ? x : nil
    let sample = inputShape.reduce(1, *)
    var y = Tensor(shape: x.shape)
    x.withUnsafeBufferPointer { xs in
      alpha.value.withUnsafeBufferPointer { a in
        y.withUnsafeMutableBufferPointer { ys in
          for i in 0..<xs.count {
            let v = xs[i]
            ys[i] = v > 0 ? v : a[alphaIndex(i % sample)] * v
          }
        }
      }
    }
    return y
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard let x = input, let alpha else { throw missingForward("PReLU") }
    input = nil
    let sample = inputShape.reduce(1, *)
    var dx = Tensor(shape: x.shape)
    alpha.gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    x.withUnsafeBufferPointer { xs in
      outputGradient.withUnsafeBufferPointer { dy in
        alpha.value.withUnsafeBufferPointer { a in
          alpha.gradient.withUnsafeMutableBufferPointer { da in
            dx.withUnsafeMutableBufferPointer { dxs in
              for i in 0..<xs.count {
                let j = alphaIndex(i % sample)
                if xs[i] > 0 {
                  dxs[i] = dy[i]
                } else {
                  dxs[i] = a[j] * dy[i]
                  da[j] += xs[i] * dy[i]
                }
              }
            }
          }
        }
      }
    }
    return dx
  }
}
