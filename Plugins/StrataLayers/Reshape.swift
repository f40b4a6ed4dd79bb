import StrataCore

/// Gives each sample a new shape of the same size; one axis may be `-1` (inferred). No copy is made.
///
/// Keras: `Reshape(target_shape)`.
public final class Reshape: Layer {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `target_shape`.
    public var targetShape: [Int] = []

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(targetShape: [Int]) {
      self.targetShape = targetShape
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["target_shape"]
  }
  public static let identifier = "Reshape"
  public let config: Config
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []
  private var outputShape: [Int] = []

  public convenience init(config: Config) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `Reshape([7, 7, 16])`.
  public convenience init(_ targetShape: [Int], inputShape: [Int]? = nil) throws {
    try self.init(config: Config(targetShape: targetShape), inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    guard config.targetShape.allSatisfy({ $0 > 0 || $0 == -1 }),
      config.targetShape.filter({ $0 == -1 }).count <= 1
    else {
      throw StrataError.invalidArgument(
        owner: "Reshape", argument: "target_shape", value: "\(config.targetShape)",
        expected: "positive sizes and at most one -1")
    }
    self.config = config
    declaredInputShape = inputShape
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let size = inputShape.reduce(1, *)
    let known = config.targetShape.filter { $0 != -1 }.reduce(1, *)
    var shape = config.targetShape
    if let unknown = shape.firstIndex(of: -1), known > 0, size % known == 0 {
      shape[unknown] = size / known
    }
    guard shape.reduce(1, *) == size, !shape.contains(-1) else {
      throw StrataError.shapeMismatch(
        layer: "Reshape", received: kerasShape(inputShape),
        expected:
          "an input of the same size as the target shape \(kerasShape(config.targetShape, batch: false))"
      )
    }
    self.inputShape = inputShape
    outputShape = shape
    return shape
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "Reshape", expected: inputShape)
    return try x.reshaped(to: [x.shape[0]] + outputShape)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try outputGradient.reshaped(to: [outputGradient.shape[0]] + inputShape)
  }
}
