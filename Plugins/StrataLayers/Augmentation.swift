import StrataCore

/// Keras' `factor` of the random image layers: one number or a `[lower, upper]` pair.
public struct FactorRange: Codable, Sendable, Equatable {
  /// The range's ends, as Keras normalizes them.
  public var lower: Float
  /// The upper end.
  public var upper: Float
  /// `(lower, upper)` as given.
  public init(_ lower: Float, _ upper: Float) {
    self.lower = lower
    self.upper = upper
  }
  /// A number or a pair.
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Float.self) {
      (lower, upper) = (-value, value)
    } else {
      let pair = try container.decode([Float].self)
      guard pair.count == 2 else {
        throw DecodingError.dataCorruptedError(
          in: container, debugDescription: "a number or a list of two numbers")
      }
      (lower, upper) = (min(pair[0], pair[1]), max(pair[0], pair[1]))
    }
  }
  /// `[lower, upper]`.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode([lower, upper])
  }
}

/// Draws `count` uniform numbers per image of the batch, for every image of a distributed step's
/// global batch, keeping this process's: so N processes draw what one would (``Context/globalBatch``).
func drawPerImage(
  rows: Int, count: Int = 1, context: Context, generator: inout SeededGenerator
) -> [Float] {
  let (before, after) = context.otherRowsDraws(rows: rows, perRow: count)
  for _ in 0..<before { _ = generator.nextUniform() }
  let values = (0..<(rows * count)).map { _ in generator.nextUniform() }
  for _ in 0..<after { _ = generator.nextUniform() }
  return values
}

/// What the random image layers share: their own seeded generator (split from the model's at build
/// unless a `seed` is given), saved with the model, and the image shape they were built for.
public class RandomImageLayer {
  var generator: SeededGenerator
  var shape: [Int] = []
  private let hasSeed: Bool

  init(seed: Int?) {
    generator = SeededGenerator(seed: UInt64(bitPattern: Int64(seed ?? 0)))
    hasSeed = seed != nil
  }

  /// The generator's state, saved with the model.
  public var generatorState: [UInt64] {
    get { generator.state }
    set { generator.state = newValue }
  }

  /// Takes images `(height, width, channels)` and gives the same shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try buildImages(inputShape, layer: String(describing: type(of: self)), generator: &generator)
  }

  /// Checks that the input is images and takes a generator stream from the model's.
  func buildImages(_ inputShape: [Int], layer: String, generator: inout SeededGenerator) throws
    -> [Int]
  {
    try requireImages(inputShape, layer: layer)
    let stream = generator.split()
    if !hasSeed { self.generator = stream }
    shape = inputShape
    return inputShape
  }
}

/// The arguments of `RandomBrightness` and `RandomContrast`.
public struct RandomIntensityConfig: Equatable, KerasConfig {
  /// Keras' `factor`: a number or `[lower, upper]`.
  public var factor: FactorRange = FactorRange(0, 0)
  /// Keras' `value_range`: the pixels' range, which outputs are clipped to.
  public var valueRange: [Float] = [0, 255]
  /// Keras' `seed`.
  public var seed: Int?

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(
    factor: FactorRange, valueRange: [Float] = RandomIntensityConfig().valueRange, seed: Int? = nil
  ) {
    self.factor = factor
    self.valueRange = valueRange
    self.seed = seed
  }

  /// Keras' arguments without a default.
  public static let requiredArguments: Set<String> = ["factor"]
}

// MARK: RandomFlip

