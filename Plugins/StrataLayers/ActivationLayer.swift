import StrataCore

/// Applies an activation function as a layer of its own.
///
/// Keras: `Activation("relu")` (registered as `"Activation"`; the Swift type has another name because
/// ``StrataCore/Activation`` is the protocol).
public final class ActivationLayer: ShapePreservingLayer, SoftmaxHead {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `activation`.
    public var activation: Spec = "linear"

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(activation: Spec) {
      self.activation = activation
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["activation"]
  }
  public static let identifier = "Activation"
  public let config: Config
  public let declaredInputShape: [Int]?
  /// The resolved activation.
  public let activation: any Activation
  private var input: Tensor?
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  public init(config: Config) throws {
    self.config = config
    activation = try Registries.shared.activation(config.activation)
    declaredInputShape = nil
  }

  /// `ActivationLayer("relu")`, Keras' `Activation("relu")`.
  public init(_ activation: Spec, inputShape: [Int]? = nil) throws {
    config = Config(activation: activation)
    self.activation = try Registries.shared.activation(activation)
    declaredInputShape = inputShape
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "Activation")
    input = context.isTraining ? x : nil
    output.reuse(shape: x.shape, in: context)
    let row = x.shape.last ?? 1
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { activation.forward(xs, into: $0, rowLength: row) }
    }
    return output.handOut(in: context)
  }

  public var endsWithSoftmax: Bool { activation.identifier == "softmax" }
  public var logits: Tensor { input ?? Tensor(shape: [0]) }

  public func backward(logitsGradient: Tensor, in context: Context) throws -> Tensor {
    guard input != nil else { throw missingForward("Activation") }
    input = nil
    return logitsGradient
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard let x = input else { throw missingForward("Activation") }
    input = nil
    inputGradient.reuse(shape: x.shape)
    let row = x.shape.last ?? 1
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeBufferPointer { y in
        outputGradient.withUnsafeBufferPointer { dy in
          inputGradient.withUnsafeMutableBufferPointer {
            activation.backward(input: xs, output: y, outputGradient: dy, into: $0, rowLength: row)
          }
        }
      }
    }
    return inputGradient
  }
}
