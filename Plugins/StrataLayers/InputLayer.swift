import StrataCore

/// Declares the shape of a model's input (without the batch axis); passes its input through.
///
/// Keras: `Input(shape=(28, 28))` / `InputLayer(batch_shape=(None, 28, 28))`. A `Sequential` model
/// takes its input shape from it and does not list it in `summary()`, as Keras does.
public final class InputLayer: Layer {
  /// The Keras arguments, decoded by hand: Keras' several spellings of the shape.
  public struct Config: Codable, Sendable, Equatable, ConfigReadsMoreKeys, ConfigDecodesDType {
    /// Keras 3 writes `batch_shape`; `shape` (without the batch axis), `optional` and Keras 2's
    /// `batch_input_shape` are read too.
    public static let readOnlyKeys: Set<String> = ["shape", "optional", "batch_input_shape"]
    /// The batch axis first (`nil`: any size), as Keras 3 saves it.
    public var batchShape: [Int?]
    /// Keras' `dtype`: `"float32"`, or `"int32"`/`"int64"` for token ids (held as exact floats up
    /// to 2^24, fed to an `Embedding`).
    public var dtype: String = "float32"
    /// The element types an input may declare.
    public static let dtypes = ["float32", "int32", "int64"]
    /// The arguments given, Keras' defaults for the others.
    public init(shape: [Int], dtype: String = "float32") {
      batchShape = [nil] + shape.map { Optional($0) }
      self.dtype = dtype
    }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      // Keras 3.15 writes `optional: false`; an optional input (one that may be None) is not supported.
      if try c.decodeIfPresent(Bool.self, forKey: .optional) == true {
        throw StrataError.invalidArgument(
          owner: "InputLayer", argument: "optional", value: "true",
          expected: "false (every input is required)")
      }
      if try c.decodeIfPresent([Int?].self, forKey: .batchShape) != nil,
        try c.decodeIfPresent([Int].self, forKey: .shape) != nil
      {
        throw StrataError.invalidArgument(
          owner: "InputLayer", argument: "shape", value: "and batch_shape both",
          expected: "one of shape and batch_shape")
      }
      // A string, or Keras' policy record `{"class_name": "DTypePolicy", "config": {"name": …}}`.
      if let value = try c.decodeIfPresent(ConfigValue.self, forKey: .dtype), !value.isNull {
        let name =
          value.stringValue ?? value.objectValue?["config"]?.objectValue?["name"]?.stringValue
        guard let name, Self.dtypes.contains(name) else {
          throw StrataError.invalidArgument(
            owner: "InputLayer", argument: "dtype",
            value: value.description.prefix(200).description,
            expected: "one of \(Self.dtypes.map { "\"\($0)\"" }.joined(separator: ", "))")
        }
        dtype = name
      }
      if let batchShape = try c.decodeIfPresent([Int?].self, forKey: .batchShape)
        ?? c.decodeIfPresent([Int?].self, forKey: .batchInputShape)
      {
        self.batchShape = batchShape
      } else if let shape = try c.decodeIfPresent([Int].self, forKey: .shape) {
        batchShape = [nil] + shape.map { Optional($0) }
      } else {
        throw DecodingError.keyNotFound(
          CodingKeys.shape, .init(codingPath: [], debugDescription: ""))
      }
    }
    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode(batchShape, forKey: .batchShape)
      if dtype != "float32" { try c.encode(dtype, forKey: .dtype) }
    }
    private enum CodingKeys: String, CodingKey {
      case batchShape, shape, optional, batchInputShape, dtype
    }
  }
  public static let identifier = "InputLayer"
  public let config: Config
  /// The input shape without the batch axis.
  public let shape: [Int]
  public var declaredInputShape: [Int]? { shape }
  /// The name given in `Input(shape:name:)`; a functional model names it otherwise.
  public var name: String?
  /// The model input this layer stands for in a functional model.
  public private(set) lazy var symbolicTensor: SymbolicTensor = symbolicInput(
    of: self, shape: shape, name: name)

  public init(config: Config) throws {
    let shape = config.batchShape.dropFirst().compactMap { $0 }
    guard config.batchShape.count >= 2, shape.count == config.batchShape.count - 1,
      shape.allSatisfy({ $0 > 0 })
    else {
      throw StrataError.invalidArgument(
        owner: "InputLayer", argument: "shape",
        value: "("
          + config.batchShape.dropFirst().map { $0.map(String.init) ?? "None" }.joined(
            separator: ", ") + ")",
        expected: "positive sizes for every axis after the batch axis")
    }
    _ = try elementCount(of: shape, owner: "InputLayer")
    self.config = config
    self.shape = shape
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape == shape else {
      throw StrataError.shapeMismatch(
        layer: "InputLayer", received: kerasShape(inputShape), expected: kerasShape(shape))
    }
    return shape
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "InputLayer", expected: shape)
    return x
  }

  /// The output gradient unchanged: the input layer passes its input through.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    outputGradient
  }
}

extension InputLayer: SymbolicInput {}

/// `Input(shape: [28, 28])`: the input of a model, as Keras' `keras.Input(shape=(28, 28))`: the first
/// layer of a `Sequential`, or what a functional model's layers are applied to.
///
/// `dtype: "int32"` declares token ids, as Keras' `keras.Input(shape=(10,), dtype="int32")`.
public func Input(shape: [Int], dtype: String = "float32", name: String? = nil) throws -> InputLayer
{
  guard InputLayer.Config.dtypes.contains(dtype) else {
    throw StrataError.invalidArgument(
      owner: "Input", argument: "dtype", value: "\"\(dtype)\"",
      expected: "one of \(InputLayer.Config.dtypes.map { "\"\($0)\"" }.joined(separator: ", "))")
  }
  let layer = try InputLayer(config: .init(shape: shape, dtype: dtype))
  layer.name = name
  return layer
}
