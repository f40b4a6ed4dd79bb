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