/// Flips each image horizontally and/or vertically with probability ½, in training only; the identity
/// at inference. Keras: `RandomFlip(mode="horizontal_and_vertical", seed=None)`.
public final class RandomFlip: RandomImageLayer, Layer, RandomizedLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// `"horizontal"`, `"vertical"` or `"horizontal_and_vertical"`.
    public var mode: String = "horizontal_and_vertical"
    /// Keras' `seed`: the flips' own generator; the model's when `nil`.
    public var seed: Int?

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(mode: String = Config().mode, seed: Int? = nil) {
      self.mode = mode
      self.seed = seed
    }
  }
  /// The registry key.
  public static let identifier = "RandomFlip"
  /// The arguments.
  public let config: Config
  /// The last training call's flips per image: (horizontal, vertical).
  private var flips: [(Bool, Bool)] = []
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  /// A layer of `config`.
  public init(config: Config) throws {
    try checkArgument(
      ["horizontal", "vertical", "horizontal_and_vertical"].contains(config.mode),
      owner: "RandomFlip", argument: "mode", value: "'\(config.mode)'",
      expected: "\"horizontal\", \"vertical\" or \"horizontal_and_vertical\"")
    self.config = config
    super.init(seed: config.seed)
  }

  /// `RandomFlip("horizontal", seed: 3)`.
  public convenience init(_ mode: String = "horizontal_and_vertical", seed: Int? = nil) throws {
    try self.init(config: Config(mode: mode, seed: seed))
  }

  private func apply(_ x: Tensor, into y: inout Tensor, flips: [(Bool, Bool)]) {
    let (height, width, channels) = (shape[0], shape[1], shape[2])
    let size = height * width * channels
    y.reuse(shape: x.shape)
    x.withUnsafeBufferPointer { source in
      y.withUnsafeMutableBufferPointer { target in
        for (image, (horizontal, vertical)) in flips.enumerated() {
          for row in 0..<height {
            let fromRow = vertical ? height - 1 - row : row
            for column in 0..<width {
              let fromColumn = horizontal ? width - 1 - column : column
              let to = image * size + (row * width + column) * channels
              let from = image * size + (fromRow * width + fromColumn) * channels
              for c in 0..<channels { target[to + c] = source[from + c] }
            }
          }
        }
      }
    }
  }

  /// Flips in training (a flip per image and axis, Keras' `uniform ≤ 0.5`), passes through otherwise.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "RandomFlip", expected: shape)
    guard context.behavesAsTraining else {
      flips = []
      return x
    }
    let rows = x.shape[0]
    let draws = drawPerImage(rows: rows, count: 2, context: context, generator: &generator)
    let horizontal = config.mode != "vertical", vertical = config.mode != "horizontal"
    flips = (0..<rows).map {
      (horizontal && draws[2 * $0] <= 0.5, vertical && draws[2 * $0 + 1] <= 0.5)
    }
    apply(x, into: &output, flips: flips)
    return output
  }

  /// The same flips, undone on the gradient.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard !flips.isEmpty else { return outputGradient }
    apply(outputGradient, into: &inputGradient, flips: flips)
    return inputGradient
  }
}

// MARK: RandomBrightness and RandomContrast

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

/// Resizes images to `(height, width)` with bilinear interpolation (half-pixel centres, as TensorFlow
/// and JAX resize without antialiasing), in training and inference alike. Keras: `Resizing(height,
/// width, interpolation="bilinear")`.
public final class Resizing: BilinearMapLayer, Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The output height.
    public var height: Int = 0
    /// The output width.
    public var width: Int = 0
    /// Keras' `interpolation`: `"bilinear"` (the only one Strata has).
    public var interpolation: String = "bilinear"
    /// Keras' `crop_to_aspect_ratio` (false only).
    public var cropToAspectRatio: Bool = false
    /// Keras' `pad_to_aspect_ratio` (false only).
    public var padToAspectRatio: Bool = false
    /// Keras' `antialias` (false only).
    public var antialias: Bool = false

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      height: Int, width: Int, interpolation: String = Config().interpolation,
      cropToAspectRatio: Bool = Config().cropToAspectRatio,
      padToAspectRatio: Bool = Config().padToAspectRatio, antialias: Bool = Config().antialias
    ) {
      self.height = height
      self.width = width
      self.interpolation = interpolation
      self.cropToAspectRatio = cropToAspectRatio
      self.padToAspectRatio = padToAspectRatio
      self.antialias = antialias
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["height", "width"]
  }
  /// The registry key.
  public static let identifier = "Resizing"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    for (argument, on) in [
      ("crop_to_aspect_ratio", config.cropToAspectRatio),
      ("pad_to_aspect_ratio", config.padToAspectRatio),
      ("antialias", config.antialias),
    ] where on {
      throw StrataError.invalidArgument(
        owner: "Resizing", argument: argument, value: "true", expected: "false (not supported)")
    }
    try checkArgument(
      config.interpolation == "bilinear",
      owner: "Resizing", argument: "interpolation", value: "'\(config.interpolation)'",
      expected: "\"bilinear\" (the only interpolation Strata has)")
    self.config = config
    try super.init(height: config.height, width: config.width)
  }

  /// `Resizing(64, 64)`.
  public convenience init(_ height: Int, _ width: Int) throws {
    try self.init(config: Config(height: height, width: width))
  }

  override func map(from input: (Int, Int)) -> BilinearMap {
    BilinearMap(from: input, crop: (0, 0, input.0, input.1), to: size)
  }
}

