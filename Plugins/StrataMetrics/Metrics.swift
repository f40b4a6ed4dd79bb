import StrataCore

/// A metric that is the mean of a per-sample value over every sample seen since ``reset()``.
open class MeanOverSamples {
  var total: Double = 0
  var count: Double = 0
  /// A new instance, with nothing cached yet.
  public init() {}
  public func reset() { total = 0; count = 0 }
  public var result: Float { count == 0 ? 0 : Float(total / count) }
  /// The total and the number of samples.
  public var statistics: [Double] {
    get { count == 0 ? [] : [total, count] }
    set { (total, count) = newValue.count == 2 ? (newValue[0], newValue[1]) : (0, 0) }
  }
  func add(_ value: Double, samples: Int) {
    total += value
    count += Double(samples)
  }
  /// Checks the shapes, then adds the rows `isCorrect(p, t, row, width)` accepts out of all rows.
  func addCorrectRows(
    _ owner: String, _ prediction: Tensor, _ target: Tensor, sparse: Bool,
    isCorrect: (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, Int, Int) -> Bool
  ) throws {
    try checkShapes(owner, prediction: prediction, target: target, sparse: sparse)
    let width = prediction.shape.last ?? 1, rows = prediction.count / max(width, 1)
    var correct = 0
    prediction.withUnsafeBufferPointer { p in
      target.withUnsafeBufferPointer { t in
        for r in 0..<rows where isCorrect(p, t, r, width) { correct += 1 }
      }
    }
    add(Double(correct), samples: rows)
  }
}

/// The row of the maximum of `values[range]` (the first on ties, as `argmax` does).
@inline(__always)
func argmax(_ values: UnsafeBufferPointer<Float>, _ start: Int, _ width: Int) -> Int {
  var best = 0
  var bestValue = values[start]
  for j in 1..<max(width, 1) where values[start + j] > bestValue {
    best = j
    bestValue = values[start + j]
  }
  return best
}

func checkShapes(_ metric: String, prediction: Tensor, target: Tensor, sparse: Bool) throws {
  let expected = sparse ? Array(prediction.shape.dropLast()) : prediction.shape
  let labels =
    sparse && target.shape.last == 1 && target.rank == prediction.rank
    ? Array(target.shape.dropLast()) : target.shape
  try checkArgument(
    labels == expected,
    owner: metric, argument: "y", value: "of shape \(target.shape)",
    expected: sparse
      ? "one class index per prediction row, shape \(expected)"
      : "the prediction's shape \(expected)")
}

/// The fraction of predictions exactly equal to their targets. Keras: `keras.metrics.Accuracy`, what
/// `"accuracy"` names outside `compile` (inside it, the model picks binary, sparse or categorical
/// accuracy from the shapes, as Keras does).
public final class Accuracy: MeanOverSamples, Metric {
  public static let identifier = "accuracy"
  public init(config: NoConfig = NoConfig()) {}
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    try checkArgument(
      prediction.count == target.count,
      owner: Self.identifier, argument: "y", value: "of shape \(target.shape)",
      expected: "the prediction's shape \(prediction.shape)")
    var equal = 0
    prediction.withUnsafeBufferPointer { p in
      target.withUnsafeBufferPointer { t in for i in p.indices where p[i] == t[i] { equal += 1 } }
    }
    add(Double(equal), samples: prediction.count)
  }
}

/// The fraction of rows whose largest prediction is the class given by index. Keras:
/// `"sparse_categorical_accuracy"`.
public final class SparseCategoricalAccuracy: MeanOverSamples, Metric {
  public static let identifier = "sparse_categorical_accuracy"
  public init(config: NoConfig = NoConfig()) {}
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    try addCorrectRows(Self.identifier, prediction, target, sparse: true) { p, t, r, width in
      Float(argmax(p, r * width, width)) == t[r]
    }
  }
}

/// The fraction of rows whose largest prediction is where the one-hot target is largest. Keras:
/// `"categorical_accuracy"`.
public final class CategoricalAccuracy: MeanOverSamples, Metric {
  public static let identifier = "categorical_accuracy"
  public init(config: NoConfig = NoConfig()) {}
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    try addCorrectRows(Self.identifier, prediction, target, sparse: false) { p, t, r, width in
      argmax(p, r * width, width) == argmax(t, r * width, width)
    }
  }
}

/// The mean over samples of the fraction of outputs on the right side of `threshold`. Keras:
/// `"binary_accuracy"` (`BinaryAccuracy(threshold=0.5)`).
public final class BinaryAccuracy: MeanOverSamples, Metric {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `threshold`.
    public var threshold: Float = 0.5

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(threshold: Float = Config().threshold) {
      self.threshold = threshold
    }
  }
  public static let identifier = "binary_accuracy"
  public let config: Config
  public init(config: Config = Config()) { self.config = config }
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    try checkShapes(
      Self.identifier, prediction: prediction,
      target: target.count == prediction.count ? try target.reshaped(to: prediction.shape) : target,
      sparse: false)
    let width = prediction.shape.last ?? 1, rows = prediction.count / max(width, 1)
    var sum: Double = 0
    prediction.withUnsafeBufferPointer { p in
      target.withUnsafeBufferPointer { t in
        for i in 0..<p.count where (p[i] > config.threshold ? Float(1) : 0) == t[i] { sum += 1 }
      }
    }
    add(sum / Double(max(width, 1)), samples: rows)
  }
}

