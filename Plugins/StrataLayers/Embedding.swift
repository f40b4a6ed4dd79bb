import StrataCore

/// Turns token ids into dense vectors: row `id` of a trainable `[inputDim, outputDim]` table.
///
/// Keras: `Embedding(input_dim, output_dim, embeddings_initializer="uniform", mask_zero=False)`.
/// The ids are whole numbers (an `Input(shape:dtype: "int32")`, held as exact floats); an id outside
/// `[0, input_dim)` is an error naming the id and `input_dim` (Keras' backends disagree there: JAX
/// clamps, TensorFlow fails on the CPU). `input_length`, which Keras 3 accepts and ignores, is read
/// and ignored too. Written forward-only on ``StrataCore/Ops/take(_:_:axis:)``.
public final class Embedding: OpsLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig, ConfigReadsMoreKeys {
    /// Keras' `input_dim`: the vocabulary size (ids run from 0 to `input_dim - 1`).
    public var inputDim: Int = 0
    /// Keras' `output_dim`: the size of each vector.
    public var outputDim: Int = 0
    /// Keras' `embeddings_initializer`.
    public var embeddingsInitializer: Spec = "uniform"
    /// Keras' `embeddings_regularizer`.
    public var embeddingsRegularizer: Spec?
    /// Keras' `activity_regularizer`.
    public var activityRegularizer: Spec?
    /// Keras' `embeddings_constraint`.
    public var embeddingsConstraint: Spec?
    /// Keras' `mask_zero`: id 0 is padding, masked for the layers after (recurrent layers skip
    /// it, `GlobalAveragePooling1D` leaves it out of the mean).
    public var maskZero: Bool = false

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["input_dim", "output_dim"]
    /// Keras 2's `input_length`, accepted and ignored as Keras 3 does.
    public static let readOnlyKeys: Set<String> = ["input_length"]
  }

  /// The registry key: Keras' `Embedding`.
  public static let identifier = "Embedding"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let options: WeightOptions
  private var inputShape: [Int] = []
  /// `[inputDim, outputDim]`; `nil` until built.
  public private(set) var embeddings: Parameter?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Embedding(10_000, 64, maskZero: true)`, as Keras' `Embedding(10000, 64, mask_zero=True)`.
  public convenience init(
    _ inputDim: Int, _ outputDim: Int, embeddingsInitializer: Spec = "uniform",
    maskZero: Bool = false, inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    (config.inputDim, config.outputDim) = (inputDim, outputDim)
    config.embeddingsInitializer = embeddingsInitializer
    config.maskZero = maskZero
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    for (argument, value) in [("input_dim", config.inputDim), ("output_dim", config.outputDim)] {
      try checkArgument(
        value > 0 && value <= 1 << 24, owner: "Embedding", argument: argument, value: "\(value)",
        expected: "a positive integer up to 2^24")
    }
    _ = try elementCount(of: [config.inputDim, config.outputDim], owner: "Embedding")
    options = try WeightOptions(
      WeightArguments(
        useBias: false, kernelInitializer: config.embeddingsInitializer,
        kernelConstraint: config.embeddingsConstraint,
        kernelRegularizer: config.embeddingsRegularizer,
        activityRegularizer: config.activityRegularizer))
    self.config = config
    declaredInputShape = inputShape
  }

  /// The table.
  public var parameters: [Parameter] { [embeddings].compactMap { $0 } }

  /// Takes ids of any shape; gives one vector per id.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    _ = try elementCount(of: inputShape + [config.outputDim], owner: "Embedding")
    self.inputShape = inputShape
    embeddings = try options.makeWeights(
      kernelShape: [config.inputDim, config.outputDim], units: 0, kernelName: "embeddings",
      generator: &generator
    ).kernel
    return inputShape + [config.outputDim]
  }

  /// The vectors of the batch's ids.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let embeddings else { throw StrataError.invalidState("Embedding: called before build.") }
    try checkInput(x, layer: "Embedding", expected: inputShape)
    let limit = Float(config.inputDim)
    try x.withUnsafeBufferPointer { ids in
      for id in ids where !(id >= 0 && id < limit && id == id.rounded()) {
        throw StrataError.invalidArgument(
          owner: "Embedding", argument: "input", value: "id \(id)",
          expected: "whole numbers from 0 to input_dim - 1 = \(config.inputDim - 1)")
      }
    }
    return try Ops.take(embeddings.value, Ops.stopGradient(x), axis: 0)
  }
}

extension Embedding: MaskingLayer {
  /// With `mask_zero`, 1 for every id but 0; else no mask.
  public func outputMask(for x: Tensor, inputMask: Tensor?) throws -> Tensor? {
    config.maskZero ? try Ops.notEqual(x, Tensor(scalar: 0)) : nil
  }
}

extension Embedding: ActivityRegularized {
  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }
}
