import StrataCore

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