/// Crops the centre `(height, width)` of each image; an image smaller than that in either side is
/// cropped to the target's aspect ratio and resized (Keras' `smart_resize`). Keras:
/// `CenterCrop(height, width)`.
public final class CenterCrop: BilinearMapLayer, Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The output height.
    public var height: Int = 0
    /// The output width.
    public var width: Int = 0

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(height: Int, width: Int) {
      self.height = height
      self.width = width
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["height", "width"]
  }
  /// The registry key.
  public static let identifier = "CenterCrop"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    self.config = config
    try super.init(height: config.height, width: config.width)
  }

  /// `CenterCrop(224, 224)`.
  public convenience init(_ height: Int, _ width: Int) throws {
    try self.init(config: Config(height: height, width: width))
  }

  override func map(from input: (Int, Int)) -> BilinearMap {
    BilinearMap(centreOf: input, to: size)
  }
}

/// What Resizing and CenterCrop share: one bilinear map from the input images to `(height, width)`,
/// made at build, applied forward and transposed backward.
public class BilinearMapLayer {
  let size: (Int, Int)
  private var shape: [Int] = []
  private var map = BilinearMap()
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])
  private var name: String { String(describing: type(of: self)) }

  init(height: Int, width: Int) throws {
    size = (height, width)
    try checkSize(height, width, layer: name)
  }

  /// The map from input images of `input` (height, width) to `size`.
  func map(from input: (Int, Int)) -> BilinearMap { preconditionFailure("overridden") }

  /// Takes images `(height, width, channels)`; gives `(config.height, config.width, channels)`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: name)
    shape = inputShape
    map = map(from: (inputShape[0], inputShape[1]))
    return [size.0, size.1, inputShape[2]]
  }

  /// The images sampled through the map.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: name, expected: shape)
    map.apply(x, channels: shape[2], into: &output)
    return output
  }

  /// The gradient spread back over the pixels each output sampled.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    map.transpose(outputGradient, channels: shape[2], into: &inputGradient)
    return inputGradient
  }
}