/// The fraction of rows whose target class (one-hot) is among the `k` largest predictions. Keras:
/// `"top_k_categorical_accuracy"` (`k=5`); `"sparse_top_k_categorical_accuracy"` takes class indices.
public final class TopKCategoricalAccuracy: MeanOverSamples, Metric {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `k`.
    public var k: Int = 5

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(k: Int = Config().k) {
      self.k = k
    }
  }
  public static let identifier = "top_k_categorical_accuracy"
  public let config: Config
  let sparse: Bool
  /// A metric of `config` (Keras' `k=5` by default).
  public convenience init(config: Config = Config()) throws {
    try self.init(config: config, sparse: false)
  }
  init(config: Config, sparse: Bool) throws {
    try checkArgument(
      config.k > 0,
      owner: Self.identifier, argument: "k", value: "\(config.k)", expected: "a positive integer")
    self.config = config
    self.sparse = sparse
  }
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    let (sparse, k) = (sparse, config.k)
    try addCorrectRows(Self.identifier, prediction, target, sparse: sparse) { p, t, r, width in
      // A label out of range (or NaN) is simply not a hit; converting it first would trap.
      guard !sparse || (t[r] >= 0 && t[r] < Float(width)) else { return false }
      let label = sparse ? Int(t[r]) : argmax(t, r * width, width)
      let value = p[r * width + label]
      var above = 0
      for j in 0..<width where p[r * width + j] > value { above += 1 }
      return above < k
    }
  }
}

/// ``TopKCategoricalAccuracy`` for class-index targets. Keras: `"sparse_top_k_categorical_accuracy"`.
public final class SparseTopKCategoricalAccuracy: MeanOverSamples, Metric {
  public typealias Config = TopKCategoricalAccuracy.Config
  public static let identifier = "sparse_top_k_categorical_accuracy"
  public let config: Config
  private let inner: TopKCategoricalAccuracy
  public init(config: Config = Config()) throws {
    self.config = config
    inner = try TopKCategoricalAccuracy(config: config, sparse: true)
  }
  public override func reset() { inner.reset() }
  public override var result: Float { inner.result }
  /// The inner metric's total and count: what distributed training adds up across ranks (these
  /// were this wrapper's own, always empty, so ranks each reported their own share).
  public override var statistics: [Double] {
    get { inner.statistics }
    set { inner.statistics = newValue }
  }
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    try inner.update(prediction: prediction, target: target)
  }
}

/// A loss used as a metric: its batch values averaged over every sample seen (`"mae"`, `"mse"`, or any
/// loss name in `metrics:`).
public final class LossMetric: MeanOverSamples, Metric {
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `loss`.
    public var loss: Spec = "mean_squared_error"

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(loss: Spec) {
      self.loss = loss
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["loss"]
  }
  public static let identifier = "loss_metric"
  public let config: Config
  /// The loss averaged.
  public let loss: any Loss
  public init(config: Config) throws {
    self.config = config
    loss = try Registries.shared.losses.make(config.loss.identifier, config: config.loss.config)
  }
  /// `loss`, averaged over the samples seen.
  public init(_ loss: any Loss) {
    config = Config(loss: Spec(loss.identifier))
    self.loss = loss
  }
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    let value = try loss(target, prediction)
    let rows = prediction.shape.first ?? 1
    add(Double(value) * Double(rows), samples: rows)
  }
}

/// A loss averaged over the samples under a metric's own identifier, which names the loss too.
public class LossNamedMetric: MeanOverSamples, Metric {
  /// The registry key, also the loss's: each subclass gives its own.
  public class var identifier: String { preconditionFailure("\(Self.self) names no loss") }
  private var inner: LossMetric
  /// The metric of the loss `identifier` names.
  public required init(config: NoConfig = NoConfig()) throws {
    inner = try LossMetric(config: .init(loss: Spec(Self.identifier)))
  }
  public override func reset() { inner.reset() }
  public override var result: Float { inner.result }
  /// The inner metric's total and count: what distributed training adds up across ranks (these
  /// were this wrapper's own, always empty, so ranks each reported their own share).
  public override var statistics: [Double] {
    get { inner.statistics }
    set { inner.statistics = newValue }
  }
  /// Adds a batch of predictions and targets.
  public func update(prediction: Tensor, target: Tensor) throws {
    try inner.update(prediction: prediction, target: target)
  }
}

/// `mean((y - p)²)` as a metric. Keras: `"mean_squared_error"`, `"mse"`.
public final class MeanSquaredErrorMetric: LossNamedMetric {
  /// The registry key.
  public override class var identifier: String { "mean_squared_error" }
}

/// `mean(|y - p|)` as a metric. Keras: `"mean_absolute_error"`, `"mae"`.
public final class MeanAbsoluteErrorMetric: LossNamedMetric {
  /// The registry key.
  public override class var identifier: String { "mean_absolute_error" }
}
