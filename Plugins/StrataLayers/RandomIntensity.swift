import StrataCore

/// What RandomBrightness and RandomContrast share: their config and output buffers.
public class RandomIntensityLayer: RandomImageLayer {
  /// The arguments.
  public let config: RandomIntensityConfig
  /// The last training call's output, whose clipped pixels pass no gradient.
  var output = Tensor(shape: [0])
  var inputGradient = Tensor(shape: [0])
  /// The range `factor` must lie in. When it starts at 0, a negative lower end is raised to 0 (Keras
  /// takes contrast's `f` as `[0, f]`).
  class var factorBounds: ClosedRange<Float> { -1...1 }

  /// A layer of `config`.
  public required init(config: RandomIntensityConfig) throws {
    var config = config
    let bounds = Self.factorBounds
    if bounds.lowerBound == 0 { config.factor.lower = max(config.factor.lower, 0) }
    try checkFactorAndRange(
      config.factor, bounds: bounds, config.valueRange, layer: String(describing: Self.self))
    self.config = config
    super.init(seed: config.seed)
  }

  /// `RandomBrightness(0.2)`, `RandomContrast(0.2)`: `factor` for `[-factor, factor]`.
  public convenience init(_ factor: Float, valueRange: [Float] = [0, 255], seed: Int? = nil) throws
  {
    try self.init(
      config: RandomIntensityConfig(
        factor: FactorRange(-abs(factor), abs(factor)), valueRange: valueRange, seed: seed))
  }
}

/// Adds a random delta to each image in training: `uniform(factor) · (value_range width)`, clipped to
/// `value_range`; the identity at inference. Keras: `RandomBrightness(factor, value_range=(0, 255))`.
public final class RandomBrightness: RandomIntensityLayer, Layer, RandomizedLayer {
  /// The arguments: `factor`, `value_range`, `seed`.
  public typealias Config = RandomIntensityConfig
  /// The registry key.
  public static let identifier = "RandomBrightness"
  private var isTrainingCall = false

  /// `x + delta`, clipped, with `delta` given per image (what training draws); ``backward(_:in:)``
  /// then differentiates this call.
  public func apply(_ x: Tensor, deltas: [Float]) -> Tensor {
    isTrainingCall = true
    let size = shape.reduce(1, *)
    let (low, high) = (config.valueRange[0], config.valueRange[1])
    output.reuse(shape: x.shape)
    x.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer { target in
        for (image, delta) in deltas.enumerated() {
          for i in (image * size)..<((image + 1) * size) {
            target[i] = min(max(source[i] + delta, low), high)
          }
        }
      }
    }
    return output
  }

  /// Brightens or darkens each image in training.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "RandomBrightness", expected: shape)
    isTrainingCall = context.behavesAsTraining
    guard context.behavesAsTraining else { return x }
    let width = config.valueRange[1] - config.valueRange[0]
    let (lower, upper) = (config.factor.lower, config.factor.upper)
    let deltas = drawPerImage(rows: x.shape[0], context: context, generator: &generator).map {
      (lower + (upper - lower) * $0) * width
    }
    return apply(x, deltas: deltas)
  }

  /// The gradient where the output was not clipped.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard isTrainingCall else { return outputGradient }
    let (low, high) = (config.valueRange[0], config.valueRange[1])
    inputGradient.reuse(shape: outputGradient.shape)
    outputGradient.withUnsafeBufferPointer { dy in
      output.withUnsafeBufferPointer { y in
        inputGradient.withUnsafeMutableBufferPointer { dx in
          for i in dx.indices { dx[i] = y[i] > low && y[i] < high ? dy[i] : 0 }
        }
      }
    }
    return inputGradient
  }
}

/// Scales each image's contrast in training: `(x - mean) · c + mean` per channel, `c` uniform in
/// `[1 - lower, 1 + upper]`, clipped to `value_range`; the identity at inference. Keras:
/// `RandomContrast(factor, value_range=(0, 255))` (Keras 3 takes a number `f` as `[0, f]`).
public final class RandomContrast: RandomIntensityLayer, Layer, RandomizedLayer {
  /// The arguments: `factor`, `value_range`, `seed`.
  public typealias Config = RandomIntensityConfig
  /// The registry key.
  public static let identifier = "RandomContrast"
  /// A single number `f` is Keras' `[max(-f, 0), f]`.
  override class var factorBounds: ClosedRange<Float> { 0...1 }
  private var factors: [Float] = []

  /// `(x - mean) · c + mean` per image and channel, clipped, with `c` given per image;
  /// ``backward(_:in:)`` then differentiates this call.
  public func apply(_ x: Tensor, factors: [Float]) -> Tensor {
    self.factors = factors
    let (low, high) = (config.valueRange[0], config.valueRange[1])
    output.reuse(shape: x.shape)
    x.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer { target in
        forEachChannel { factor, pixels in
          var sum: Float = 0
          for i in pixels { sum += source[i] }
          let mean = sum / Float(shape[0] * shape[1])
          for i in pixels { target[i] = min(max((source[i] - mean) * factor + mean, low), high) }
        }
      }
    }
    return output
  }

  /// Calls `body(factor, pixels)` for each channel of each image: the image's factor and the indices of
  /// the channel's values.
  private func forEachChannel(_ body: (Float, StrideTo<Int>) -> Void) {
    let channels = shape[2], size = shape[0] * shape[1] * channels
    for (image, factor) in factors.enumerated() {
      for c in 0..<channels {
        body(factor, stride(from: image * size + c, to: (image + 1) * size, by: channels))
      }
    }
  }

  /// Changes each image's contrast in training.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "RandomContrast", expected: shape)
    guard context.behavesAsTraining else {
      factors = []
      return x
    }
    let (lower, upper) = (1 - config.factor.lower, 1 + config.factor.upper)
    let drawn = drawPerImage(rows: x.shape[0], context: context, generator: &generator).map {
      lower + (upper - lower) * $0
    }
    return apply(x, factors: drawn)
  }

  /// `d/dx [(x - mean) · c + mean] = c · dy + (1 - c) · mean(dy)` per channel, where not clipped.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard !factors.isEmpty else { return outputGradient }
    let (low, high) = (config.valueRange[0], config.valueRange[1])
    inputGradient.reuse(shape: outputGradient.shape)
    outputGradient.withUnsafeBufferPointer { dy in
      output.withUnsafeBufferPointer { y in
        inputGradient.withUnsafeMutableBufferPointer { dx in
          forEachChannel { factor, pixels in
            // Through the clip first: a clipped output passes nothing.
            var sum: Float = 0
            for i in pixels where y[i] > low && y[i] < high { sum += dy[i] }
            let meanTerm = (1 - factor) * sum / Float(shape[0] * shape[1])
            for i in pixels { dx[i] = (y[i] > low && y[i] < high ? factor * dy[i] : 0) + meanTerm }
          }
        }
      }
    }
    return inputGradient
  }
}

// MARK: Resizing and CenterCrop