/// Crops a random `(height, width)` window in training (one offset for the whole batch, as Keras 3
/// draws it) and the centre window at inference; an image smaller than the window in either side is
/// cropped to its aspect ratio and resized (Keras' `smart_resize`), in both modes. Keras:
/// `RandomCrop(height, width, seed=None)` (whose inference path, in Keras 3.15, returns the images
/// uncropped, against its own output shape; Strata crops the centre as Keras' documentation says).
public final class RandomCrop: RandomImageLayer, Layer, RandomizedLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The output height.
    public var height: Int = 0
    /// The output width.
    public var width: Int = 0
    /// Keras' `seed`.
    public var seed: Int?

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(height: Int, width: Int, seed: Int? = nil) {
      self.height = height
      self.width = width
      self.seed = seed
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["height", "width"]
  }
  /// The registry key.
  public static let identifier = "RandomCrop"
  /// The arguments.
  public let config: Config
  private var centre = BilinearMap()
  /// The random window of the last training step, refilled in place.
  private var window = BilinearMap()
  /// Whether the last forward pass sampled `window` (else `centre`).
  private var cropped = false
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  /// A layer of `config`.
  public init(config: Config) throws {
    try checkSize(config.height, config.width, layer: "RandomCrop")
    self.config = config
    super.init(seed: config.seed)
  }

  /// `RandomCrop(24, 24, seed: 1)`.
  public convenience init(_ height: Int, _ width: Int, seed: Int? = nil) throws {
    try self.init(config: Config(height: height, width: width, seed: seed))
  }

  /// Takes images `(height, width, channels)`; gives `(config.height, config.width, channels)`.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    _ = try buildImages(inputShape, layer: "RandomCrop", generator: &generator)
    centre = BilinearMap(
      centreOf: (inputShape[0], inputShape[1]), to: (config.height, config.width))
    return [config.height, config.width, inputShape[2]]
  }

  /// A random window of the batch in training, the centre one otherwise.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "RandomCrop", expected: shape)
    let (inHeight, inWidth) = (shape[0], shape[1])
    cropped = context.behavesAsTraining && inHeight > config.height && inWidth > config.width
    if cropped {
      let top = Int(generator.nextUniform() * Float(inHeight - config.height + 1))
      let left = Int(generator.nextUniform() * Float(inWidth - config.width + 1))
      window.set(
        from: (inHeight, inWidth),
        crop: (
          min(top, inHeight - config.height), min(left, inWidth - config.width), config.height,
          config.width
        ), to: (config.height, config.width))
    }
    (cropped ? window : centre).apply(x, channels: shape[2], into: &output)
    return output
  }

  /// The gradient back on the window the output came from.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    (cropped ? window : centre).transpose(outputGradient, channels: shape[2], into: &inputGradient)
    return inputGradient
  }
}

/// Bilinear sampling of a window `crop` (top, left, height, width) of `from` images into `to`:
/// each output pixel mixes four input pixels with fixed weights, computed once at build.
struct BilinearMap {
  var inputSize = (0, 0)
  var outputSize = (0, 0)
  /// For each output row: top and bottom input rows and the weight of the bottom one.
  var rows: [(Int, Int, Float)] = []
  /// For each output column: left and right input columns and the weight of the right one.
  var columns: [(Int, Int, Float)] = []

  init() {}

  /// Keras' centre crop: the centre window when the image is at least that large, else the largest
  /// centred window of the target's aspect ratio, resized (`smart_resize`).
  init(centreOf input: (Int, Int), to output: (Int, Int)) {
    let (inHeight, inWidth) = input, (height, width) = output
    if inHeight >= height && inWidth >= width {
      self.init(
        from: input, crop: ((inHeight - height) / 2, (inWidth - width) / 2, height, width),
        to: output)
    } else {
      let cropHeight = max(min(inHeight, Int(Float(inWidth * height) / Float(width))), 1)
      let cropWidth = max(min(inWidth, Int(Float(inHeight * width) / Float(height))), 1)
      self.init(
        from: input,
        crop: ((inHeight - cropHeight) / 2, (inWidth - cropWidth) / 2, cropHeight, cropWidth),
        to: output)
    }
  }

  init(from: (Int, Int), crop: (Int, Int, Int, Int), to: (Int, Int)) {
    set(from: from, crop: crop, to: to)
  }

  /// Makes this the map of `crop` of `from` images into `to`, reusing its arrays (RandomCrop draws a
  /// window every training step).
  mutating func set(from: (Int, Int), crop: (Int, Int, Int, Int), to: (Int, Int)) {
    inputSize = from
    outputSize = to
    // Half-pixel centres: output i samples the window at (i + 0.5) · in/out - 0.5, clamped.
    func weights(_ i: Int, _ start: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Float) {
      let position = max((Float(i) + 0.5) * Float(inSize) / Float(outSize) - 0.5, 0)
      let low = Int(position.rounded(.down))
      let high = min(low + 1, inSize - 1)
      return (start + min(low, inSize - 1), start + high, position - Float(low))
    }
    rows.removeAll(keepingCapacity: true)
    columns.removeAll(keepingCapacity: true)
    for i in 0..<to.0 { rows.append(weights(i, crop.0, crop.2, to.0)) }
    for i in 0..<to.1 { columns.append(weights(i, crop.1, crop.3, to.1)) }
  }

