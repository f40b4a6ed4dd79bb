import Foundation
import StrataCore

/// How an affine transform fills the pixels it takes from outside the image: Keras' `fill_mode`.
enum FillMode: String {
  case constant, nearest, wrap, mirror, reflect

  /// The input index an out-of-range `index` reads (JAX's `map_coordinates` rules); `nil` for a
  /// constant fill.
  func fix(_ index: Int, _ size: Int) -> Int? {
    func mirror(_ index: Int, _ size: Int) -> Int {
      let s = size - 1
      guard s > 0 else { return 0 }
      let m = ((index + s) % (2 * s) + 2 * s) % (2 * s)
      return abs(m - s)
    }
    switch self {
    case .constant: return index >= 0 && index < size ? index : nil
    case .nearest: return min(max(index, 0), size - 1)
    case .wrap: return ((index % size) + size) % size
    case .mirror: return mirror(index, size)
    case .reflect:
      let value = mirror(2 * index + 1, 2 * size + 1) - 1
      return value >= 0 ? value / 2 : (value - 1) / 2
    }
  }
}

/// The arguments Keras' random affine image layers share, flat in their configs (decoded from the same decoder).
public struct AffineSampling: Equatable, KerasConfig {
  /// Keras' `fill_mode`: `"reflect"`, `"wrap"`, `"constant"` or `"nearest"`.
  public var fillMode: String = "reflect"
  /// Keras' `interpolation`: `"bilinear"` or `"nearest"`.
  public var interpolation: String = "bilinear"
  /// Keras' `seed`.
  public var seed: Int?
  /// Keras' `fill_value`, for `"constant"`.
  public var fillValue: Float = 0

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(
    fillMode: String = AffineSampling().fillMode,
    interpolation: String = AffineSampling().interpolation, seed: Int? = nil,
    fillValue: Float = AffineSampling().fillValue
  ) {
    self.fillMode = fillMode
    self.interpolation = interpolation
    self.seed = seed
    self.fillValue = fillValue
  }
}

/// The random affine image layers' shared arguments and sampling: each image of a training batch is
/// resampled through its own transform `[a0, a1, a2, b0, b1, b2]` (input column `a0·x + a1·y + a2`,
/// row `b0·x + b1·y + b2` for output column `x`, row `y`), bilinear or nearest, with Keras' fill modes;
/// the identity at inference. The gradient goes back through the same sampling weights.
public class RandomAffineLayer: RandomImageLayer {
  let fill: FillMode
  let fillValue: Float
  let nearest: Bool
  private var transforms: [[Float]] = []
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  init(_ sampling: AffineSampling, layer: String) throws {
    guard let fill = FillMode(rawValue: sampling.fillMode), fill != .mirror else {
      throw StrataError.invalidArgument(
        owner: layer, argument: "fill_mode", value: "'\(sampling.fillMode)'",
        expected: "\"reflect\", \"wrap\", \"constant\" or \"nearest\"")
    }
    try checkArgument(
      ["bilinear", "nearest"].contains(sampling.interpolation),
      owner: layer, argument: "interpolation", value: "'\(sampling.interpolation)'",
      expected: "\"bilinear\" or \"nearest\"")
    try checkArgument(
      sampling.fillValue.isFinite,
      owner: layer, argument: "fill_value", value: "\(sampling.fillValue)",
      expected: "a finite number")
    self.fill = fill
    fillValue = sampling.fillValue
    nearest = sampling.interpolation == "nearest"
    super.init(seed: sampling.seed)
  }

