import StrataCore

/// Passes its input through unchanged, mask included: a placeholder where a model's structure wants
/// a layer (a skipped block, a named tap).
///
/// Keras: `Identity()`.
public final class Identity: Layer, MaskPreservingLayer {
  public typealias Config = NoConfig
  public static let identifier = "Identity"
  public let config = NoConfig()

  public init(config: NoConfig = NoConfig()) {}

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    inputShape
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor { x }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    outputGradient
  }
}
