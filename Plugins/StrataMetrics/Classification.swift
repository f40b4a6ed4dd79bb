import Foundation
import StrataCore

/// Keras' `thresholds` argument: one number or a list.
public struct Thresholds: Codable, Sendable, Equatable, ExpressibleByFloatLiteral,
  ExpressibleByArrayLiteral
{
  /// The thresholds.
  public var values: [Float]
  /// Whether one number was given (the result is then a number, not a list).
  public var isSingle: Bool
  /// One threshold.
  public init(floatLiteral value: Float) {
    values = [value]
    isSingle = true
  }
  /// Several thresholds.
  public init(arrayLiteral elements: Float...) {
    values = elements
    isSingle = false
  }
  /// A number or a list of numbers.
  public init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if let one = try? c.decode(Float.self) {
      values = [one]
      isSingle = true
    } else {
      values = try c.decode([Float].self)
      isSingle = false
    }
  }
  /// A number for one threshold, else a list.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.singleValueContainer()
    if isSingle { try c.encode(values[0]) } else { try c.encode(values) }
  }
}

/// True and false positives and negatives counted at thresholds over a flattened batch, or one column
/// (`classId`), or each row's `topK` largest: what Keras' Precision and Recall count.
public class ConfusionCounts {
  /// Keras' arguments of Precision and Recall.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `thresholds` (0.5 unless `top_k` is given).
    public var thresholds: Thresholds?
    /// Keras' `top_k`.
    public var topK: Int?
    /// Keras' `class_id`.
    public var classId: Int?

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(thresholds: Thresholds? = nil, topK: Int? = nil, classId: Int? = nil) {
      self.thresholds = thresholds
      self.topK = topK
      self.classId = classId
    }
  }
  /// The arguments.
  public let config: Config
  let thresholds: [Float]
  var truePositives: [Double], falsePositives: [Double], falseNegatives: [Double]

  init(config: Config, owner: String) throws {
    if let k = config.topK, k < 1 {
      throw StrataError.invalidArgument(
        owner: owner, argument: "top_k", value: "\(k)", expected: "a positive integer")
    }
    if let id = config.classId, id < 0 {
      throw StrataError.invalidArgument(
        owner: owner, argument: "class_id", value: "\(id)", expected: "a class index ≥ 0")
    }
    self.config = config
    // With top_k and no thresholds, every one of the k largest counts as predicted (Keras' −∞).
    thresholds = config.thresholds?.values ?? [config.topK == nil ? 0.5 : -.infinity]
    truePositives = Array(repeating: 0, count: thresholds.count)
    falsePositives = truePositives
    falseNegatives = truePositives
  }

  /// Forgets every batch.
  public func reset() {
    for i in thresholds.indices {
      (truePositives[i], falsePositives[i], falseNegatives[i]) = (0, 0, 0)
    }
  }

  /// The true positives, false positives and false negatives at each threshold.
  public var statistics: [Double] {
    get { truePositives + falsePositives + falseNegatives }
    set {
      let n = thresholds.count
      guard newValue.count == 3 * n else { return reset() }
      truePositives = Array(newValue[0..<n])
      falsePositives = Array(newValue[n..<(2 * n)])
      falseNegatives = Array(newValue[(2 * n)...])
    }
  }

  /// Counts a batch.
  public func update(prediction: Tensor, target: Tensor) throws {
    guard prediction.count == target.count else {
      throw StrataError.shapeMismatch(
        layer: "\(type(of: self))", received: kerasShape(target.shape, batch: false),
        expected: "targets of the predictions' shape \(kerasShape(prediction.shape, batch: false))")
    }
    let width = prediction.shape.last ?? 1, rows = prediction.count / max(width, 1)
    var p = prediction.scalars
    let t = target.scalars
    if let k = config.topK {
      for r in 0..<rows {
        let row = p[(r * width)..<((r + 1) * width)]
        let kept = Set(
          row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }.prefix(k))
        for j in row.indices where !kept.contains(j) { p[j] = -.infinity }
      }
    }
    var indices = Array(p.indices)
    if let id = config.classId {
      try checkArgument(
        id < width,
        owner: "\(type(of: self))", argument: "class_id", value: "\(id)",
        expected: "below the \(width) classes")
      indices = (0..<rows).map { $0 * width + id }
    }
    for (n, threshold) in thresholds.enumerated() {
      for i in indices {
        let predicted = p[i] > threshold, actual = t[i] != 0
        if predicted && actual { truePositives[n] += 1 }
        if predicted && !actual { falsePositives[n] += 1 }
        if !predicted && actual { falseNegatives[n] += 1 }
      }
    }
  }

  func ratio(_ a: Double, _ b: Double) -> Float { b == 0 ? 0 : Float(a / b) }
}