  /// For each input pixel an output pixel reads: (input offset, weight) pairs, and the weight of the
  /// fill value; `body` gets them per output element.
  private func sample(
    transform t: [Float],
    _ body: (_ output: Int, _ taps: [(Int, Float)], _ fillWeight: Float) -> Void
  ) {
    let (height, width) = (shape[0], shape[1])
    for row in 0..<height {
      for column in 0..<width {
        let (x, y) = (Float(column), Float(row))
        let sourceColumn = t[0] * x + t[1] * y + t[2]
        let sourceRow = t[3] * x + t[4] * y + t[5]
        var taps: [(Int, Float)] = []
        var fillWeight: Float = 0
        func tap(_ r: Int, _ c: Int, _ weight: Float) {
          guard weight != 0 else { return }
          if let rr = fill.fix(r, height), let cc = fill.fix(c, width) {
            taps.append((rr * width + cc, weight))
          } else {
            fillWeight += weight
          }
        }
        if nearest {
          tap(
            Int(sourceRow.rounded(.toNearestOrAwayFromZero)),
            Int(sourceColumn.rounded(.toNearestOrAwayFromZero)), 1)
        } else {
          let (top, left) = (sourceRow.rounded(.down), sourceColumn.rounded(.down))
          let (dy, dx) = (sourceRow - top, sourceColumn - left)
          let (r, c) = (Int(top), Int(left))
          tap(r, c, (1 - dy) * (1 - dx))
          tap(r, c + 1, (1 - dy) * dx)
          tap(r + 1, c, dy * (1 - dx))
          tap(r + 1, c + 1, dy * dx)
        }
        body(row * width + column, taps, fillWeight)
      }
    }
  }

  /// Resamples each image through its transform (6 numbers per image); ``backward(_:in:)`` then
  /// differentiates this call.
  public func apply(_ x: Tensor, transforms: [[Float]]) -> Tensor {
    self.transforms = transforms
    let channels = shape[2], size = shape[0] * shape[1] * channels
    output.reuse(shape: x.shape)
    let fillValue = self.fillValue
    x.withUnsafeBufferPointer { source in
      output.withUnsafeMutableBufferPointer { target in
        for (image, t) in transforms.enumerated() {
          let base = image * size
          sample(transform: t) { pixel, taps, fillWeight in
            for c in 0..<channels {
              var value = fillWeight * fillValue
              for (offset, weight) in taps {
                value += weight * source[base + offset * channels + c]
              }
              target[base + pixel * channels + c] = value
            }
          }
        }
      }
    }
    return output
  }

  /// Each image's transform for a training batch of `rows` images.
  func drawTransforms(rows: Int, context: Context) -> [[Float]] { [] }

  /// Resamples each image through a drawn transform in training; passes through otherwise.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: String(describing: type(of: self)), expected: shape)
    guard context.behavesAsTraining else {
      transforms = []
      return x
    }
    return apply(x, transforms: drawTransforms(rows: x.shape[0], context: context))
  }

  /// The output gradient sent back along the sampling weights.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard !transforms.isEmpty else { return outputGradient }
    let channels = shape[2], size = shape[0] * shape[1] * channels
    inputGradient.reuse(shape: outputGradient.shape)
    inputGradient.withUnsafeMutableBufferPointer { target in
      target.update(repeating: 0)
      outputGradient.withUnsafeBufferPointer { source in
        for (image, t) in transforms.enumerated() {
          let base = image * size
          sample(transform: t) { pixel, taps, _ in
            for c in 0..<channels {
              let g = source[base + pixel * channels + c]
              for (offset, weight) in taps { target[base + offset * channels + c] += weight * g }
            }
          }
        }
      }
    }
    return inputGradient
  }
}

