import StrataCore

/// Passes its input through unchanged, mask included: a placeholder where a model's structure wants
/// a layer (a skipped block, a named tap).
///
/// Keras: `Identity()`.
public final class Identity: Layer, MaskPreservingLayer {
  /// It takes no arguments.
  public typealias Config = NoConfig
  /// The registry key: Keras' `Identity`.
  public static let identifier = "Identity"
  /// The (empty) arguments.
  public let config = NoConfig()

  /// `Identity()`, as in Keras.
  public init(config: NoConfig = NoConfig()) {}

  /// The output shape: the input's.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    inputShape
  }

  /// The input itself.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor { x }

  /// The output gradient itself.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    outputGradient
  }
}