/// The fraction of predicted positives that are positive. Keras: `Precision(thresholds=None,
/// top_k=None, class_id=None)` (`"precision"`); multi-class inputs are flattened.
public final class Precision: ConfusionCounts, ListMetric {
  /// The registry key: Keras' `Precision`.
  public static let identifier = "Precision"
  /// A metric of `config`.
  public init(config: Config = Config()) throws {
    try super.init(config: config, owner: "Precision")
  }
  /// One precision per threshold.
  public var results: [Float] {
    thresholds.indices.map { ratio(truePositives[$0], truePositives[$0] + falsePositives[$0]) }
  }
  /// The precision (at the first threshold).
  public var result: Float { results[0] }
}

/// The fraction of positives predicted positive. Keras: `Recall(thresholds=None, top_k=None,
/// class_id=None)` (`"recall"`).
public final class Recall: ConfusionCounts, ListMetric {
  /// The registry key: Keras' `Recall`.
  public static let identifier = "Recall"
  /// A metric of `config`.
  public init(config: Config = Config()) throws { try super.init(config: config, owner: "Recall") }
  /// One recall per threshold.
  public var results: [Float] {
    thresholds.indices.map { ratio(truePositives[$0], truePositives[$0] + falseNegatives[$0]) }
  }
  /// The recall (at the first threshold).
  public var result: Float { results[0] }
}