/// Shifts each image by a random fraction of its height and width in training. Keras:
/// `RandomTranslation(height_factor, width_factor, fill_mode="reflect", interpolation="bilinear")`.
public final class RandomTranslation: RandomAffineLayer, Layer, RandomizedLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The vertical shift's range, a fraction of the height (`f` for `[-f, f]`).
    public var heightFactor: FactorRange = FactorRange(0, 0)
    /// The horizontal shift's range, a fraction of the width.
    public var widthFactor: FactorRange = FactorRange(0, 0)
    /// Keras' `fill_mode`, `interpolation`, `seed` and `fill_value`.
    public var sampling: AffineSampling = AffineSampling()

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      heightFactor: FactorRange, widthFactor: FactorRange,
      sampling: AffineSampling = Config().sampling
    ) {
      self.heightFactor = heightFactor
      self.widthFactor = widthFactor
      self.sampling = sampling
    }

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> {
      Set<String>(["height_factor", "width_factor"]).union(AffineSampling.requiredArguments)
    }

    enum CodingKeys: String, CodingKey { case heightFactor, widthFactor }

    /// Decodes the arguments, the flattened ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      heightFactor = try container.decode(FactorRange.self, forKey: .heightFactor)
      widthFactor = try container.decode(FactorRange.self, forKey: .widthFactor)
      sampling = try AffineSampling(from: decoder)
    }

    /// Encodes the arguments, the flattened ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(heightFactor, forKey: .heightFactor)
      try container.encode(widthFactor, forKey: .widthFactor)
      try sampling.encode(to: encoder)
    }
  }
  /// The registry key.
  public static let identifier = "RandomTranslation"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    try checkFactor(
      config.heightFactor, bounds: -1...1, argument: "height_factor", layer: "RandomTranslation")
    try checkFactor(
      config.widthFactor, bounds: -1...1, argument: "width_factor", layer: "RandomTranslation")
    self.config = config
    try super.init(config.sampling, layer: "RandomTranslation")
  }

  /// `RandomTranslation(0.1, 0.1)`.
  public convenience init(
    _ heightFactor: Float, _ widthFactor: Float, fillMode: String = "reflect", seed: Int? = nil
  ) throws {
    try self.init(
      config: Config(
        heightFactor: FactorRange(-abs(heightFactor), abs(heightFactor)),
        widthFactor: FactorRange(-abs(widthFactor), abs(widthFactor)),
        sampling: AffineSampling(fillMode: fillMode, seed: seed)))
  }

  override func drawTransforms(rows: Int, context: Context) -> [[Float]] {
    let draws = drawPerImage(rows: rows, count: 2, context: context, generator: &generator)
    let (h, w) = (config.heightFactor, config.widthFactor)
    return (0..<rows).map { i in
      let dy = (h.lower + (h.upper - h.lower) * draws[2 * i]) * Float(shape[0])
      let dx = (w.lower + (w.upper - w.lower) * draws[2 * i + 1]) * Float(shape[1])
      return [1, 0, -dx, 0, 1, -dy]
    }
  }

}

/// Zooms each image in or out by a random factor in training, about its centre. Keras:
/// `RandomZoom(height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear")`
/// (no `width_factor`: the same zoom on both axes).
public final class RandomZoom: RandomAffineLayer, Layer, RandomizedLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The vertical zoom's range: the factor is `1 + uniform(lower, upper)`.
    public var heightFactor: FactorRange = FactorRange(0, 0)
    /// The horizontal zoom's range; the vertical zoom when `nil`.
    public var widthFactor: FactorRange?
    /// Keras' `fill_mode`, `interpolation`, `seed` and `fill_value`.
    public var sampling: AffineSampling = AffineSampling()

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      heightFactor: FactorRange, widthFactor: FactorRange? = nil,
      sampling: AffineSampling = Config().sampling
    ) {
      self.heightFactor = heightFactor
      self.widthFactor = widthFactor
      self.sampling = sampling
    }

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> {
      Set<String>(["height_factor"]).union(AffineSampling.requiredArguments)
    }

    enum CodingKeys: String, CodingKey { case heightFactor, widthFactor }

    /// Decodes the arguments, the flattened ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      heightFactor = try container.decode(FactorRange.self, forKey: .heightFactor)
      widthFactor = try container.decodeIfPresent(FactorRange.self, forKey: .widthFactor)
      sampling = try AffineSampling(from: decoder)
    }

    /// Encodes the arguments, the flattened ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(heightFactor, forKey: .heightFactor)
      try container.encodeIfPresent(widthFactor, forKey: .widthFactor)
      try sampling.encode(to: encoder)
    }
  }
  /// The registry key.
  public static let identifier = "RandomZoom"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    try checkFactor(
      config.heightFactor, bounds: -1...1, argument: "height_factor", layer: "RandomZoom")
    if let width = config.widthFactor {
      try checkFactor(width, bounds: -1...1, argument: "width_factor", layer: "RandomZoom")
    }
    self.config = config
    try super.init(config.sampling, layer: "RandomZoom")
  }

  /// `RandomZoom(0.2)`.
  public convenience init(_ heightFactor: Float, seed: Int? = nil) throws {
    try self.init(
      config: Config(
        heightFactor: FactorRange(-abs(heightFactor), abs(heightFactor)),
        sampling: AffineSampling(seed: seed)))
  }

  override func drawTransforms(rows: Int, context: Context) -> [[Float]] {
    let count = config.widthFactor == nil ? 1 : 2
    let draws = drawPerImage(rows: rows, count: count, context: context, generator: &generator)
    let h = config.heightFactor, w = config.widthFactor ?? config.heightFactor
    return (0..<rows).map { i in
      let zy = 1 + h.lower + (h.upper - h.lower) * draws[count * i]
      let zx = count == 1 ? zy : 1 + w.lower + (w.upper - w.lower) * draws[count * i + 1]
      return zoomTransform(zx: zx, zy: zy)
    }
  }

  /// Keras' zoom matrix for zooms `zx`, `zy` about the image's centre.
  public func zoomTransform(zx: Float, zy: Float) -> [Float] {
    let xOffset = (Float(shape[1]) - 1) / 2 * (1 - zx)
    let yOffset = (Float(shape[0]) - 1) / 2 * (1 - zy)
    return [zx, 0, xOffset, 0, zy, yOffset]
  }

}

