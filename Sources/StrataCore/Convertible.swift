/// Anything `compile(optimizer:)` takes: an identifier (`"adam"`) or an optimizer object.
public protocol OptimizerConvertible {
  func makeOptimizer() throws -> any Optimizer
}

/// Anything `compile(loss:)` takes: an identifier (`"mse"`) or a loss object.
public protocol LossConvertible {
  func makeLoss() throws -> any Loss
}

/// Anything `compile(metrics:)` takes: an identifier (`"accuracy"`, `"mae"`) or a metric object.
public protocol MetricConvertible {
  /// The name the metric is shown under: the string the user gave, or the metric's identifier.
  var metricName: String { get }
}

extension String: OptimizerConvertible, LossConvertible, MetricConvertible {
  /// The optimizer itself.
  public func makeOptimizer() throws -> any Optimizer {
    try Registries.shared.optimizers.make(self)
  }
  public func makeLoss() throws -> any Loss { try Registries.shared.losses.make(self) }
  public var metricName: String { self }
}

/// Gives an optimizer object to `compile`: every ``Optimizer`` is one.
extension OptimizerConvertible where Self: Optimizer {
  public func makeOptimizer() throws -> any Optimizer { self }
}

extension LossConvertible where Self: Loss {
  public func makeLoss() throws -> any Loss { self }
}

extension MetricConvertible where Self: Metric {
  public var metricName: String { Self.identifier }
}

/// A layer whose output may be a row-wise softmax, so that a cross-entropy can hand it the gradient
/// with respect to the logits directly (``SoftmaxCrossentropy``).
public protocol SoftmaxHead: Layer {
  /// Whether the last `forward` ended with a softmax over the last axis.
  var endsWithSoftmax: Bool { get }
  /// The logits of the last `forward`, before the softmax.
  var logits: Tensor { get }
  /// Like `backward`, but given `d(loss)/d(logits)`, skipping the softmax.
  func backward(logitsGradient: Tensor, in context: Context) throws -> Tensor
}
