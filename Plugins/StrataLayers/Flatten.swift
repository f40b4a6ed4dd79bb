import StrataCore

/// Flattens every axis but the batch axis: `(None, 28, 28)` → `(None, 784)`. No copy is made.
///
/// Keras: `Flatten()`. Channels-last order, as Keras' default `data_format`.
public final class Flatten: Layer {
  public typealias Config = NoConfig
  public static let identifier = "Flatten"
  public let config = NoConfig()
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []

  public init(config: NoConfig) { declaredInputShape = nil }
  /// `Flatten(inputShape: [28, 28])`, as Keras' `Flatten(input_shape=(28, 28))`.
  public init(inputShape: [Int]? = nil) { declaredInputShape = inputShape }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    self.inputShape = inputShape
    return [inputShape.reduce(1, *)]
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "Flatten", expected: inputShape)
    return try x.reshaped(to: [x.shape[0], x.count / max(1, x.shape[0])])
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    try outputGradient.reshaped(to: [outputGradient.shape[0]] + inputShape)
  }
}