  func apply(_ x: Tensor, channels: Int, into y: inout Tensor) {
    let images = x.shape[0]
    let inSize = inputSize.0 * inputSize.1 * channels
    let outSize = outputSize.0 * outputSize.1 * channels
    y.reuse(shape: [images, outputSize.0, outputSize.1, channels])
    x.withUnsafeBufferPointer { source in
      y.withUnsafeMutableBufferPointer { target in
        for image in 0..<images {
          let s = image * inSize, t = image * outSize
          for (row, (top, bottom, dy)) in rows.enumerated() {
            for (column, (left, right, dx)) in columns.enumerated() {
              for c in 0..<channels {
                func at(_ r: Int, _ q: Int) -> Float {
                  source[s + (r * inputSize.1 + q) * channels + c]
                }
                let upper = at(top, left) + (at(top, right) - at(top, left)) * dx
                let lower = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * dx
                target[t + (row * outputSize.1 + column) * channels + c] =
                  upper + (lower - upper) * dy
              }
            }
          }
        }
      }
    }
  }

  /// The transpose of ``apply(_:channels:into:)``: each output gradient spread over its four pixels.
  func transpose(_ dy: Tensor, channels: Int, into dx: inout Tensor) {
    let images = dy.shape[0]
    let inSize = inputSize.0 * inputSize.1 * channels
    let outSize = outputSize.0 * outputSize.1 * channels
    dx.reuse(shape: [images, inputSize.0, inputSize.1, channels])
    dx.withUnsafeMutableBufferPointer { target in
      target.update(repeating: 0)
      dy.withUnsafeBufferPointer { source in
        for image in 0..<images {
          let s = image * outSize, t = image * inSize
          for (row, (top, bottom, wy)) in rows.enumerated() {
            for (column, (left, right, wx)) in columns.enumerated() {
              for c in 0..<channels {
                let g = source[s + (row * outputSize.1 + column) * channels + c]
                func add(_ r: Int, _ q: Int, _ w: Float) {
                  target[t + (r * inputSize.1 + q) * channels + c] += g * w
                }
                add(top, left, (1 - wy) * (1 - wx))
                add(top, right, (1 - wy) * wx)
                add(bottom, left, wy * (1 - wx))
                add(bottom, right, wy * wx)
              }
            }
          }
        }
      }
    }
  }
}

/// Refuses a non-positive or oversized output size.
func checkSize(_ height: Int, _ width: Int, layer: String) throws {
  try checkArgument(
    height > 0 && width > 0 && height <= 1 << 15 && width <= 1 << 15,
    owner: layer, argument: height > 0 && height <= 1 << 15 ? "width" : "height",
    value: "\(height > 0 && height <= 1 << 15 ? width : height)",
    expected: "a size from 1 to 32768")
}

/// Refuses a factor outside `bounds` or a value range that is not two increasing finite numbers.
func checkFactorAndRange(
  _ factor: FactorRange, bounds: ClosedRange<Float>, _ valueRange: [Float], layer: String
) throws {
  guard factor.lower.isFinite, factor.upper.isFinite, bounds.contains(factor.lower),
    bounds.contains(factor.upper)
  else {
    throw StrataError.invalidArgument(
      owner: layer, argument: "factor", value: "[\(factor.lower), \(factor.upper)]",
      expected: "a number or two numbers within [\(bounds.lowerBound), \(bounds.upperBound)]")
  }
  guard valueRange.count == 2, valueRange.allSatisfy(\.isFinite), valueRange[0] < valueRange[1]
  else {
    throw StrataError.invalidArgument(
      owner: layer, argument: "value_range", value: "\(valueRange)",
      expected: "[low, high] with low < high")
  }
}
