import StrataCore

/// Declares the shape of a model's input (without the batch axis); passes its input through.
///
/// Keras: `Input(shape=(28, 28))` / `InputLayer(batch_shape=(None, 28, 28))`. A `Sequential` model
/// takes its input shape from it and does not list it in `summary()`, as Keras does.
public final class InputLayer: Layer {
  public struct Config: Codable, Sendable, Equatable {
    /// The batch axis first (`nil`: any size), as Keras 3 saves it.
    public var batchShape: [Int?]
    public init(shape: [Int]) { batchShape = [nil] + shape.map { Optional($0) } }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      if let batchShape = try c.decodeIfPresent([Int?].self, forKey: .batchShape) {
        self.batchShape = batchShape
      } else if let shape = try c.decodeIfPresent([Int].self, forKey: .shape) {
        batchShape = [nil] + shape.map { Optional($0) }
      } else {
        throw DecodingError.keyNotFound(CodingKeys.shape, .init(codingPath: [], debugDescription: ""))
      }
    }
    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(batchShape, forKey: .batchShape)
    }
    private enum CodingKeys: String, CodingKey { case batchShape, shape }
  }
  public static let identifier = "InputLayer"
  public let config: Config
  /// The input shape without the batch axis.
  public let shape: [Int]
  public var declaredInputShape: [Int]? { shape }

  public init(config: Config) throws {
    let shape = config.batchShape.dropFirst().compactMap { $0 }
    guard config.batchShape.count >= 2, shape.count == config.batchShape.count - 1, shape.allSatisfy({ $0 > 0 }) else {
      throw StrataError.invalidArgument(
        owner: "InputLayer", argument: "shape", value: "\(config.batchShape.dropFirst().map { $0.map(String.init) ?? "None" })",
        expected: "positive sizes for every axis after the batch axis")
    }
    self.config = config
    self.shape = shape
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape == shape else {
      throw StrataError.shapeMismatch(layer: "InputLayer", received: kerasShape(inputShape), expected: kerasShape(shape))
    }
    return shape
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "InputLayer", expected: shape)
    return x
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor { outputGradient }
}

/// `Input(shape: [28, 28])`: the input of a model, as Keras' `keras.Input(shape=(28, 28))`.
public func Input(shape: [Int]) throws -> InputLayer {
  try InputLayer(config: .init(shape: shape))
}
