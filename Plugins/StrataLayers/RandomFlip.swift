import StrataCore

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
