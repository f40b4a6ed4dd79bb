/// A penalty on weights or on a layer's output, added to the loss: Keras' `keras.regularizers`, given
/// as `kernel_regularizer`, `bias_regularizer` or `activity_regularizer`.
public protocol Regularizer: Sendable, Registrable where Product == any Regularizer {
  /// The penalty of `values`.
  func penalty(_ values: UnsafeBufferPointer<Float>) -> Double
  /// Adds `scale · d(penalty)/d(values)` to `gradient`.
  func addGradient(
    _ values: UnsafeBufferPointer<Float>, scale: Float,
    into gradient: UnsafeMutableBufferPointer<Float>)
}

extension Regularizer {
  /// The penalty of a tensor.
  public func penalty(of tensor: Tensor) -> Float {
    Float(tensor.withUnsafeBufferPointer { penalty($0) })
  }
}

extension Registries {
  /// The regularizer a spec names (`"l2"`, or a name and config).
  public func regularizer(_ spec: Spec) throws -> any Regularizer {
    try regularizers.make(spec.identifier, config: spec.config)
  }
}

/// A layer with Keras' `activity_regularizer`: a penalty on its output, divided by the batch size as
/// Keras 3 divides it. Models add it to the loss and its gradient to the output's gradient.
public protocol ActivityRegularized: Layer {
  /// The regularizer of the layer's output, if any.
  var activityRegularizer: (any Regularizer)? { get }
}

extension Parameter {
  /// The penalty of this weight's regularizer (0 without one).
  public var penalty: Float { regularizer.map { $0.penalty(of: value) } ?? 0 }

  /// Adds the regularizer's gradient to ``gradient``.
  public func addRegularizerGradient() {
    guard let regularizer else { return }
    value.withUnsafeBufferPointer { v in
      gradient.withUnsafeMutableBufferPointer { regularizer.addGradient(v, scale: 1, into: $0) }
    }
  }
}