/// Rotates each image by a random angle about its centre in training: `factor` is a fraction of a
/// full turn (`0.1` for up to ±36°). Keras: `RandomRotation(factor, fill_mode="reflect",
/// interpolation="bilinear")`.
public final class RandomRotation: RandomAffineLayer, Layer, RandomizedLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The angle's range as a fraction of 360° (`f` for `[-f, f]`).
    public var factor: FactorRange = FactorRange(0, 0)
    /// Keras' `fill_mode`, `interpolation`, `seed` and `fill_value`.
    public var sampling: AffineSampling = AffineSampling()

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(factor: FactorRange, sampling: AffineSampling = Config().sampling) {
      self.factor = factor
      self.sampling = sampling
    }

    /// Keras' arguments without a default.
    public static var requiredArguments: Set<String> {
      Set<String>(["factor"]).union(AffineSampling.requiredArguments)
    }

    enum CodingKeys: String, CodingKey { case factor }

    /// Decodes the arguments, the flattened ones from the same container.
    public init(from decoder: any Decoder) throws {
      let container = try decoder.container(keyedBy: CodingKeys.self)
      factor = try container.decode(FactorRange.self, forKey: .factor)
      sampling = try AffineSampling(from: decoder)
    }

    /// Encodes the arguments, the flattened ones into the same container.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(factor, forKey: .factor)
      try sampling.encode(to: encoder)
    }
  }
  /// The registry key.
  public static let identifier = "RandomRotation"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    try checkFactor(config.factor, bounds: -1...1, argument: "factor", layer: "RandomRotation")
    self.config = config
    try super.init(config.sampling, layer: "RandomRotation")
  }

  /// `RandomRotation(0.1)`.
  public convenience init(_ factor: Float, fillMode: String = "reflect", seed: Int? = nil) throws {
    try self.init(
      config: Config(
        factor: FactorRange(-abs(factor), abs(factor)),
        sampling: AffineSampling(fillMode: fillMode, seed: seed)))
  }

  override func drawTransforms(rows: Int, context: Context) -> [[Float]] {
    let f = config.factor
    return drawPerImage(rows: rows, context: context, generator: &generator).map {
      rotationTransform(degrees: (f.lower + (f.upper - f.lower) * $0) * 360)
    }
  }

  /// Keras' rotation matrix for `degrees` about the centre `((width - 1) / 2, (height - 1) / 2)`.
  public func rotationTransform(degrees: Float) -> [Float] {
    let angle = degrees * .pi / 180
    let (c, s) = (cos(angle), sin(angle))
    let cx = 0.5 * (Float(shape[1]) - 1), cy = 0.5 * (Float(shape[0]) - 1)
    let (a0, a1, b0, b1) = (c, -s, s, c)
    return [a0, a1, cx - cx * a0 - cy * a1, b0, b1, cy - cx * b0 - cy * b1]
  }

}

/// Refuses a factor outside `bounds`.
func checkFactor(_ factor: FactorRange, bounds: ClosedRange<Float>, argument: String, layer: String)
  throws
{
  guard factor.lower.isFinite, factor.upper.isFinite, bounds.contains(factor.lower),
    bounds.contains(factor.upper)
  else {
    throw StrataError.invalidArgument(
      owner: layer, argument: argument, value: "[\(factor.lower), \(factor.upper)]",
      expected: "a number or two numbers within [\(bounds.lowerBound), \(bounds.upperBound)]")
  }
}
