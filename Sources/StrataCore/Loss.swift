/// A loss: a function of `(y_true, y_pred)` reduced by the batch mean, as Keras does by default.
///
/// Buffers are row-major with the batch axis first; `shape` is the prediction's shape. `target` holds
/// the same shape, or (sparse losses) one label per row of the last axis.
public protocol Loss: Sendable, LossConvertible, Registrable where Product == any Loss {
  /// Throws a clear error when targets of `targetShape` cannot be compared with predictions of
  /// `predictionShape` (both with the batch axis).
  func validate(predictionShape: [Int], targetShape: [Int]) throws
  /// The batch-mean loss of predictions of `shape`. When `gradient` is given, also writes
  /// `d(loss)/d(prediction)` into it.
  /// - Throws: for targets this loss cannot take, such as a class label out of range.
  func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float
}

extension Loss {
  public var identifier: String { Self.identifier }

  /// The batch-mean loss of two tensors (a convenience; training calls ``compute(prediction:target:shape:gradient:)``).
  public func callAsFunction(_ target: Tensor, _ prediction: Tensor) throws -> Float {
    try validate(predictionShape: prediction.shape, targetShape: target.shape)
    return try prediction.withUnsafeBufferPointer { p in
      try target.withUnsafeBufferPointer { t in
        try compute(prediction: p, target: t, shape: prediction.shape, gradient: nil)
      }
    }
  }

  /// `d(loss)/d(prediction)`.
  public func gradient(_ target: Tensor, _ prediction: Tensor) throws -> Tensor {
    try validate(predictionShape: prediction.shape, targetShape: target.shape)
    var gradient = Tensor(shape: prediction.shape)
    try prediction.withUnsafeBufferPointer { p in
      try target.withUnsafeBufferPointer { t in
        try gradient.withUnsafeMutableBufferPointer {
          _ = try compute(prediction: p, target: t, shape: prediction.shape, gradient: $0)
        }
      }
    }
    return gradient
  }
}

/// An optimizer: keeps its state (moments, step count) and updates parameters from their gradients.
public protocol Optimizer: AnyObject, OptimizerConvertible, Registrable
where Product == any Optimizer {
  /// The current learning rate; callbacks such as `ReduceLROnPlateau` change it.
  var learningRate: Float { get set }
  /// The number of updates applied so far (Keras' `iterations`).
  var iterations: Int { get }
  /// Applies one update to every trainable parameter from its `gradient`.
  func apply(to parameters: [Parameter])
  /// The optimizer's state per parameter (moments and the like) in a fixed order, for saving.
  var state: [Tensor] { get }
  /// Restores what ``state`` returned, with ``iterations``.
  func restore(state: [Tensor], iterations: Int, parameters: [Parameter]) throws
  /// How many of ``state``'s tensors belong to each parameter, and which of them Keras keeps, in
  /// Keras' order (`RMSprop` keeps its momentum only when `momentum` > 0): how a `.keras` file's
  /// optimizer variables map to ``state``. The default: every slot is Keras'.
  var kerasSlots: (perParameter: Int, kept: [Int]) { get }
}

extension Optimizer {
  public var identifier: String { Self.identifier }
}

/// A metric: a value accumulated over the batches of an epoch (`accuracy`, `mae`).
public protocol Metric: AnyObject, MetricConvertible, Registrable where Product == any Metric {
  /// Forgets every batch seen: called at the start of each epoch.
  func reset()
  /// Adds a batch.
  func update(prediction: Tensor, target: Tensor) throws
  /// The value over the batches since ``reset()``.
  var result: Float { get }
  /// The sums and counts ``result`` is computed from, so that metrics kept by several processes add
  /// up exactly: setting the element-wise sum of two metrics' statistics gives the metric over both's
  /// batches. Empty when no batch was seen; setting an empty list resets.
  var statistics: [Double] { get set }
}

/// A metric whose value is a list (Keras' `Precision(thresholds=[…])`, `F1Score(average=None)`): its
/// ``Metric/result`` is the first value (or the mean over classes), `results` the whole list.
public protocol ListMetric: Metric {
  /// Every value.
  var results: [Float] { get }
}

/// A cross-entropy that can take the softmax's logits directly, so that a model ending in softmax
/// computes `d(loss)/d(logits) = (p - y) / batch` instead of dividing by small probabilities.
public protocol SoftmaxCrossentropy: Loss {
  /// Whether predictions are already logits (then no softmax precedes the loss).
  var fromLogits: Bool { get }
  /// The batch-mean loss of `probabilities = softmax(logits)`, writing `d(loss)/d(logits)`.
  func computeFromSoftmax(
    logits: UnsafeBufferPointer<Float>, probabilities: UnsafeBufferPointer<Float>,
    target: UnsafeBufferPointer<Float>,
    shape: [Int], logitsGradient: UnsafeMutableBufferPointer<Float>
  ) throws -> Float
}

extension Metric {
  /// A new metric of the same type and config, with nothing accumulated: validation keeps its own.
  public func makeFresh() throws -> any Metric { try Self(config: config) }
}

extension Loss {
  /// Each sample's own loss (the loss of its row alone), written into `losses` (one per row).
  public func perSampleLosses(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    into losses: UnsafeMutableBufferPointer<Float>
  ) throws {
    let rows = shape.first ?? 0
    guard rows > 0 else { return }
    let rowSize = prediction.count / rows, targetSize = target.count / rows
    let rowShape = [1] + shape.dropFirst()
    for i in 0..<rows {
      losses[i] = try compute(
        prediction: UnsafeBufferPointer(rebasing: prediction[(i * rowSize)..<((i + 1) * rowSize)]),
        target: UnsafeBufferPointer(rebasing: target[(i * targetSize)..<((i + 1) * targetSize)]),
        shape: rowShape, gradient: nil)
    }
  }

  /// The loss with one weight per sample, as Keras reduces it by default (`sum_over_batch_size`):
  /// `Σ weightᵢ · lossᵢ / batch`, not divided by the weights' sum.
  public func weightedLoss(prediction: Tensor, target: Tensor, sampleWeight: Tensor) throws -> Float
  {
    var losses = Tensor(shape: [prediction.shape.first ?? 0])
    try prediction.withUnsafeBufferPointer { p in
      try target.withUnsafeBufferPointer { t in
        try losses.withUnsafeMutableBufferPointer {
          try perSampleLosses(prediction: p, target: t, shape: prediction.shape, into: $0)
        }
      }
    }
    let total = zip(losses.scalars, sampleWeight.scalars).reduce(0.0) {
      $0 + Double($1.0) * Double($1.1)
    }
    return Float(total / Double(max(losses.count, 1)))
  }
}