/// The area under the ROC or precision-recall curve, from confusion counts at `num_thresholds`
/// thresholds. Keras: `AUC(num_thresholds=200, curve="ROC", summation_method="interpolation",
/// multi_label=False)` (`"auc"`); multi-label inputs are flattened unless `multi_label`.
public final class AUC: Metric {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `num_thresholds`.
    public var numThresholds: Int = 200
    /// Keras' `curve`: `"ROC"` or `"PR"`.
    public var curve: String = "ROC"
    /// Keras' `summation_method`: `"interpolation"`, `"minoring"` or `"majoring"`.
    public var summationMethod: String = "interpolation"
    /// Keras' `multi_label`.
    public var multiLabel: Bool = false
    /// Keras' `num_labels`: the labels of multi-label data, known before the first batch.
    public var numLabels: Int?
    /// Keras' `label_weights`: one non-negative weight per label (the last axis). Flattened, they
    /// weight each prediction's counts; with `multi_label`, the average of the labels' areas.
    public var labelWeights: [Float]?
    /// Keras' `thresholds`: the thresholds in (0, 1) instead of `num_thresholds` evenly spaced ones.
    public var thresholds: [Float]?
    /// Keras' `from_logits`: predictions are logits, passed through a sigmoid first.
    public var fromLogits: Bool = false

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      numThresholds: Int = Config().numThresholds, curve: String = Config().curve,
      summationMethod: String = Config().summationMethod, multiLabel: Bool = Config().multiLabel,
      numLabels: Int? = nil, labelWeights: [Float]? = nil, thresholds: [Float]? = nil,
      fromLogits: Bool = Config().fromLogits
    ) {
      self.numThresholds = numThresholds
      self.curve = curve
      self.summationMethod = summationMethod
      self.multiLabel = multiLabel
      self.numLabels = numLabels
      self.labelWeights = labelWeights
      self.thresholds = thresholds
      self.fromLogits = fromLogits
    }
  }
  /// The registry key: Keras' `AUC`.
  public static let identifier = "AUC"
  /// The Keras arguments.
  public let config: Config
  private let thresholds: [Float]
  // [threshold][label]
  private var tp: [[Double]] = [], fp: [[Double]] = [], tn: [[Double]] = [], fn: [[Double]] = []

  /// A metric of `config`.
  public init(config: Config = Config()) throws {
    try checkArgument(
      config.thresholds != nil || config.numThresholds > 1,
      owner: "AUC", argument: "num_thresholds", value: "\(config.numThresholds)",
      expected: "at least 2")
    try checkArgument(
      ["ROC", "PR"].contains(config.curve),
      owner: "AUC", argument: "curve", value: "'\(config.curve)'", expected: "'ROC' or 'PR'")
    try checkArgument(
      ["interpolation", "minoring", "majoring"].contains(config.summationMethod),
      owner: "AUC", argument: "summation_method", value: "'\(config.summationMethod)'",
      expected: "'interpolation', 'minoring' or 'majoring'")
    if let labels = config.numLabels {
      try checkArgument(
        config.multiLabel && labels > 0,
        owner: "AUC", argument: "num_labels", value: "\(labels)",
        expected: "a positive count, and only with multi_label=True")
    }
    if let weights = config.labelWeights {
      try checkArgument(
        !weights.isEmpty && weights.allSatisfy { $0 >= 0 && $0.isFinite },
        owner: "AUC", argument: "label_weights", value: "\(weights.prefix(8))",
        expected: "a non-empty list of non-negative numbers")
    }
    if let given = config.thresholds {
      try checkArgument(
        given.allSatisfy { $0.isFinite },
        owner: "AUC", argument: "thresholds", value: "\(given.prefix(8))",
        expected: "finite numbers")
    }
    self.config = config
    let n = config.numThresholds
    // Keras adds an endpoint just below 0 and just above 1 to the given or evenly spaced ones.
    let inner = config.thresholds?.sorted() ?? (0..<(n - 2)).map { Float($0 + 1) / Float(n - 1) }
    thresholds = [-1e-7] + inner + [1 + 1e-7]
  }

  /// Forgets every batch.
  public func reset() { tp = []; fp = []; tn = []; fn = [] }

  /// The four confusion counts at each threshold, per label.
  public var statistics: [Double] {
    get { [tp, fp, tn, fn].flatMap { $0.flatMap { $0 } } }
    set {
      let n = thresholds.count
      guard !newValue.isEmpty, newValue.count % (4 * n) == 0 else { return reset() }
      let labels = newValue.count / (4 * n)
      func table(_ k: Int) -> [[Double]] {
        (0..<n).map { i in Array(newValue[((k * n + i) * labels)..<((k * n + i + 1) * labels)]) }
      }
      (tp, fp, tn, fn) = (table(0), table(1), table(2), table(3))
    }
  }

  /// Counts a batch at every threshold.
  public func update(prediction: Tensor, target: Tensor) throws {
    guard prediction.count == target.count else {
      throw StrataError.shapeMismatch(
        layer: "AUC", received: kerasShape(target.shape, batch: false),
        expected: "targets of the predictions' shape \(kerasShape(prediction.shape, batch: false))")
    }
    let width = prediction.shape.last ?? 1
    let labels = config.multiLabel ? width : 1
    if let expected = config.numLabels, config.multiLabel, expected != width {
      throw StrataError.shapeMismatch(
        layer: "AUC", received: kerasShape(prediction.shape, batch: false),
        expected: "\(expected) labels (num_labels)")
    }
    // Flattened data is weighted per prediction; multi-label data when the areas are averaged.
    var weights: [Double]? = nil
    if let given = config.labelWeights, !config.multiLabel {
      guard given.count == width else {
        throw StrataError.shapeMismatch(
          layer: "AUC", received: kerasShape(prediction.shape, batch: false),
          expected: "predictions whose last axis has the \(given.count) labels of label_weights")
      }
      weights = given.map(Double.init)
    }
    if tp.isEmpty {
      let zeros = Array(repeating: [Double](repeating: 0, count: labels), count: thresholds.count)
      (tp, fp, tn, fn) = (zeros, zeros, zeros, zeros)
    }
    var p = prediction.scalars
    if config.fromLogits { p = p.map { 1 / (1 + exp(-$0)) } }
    let t = target.scalars
    for (n, threshold) in thresholds.enumerated() {
      for i in p.indices {
        let label = labels == 1 ? 0 : i % labels
        let weight = weights?[i % width] ?? 1
        let predicted = p[i] > threshold, actual = t[i] > 0.5
        switch (predicted, actual) {
        case (true, true): tp[n][label] += weight
        case (true, false): fp[n][label] += weight
        case (false, false): tn[n][label] += weight
        case (false, true): fn[n][label] += weight
        }
      }
    }
  }

  private func divide(_ a: Double, _ b: Double) -> Double { b == 0 ? 0 : a / b }

  /// The area, averaged over labels with `multi_label`.
  public var result: Float {
    guard !tp.isEmpty else { return 0 }
    let labels = tp[0].count, n = thresholds.count
    var areas: [Double] = []
    for label in 0..<labels {
      var area: Double = 0
      if config.curve == "PR" && config.summationMethod == "interpolation" {
        for i in 0..<(n - 1) {
          let dtp = tp[i][label] - tp[i + 1][label]
          let p0 = tp[i][label] + fp[i][label], p1 = tp[i + 1][label] + fp[i + 1][label]
          let slope = divide(dtp, max(p0 - p1, 0))
          let intercept = tp[i + 1][label] - slope * p1
          let ratio = p0 > 0 && p1 > 0 ? divide(p0, max(p1, 0)) : 1
          area += divide(
            slope * (dtp + intercept * log(ratio)), max(tp[i + 1][label] + fn[i + 1][label], 0))
        }
      } else {
        func point(_ i: Int) -> (x: Double, y: Double) {
          let recall = divide(tp[i][label], tp[i][label] + fn[i][label])
          if config.curve == "ROC" {
            return (divide(fp[i][label], fp[i][label] + tn[i][label]), recall)
          }
          return (recall, divide(tp[i][label], tp[i][label] + fp[i][label]))
        }
        for i in 0..<(n - 1) {
          let a = point(i), b = point(i + 1)
          let height: Double
          switch config.summationMethod {
          case "minoring": height = min(a.y, b.y)
          case "majoring": height = max(a.y, b.y)
          default: height = (a.y + b.y) / 2
          }
          area += (a.x - b.x) * height
        }
      }
      areas.append(area)
    }
    if config.multiLabel, let given = config.labelWeights, given.count == areas.count {
      let total = given.reduce(0) { $0 + Double($1) }
      return Float(divide(zip(areas, given).reduce(0) { $0 + $1.0 * Double($1.1) }, total))
    }
    return Float(areas.reduce(0, +) / Double(areas.count))
  }
}

