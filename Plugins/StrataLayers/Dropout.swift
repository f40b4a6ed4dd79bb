import StrataCore

/// Sets a fraction `rate` of its inputs to 0 in training and scales the rest by `1 / (1 - rate)`
/// (inverted dropout); the identity at inference.
///
/// Keras: `Dropout(rate, noise_shape=None, seed=None)`. `noise_shape` (the batch axis first, `nil`
/// for an axis of the input's size) draws one mask value per slice of size 1 and repeats it:
/// EfficientNet's `noise_shape=(None, 1, 1, 1)` drops whole samples. Without a seed, the mask stream is drawn from the model's seeded
/// generator when the layer is built, so a seeded model drops the same units every run.
public final class Dropout: ShapePreservingLayer, RandomizedLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `rate`.
    public var rate: Float = 0
    /// Keras' `noise_shape`: the mask's shape, batch axis first; `nil` entries take the input's.
    public var noiseShape: [Int?]?
    /// Keras' `seed`.
    public var seed: UInt64?

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(rate: Float, seed: UInt64? = nil) {
      self.rate = rate
      self.seed = seed
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["rate"]
  }
  public static let identifier = "Dropout"
  public let config: Config
  public let declaredInputShape: [Int]?
  private var generator = SeededGenerator(seed: 0)
  private var mask = Tensor(shape: [0])
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])
  private var hasMask = false

  public convenience init(config: Config) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `Dropout(0.2)`, as in Keras.
  public convenience init(_ rate: Float, seed: UInt64? = nil, inputShape: [Int]? = nil) throws {
    try self.init(config: Config(rate: rate, seed: seed), inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.rate >= 0 && config.rate < 1,
      owner: "Dropout", argument: "rate", value: "\(config.rate)", expected: "a number in [0, 1)")
    if let noiseShape = config.noiseShape {
      try checkArgument(
        noiseShape.allSatisfy { ($0 ?? 1) > 0 }, owner: "Dropout", argument: "noise_shape",
        value: Self.describe(noiseShape), expected: "positive sizes or None")
    }
    self.config = config
    declaredInputShape = inputShape
    if let seed = config.seed { generator = SeededGenerator(seed: seed) }
  }

  /// The state of the mask generator (saved with the model).
  public var generatorState: [UInt64] {
    get { generator.state }
    set { generator.state = newValue }
  }

  /// `(None, 1, 1, 1)`.
  static func describe(_ shape: [Int?]) -> String {
    "(" + shape.map { $0.map(String.init) ?? "None" }.joined(separator: ", ") + ")"
  }

  /// The mask's shape for a batch of `shape`: the input's, or Keras' `noise_shape` with `None`s
  /// filled in.
  private func maskShape(for shape: [Int]) throws -> [Int] {
    guard let noiseShape = config.noiseShape else { return shape }
    guard noiseShape.count == shape.count,
      zip(noiseShape, shape).allSatisfy({ $0 == nil || $0 == 1 || $0 == $1 })
    else {
      throw StrataError.invalidArgument(
        owner: "Dropout", argument: "noise_shape", value: Self.describe(noiseShape),
        expected:
          "one size per axis of the input \(kerasShape(Array(shape.dropFirst()))), each None, 1 or the input's"
      )
    }
    return zip(noiseShape, shape).map { $0 ?? $1 }
  }

  /// Splits the mask generator's stream from the model's (without a seed) and keeps the shape.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let stream = generator.split()
    if config.seed == nil { self.generator = stream }
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "Dropout")
    guard context.behavesAsTraining, config.rate > 0 else {
      hasMask = false
      return x
    }
    let rate = config.rate, scale = 1 / (1 - config.rate)
    let drawn = try maskShape(for: x.shape)
    mask.reuse(shape: drawn)
    // Distributed, the rows of the other processes are drawn too (and dropped): the masks are the
    // global batch's, as one process draws them.
    let rows = drawn.first ?? 0
    let (before, after) = context.otherRowsDraws(
      rows: rows, perRow: rows == 0 ? 0 : mask.count / rows)
    for _ in 0..<before { _ = generator.nextUniform() }
    mask.withUnsafeMutableBufferPointer { m in
      for i in m.indices { m[i] = generator.nextUniform() >= rate ? scale : 0 }
    }
    for _ in 0..<after { _ = generator.nextUniform() }
    if drawn != x.shape { mask = Ops.expand(mask, to: x.shape) }
    output.reuse(shape: x.shape, in: context)
    x.withUnsafeBufferPointer { xs in
      mask.withUnsafeBufferPointer { m in
        output.withUnsafeMutableBufferPointer { context.kernels.multiply(xs, m, into: $0) }
      }
    }
    hasMask = true
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard hasMask else { return outputGradient }
    guard outputGradient.shape == mask.shape else {
      throw StrataError.shapeMismatch(
        layer: "Dropout (backward)", received: kerasShape(outputGradient.shape, batch: false),
        expected: kerasShape(mask.shape, batch: false))
    }
    inputGradient.reuse(shape: outputGradient.shape)
    outputGradient.withUnsafeBufferPointer { dy in
      mask.withUnsafeBufferPointer { m in
        inputGradient.withUnsafeMutableBufferPointer { context.kernels.multiply(dy, m, into: $0) }
      }
    }
    return inputGradient
  }
}

extension Dropout: PerCallState {
  /// The mask of the last call.
  public func saveCallState() -> Any { (mask, hasMask) }
  /// Puts back a call's mask.
  public func restoreCallState(_ state: Any) throws {
    guard let (mask, hasMask) = state as? (Tensor, Bool) else {
      throw StrataError.invalidState("Dropout: a call state that is not a Dropout's")
    }
    self.mask = mask
    self.hasMask = hasMask
  }
}
