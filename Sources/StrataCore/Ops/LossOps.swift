/// Losses and optimizer steps for training written by hand: a loss as a differentiable op, a loss
/// written as a formula, and an update from given gradients.
extension Ops {
  /// The batch-mean `loss` of `prediction` against `target` as a rank-0 tensor (Keras:
  /// `keras.losses.get("mse")(y_true, y_pred)`), differentiable with respect to `prediction`.
  public static func loss(_ loss: some LossConvertible, _ target: Tensor, _ prediction: Tensor)
    throws -> Tensor
  {
    let function = try loss.makeLoss()
    try function.validate(predictionShape: prediction.shape, targetShape: target.shape)
    let tape = OpsState.tape(tracking: prediction)
    var gradient = tape == nil ? nil : Tensor(pooledShape: prediction.shape)
    let value = try prediction.withUnsafeBufferPointer { p in
      try target.withUnsafeBufferPointer { t in
        if gradient != nil {
          return try gradient!.withUnsafeMutableBufferPointer {
            try function.compute(prediction: p, target: t, shape: prediction.shape, gradient: $0)
          }
        }
        return try function.compute(
          prediction: p, target: t, shape: prediction.shape, gradient: nil)
      }
    }
    let y = Tensor(scalar: value)
    guard let tape, let gradient else { return y }
    return tape.record(y, inputs: [prediction]) { dy in
      [scaled(gradient, by: dy.withUnsafeBufferPointer { $0[0] })]
    }
  }
}

/// A loss written as a formula on ``Ops``, differentiated by a ``GradientTape``: register it by
/// string like any loss and `compile(loss: "my_loss")` takes it (Keras: a custom loss function).
///
/// ```swift
/// public struct LogCosh: OpsLoss {
///   public static let identifier = "my_log_cosh"
///   public init(config: NoConfig = NoConfig()) {}
///   public func call(_ target: Tensor, _ prediction: Tensor) throws -> Tensor {
///     let d = try prediction - target
///     return try Ops.mean(d + Ops.softplus(-2 * d) - Float(0.693_147_2), axis: -1)
///   }
/// }
/// ```
///
/// `call` returns the loss per sample (or per element); the loss is its mean, as Keras' default
/// `"sum_over_batch_size"` reduction gives.
public protocol OpsLoss: Loss {
  /// The loss of each sample of `prediction` against `target` (of the prediction's shape, or one
  /// label per sample for a sparse loss).
  func call(_ target: Tensor, _ prediction: Tensor) throws -> Tensor
}

extension OpsLoss {
  /// Any shapes: the formula's ops refuse what they cannot take.
  public func validate(predictionShape: [Int], targetShape: [Int]) throws {}

  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let p = try Tensor(shape: shape, scalars: Array(prediction))
    let targetShape =
      target.count == p.count
      ? shape : target.count == shape.first ? [target.count] : [target.count]
    let t = try Tensor(shape: targetShape, scalars: Array(target))
    let name = "loss \(Self.identifier)"
    guard let gradient else {
      let value = try Ops.running(kernels: Ops.kernels, layer: name) { try Ops.mean(call(t, p)) }
      return value.withUnsafeBufferPointer { $0[0] }
    }
    let tape = GradientTape()
    let watched = tape.watch(p)
    let value = try tape.record(layer: name) { try Ops.mean(call(t, watched)) }
    let dp = try tape.gradients(of: value, for: [watched]).tensors[0]
    dp.withUnsafeBufferPointer { _ = gradient.update(fromContentsOf: $0) }
    return value.withUnsafeBufferPointer { $0[0] }
  }
}

extension Optimizer {
  /// Applies one update with `gradients`, one per parameter in order (Keras'
  /// `optimizer.apply(gradients, variables)`): what a custom training step calls after
  /// ``GradientTape/gradients(of:seed:parameters:)``. Non-trainable parameters are left alone.
  /// - Throws: when the counts or a shape differ.
  public func apply(_ gradients: [Tensor], to parameters: [Parameter]) throws {
    guard gradients.count == parameters.count else {
      throw StrataError.invalidArgument(
        owner: "Optimizer.apply", argument: "gradients", value: "\(gradients.count) tensors",
        expected: "one per parameter (\(parameters.count))")
    }
    for (gradient, parameter) in zip(gradients, parameters) where gradient.shape != parameter.shape
    {
      throw StrataError.shapeMismatch(
        layer: "Optimizer.apply (weight \(parameter.name))", received: "\(gradient.shape)",
        expected: "the weight's shape \(parameter.shape)")
    }
    for (gradient, parameter) in zip(gradients, parameters) {
      parameter.gradient = Ops.stopGradient(gradient)
    }
    apply(to: parameters)
  }
}

/// The running sum and count a metric written as a formula (``OpsMetric``) keeps.
open class MeanMetricBase {
  /// The sum of the values since the last reset.
  public var total: Double = 0
  /// How many values were added.
  public var count: Double = 0
  /// Nothing seen yet.
  public init() {}
}

/// A metric written as a formula on ``Ops``: `call` returns a value per sample (or per element) and
/// the metric is their mean over the epoch, as Keras wraps a metric function in `MeanMetricWrapper`.
/// Register it by string and `compile(metrics: ["my_metric"])` takes it.
///
/// ```swift
/// public final class MeanAbsoluteError2: MeanMetricBase, OpsMetric {
///   public static let identifier = "mae2"
///   public let config = NoConfig()
///   public init(config: NoConfig) {}
///   public func call(_ target: Tensor, _ prediction: Tensor) throws -> Tensor {
///     try Ops.mean(Ops.abs(prediction - target), axis: -1)
///   }
/// }
/// ```
public protocol OpsMetric: MeanMetricBase, Metric {
  /// The metric's value for each sample of a batch.
  func call(_ target: Tensor, _ prediction: Tensor) throws -> Tensor
}

extension OpsMetric {
  public func reset() {
    total = 0
    count = 0
  }

  public func update(prediction: Tensor, target: Tensor) throws {
    let values = try Ops.running(kernels: Ops.kernels, layer: "metric \(Self.identifier)") {
      try call(target, prediction)
    }
    values.withUnsafeBufferPointer { total += $0.reduce(0.0) { $0 + Double($1) } }
    count += Double(values.count)
  }

  public var result: Float { count == 0 ? 0 : Float(total / count) }

  public var statistics: [Double] {
    get { count == 0 ? [] : [total, count] }
    set {
      total = newValue.first ?? 0
      count = newValue.count > 1 ? newValue[1] : 0
    }
  }
}