/// The harmonic mean of precision and recall per class (Keras' `F1Score(average=None,
/// threshold=None)`, `"f1_score"`): without a threshold each row's largest prediction is the predicted
/// class; `average` is `nil` (one score per class), `"micro"`, `"macro"` or `"weighted"`.
public final class F1Score: ListMetric {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `average`.
    public var average: String?
    /// Keras' `threshold`.
    public var threshold: Float?

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(average: String? = nil, threshold: Float? = nil) {
      self.average = average
      self.threshold = threshold
    }
  }
  /// The registry key: Keras' `F1Score`.
  public static let identifier = "F1Score"
  /// The Keras arguments.
  public let config: Config
  private var tp: [Double] = [], fp: [Double] = [], fn: [Double] = [], support: [Double] = []

  /// A metric of `config`.
  public init(config: Config = Config()) throws {
    if let average = config.average, !["micro", "macro", "weighted"].contains(average) {
      throw StrataError.invalidArgument(
        owner: "F1Score", argument: "average", value: "'\(average)'",
        expected: "null, 'micro', 'macro' or 'weighted'")
    }
    self.config = config
  }

  /// Forgets every batch.
  public func reset() { tp = []; fp = []; fn = []; support = [] }

  /// The true positives, false positives, false negatives and support of each class.
  public var statistics: [Double] {
    get { tp + fp + fn + support }
    set {
      guard !newValue.isEmpty, newValue.count % 4 == 0 else { return reset() }
      let n = newValue.count / 4
      tp = Array(newValue[0..<n])
      fp = Array(newValue[n..<(2 * n)])
      fn = Array(newValue[(2 * n)..<(3 * n)])
      support = Array(newValue[(3 * n)...])
    }
  }

  /// Counts a batch, per class.
  public func update(prediction: Tensor, target: Tensor) throws {
    guard prediction.count == target.count, prediction.rank == 2 else {
      throw StrataError.shapeMismatch(
        layer: "F1Score", received: kerasShape(target.shape, batch: false),
        expected:
          "one-hot or multi-hot targets of the predictions' shape \(kerasShape(prediction.shape, batch: false))"
      )
    }
    let width = prediction.shape[1], rows = prediction.shape[0]
    if tp.isEmpty {
      (tp, fp, fn, support) = Array(repeating: Array(repeating: 0, count: width), count: 4).tuple
    }
    let p = prediction.scalars, t = target.scalars
    for r in 0..<rows {
      let row = p[(r * width)..<((r + 1) * width)]
      let top = row.max() ?? 0
      for j in 0..<width {
        let value = p[r * width + j], actual = Double(t[r * width + j])
        let predicted: Double =
          config.threshold.map { value > $0 ? 1 : 0 } ?? (value >= top && abs(value) > 1e-9 ? 1 : 0)
        tp[j] += predicted * actual
        fp[j] += predicted * (1 - actual)
        fn[j] += (1 - predicted) * actual
        support[j] += actual
      }
    }
  }

  /// The scores as `average` combines them: one per class, or one.
  public var results: [Float] {
    guard !tp.isEmpty else { return [0] }
    let epsilon = 1e-7
    func f1(_ tp: Double, _ fp: Double, _ fn: Double) -> Double {
      let precision = tp / (tp + fp + epsilon), recall = tp / (tp + fn + epsilon)
      let sum = precision + recall
      return sum == 0 ? 0 : 2 * precision * recall / sum
    }
    switch config.average {
    case "micro":
      return [Float(f1(tp.reduce(0, +), fp.reduce(0, +), fn.reduce(0, +)))]
    case let average?:
      let scores = tp.indices.map { f1(tp[$0], fp[$0], fn[$0]) }
      if average == "weighted" {
        let total = support.reduce(0, +)
        return [Float(total == 0 ? 0 : zip(scores, support).reduce(0) { $0 + $1.0 * $1.1 / total })]
      }
      return [Float(scores.reduce(0, +) / Double(scores.count))]
    case nil:
      return tp.indices.map { Float(f1(tp[$0], fp[$0], fn[$0])) }
    }
  }

  /// The score, or the mean over classes with `average` unset.
  public var result: Float {
    let values = results
    return values.count == 1 ? values[0] : values.reduce(0, +) / Float(values.count)
  }
}

extension Array where Element == [Double] {
  fileprivate var tuple: ([Double], [Double], [Double], [Double]) {
    (self[0], self[1], self[2], self[3])
  }
}
