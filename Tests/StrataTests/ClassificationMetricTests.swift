import Foundation
import Strata
import StrataTesting
import Testing

let classificationMetrics = kerasFixture("metrics")

/// Every metric case of Keras' file: made by class name from Keras' constructor arguments, updated with
/// two batches, its value after each (a list for several thresholds or `average=None`).
@Test(arguments: classificationMetrics.cases.indices)
func classificationMetricMatchesKeras(_ index: Int) throws {
  let reference = classificationMetrics.cases[index]
  let name = try #require(reference["metric"]?.stringValue)
  let arguments = try #require(reference["args"]?.objectValue)
  let metric = try Registries.shared.metrics.make(name, config: arguments)
  let batches = try #require(reference["batches"]?.arrayValue)
  for (number, batch) in batches.enumerated() {
    let object = try #require(batch.objectValue)
    try metric.update(
      prediction: try KerasCase.tensor(from: try #require(object["y_pred"])),
      target: try KerasCase.tensor(from: try #require(object["y_true"])))
    let expected = try #require(reference["result_after_batch_\(number + 1)"])
    var values: [Double]
    if let number = expected.doubleValue {
      values = [number]
    } else {
      values = try KerasCase.tensor(from: expected).scalars.map(Double.init)
    }
    let actual = (metric as? any ListMetric)?.results ?? [metric.result]
    #expect(actual.count == values.count, "\(name) \(arguments)")
    for (a, e) in zip(actual, values) {
      #expect(
        abs(Double(a) - e) <= 1e-5 * max(1, abs(e)),
        "\(name) \(arguments) batch \(number + 1): \(actual) vs \(values)")
    }
  }
  metric.reset()
  #expect(((metric as? any ListMetric)?.results ?? [metric.result]).allSatisfy { $0 == 0 })
}

/// The new metrics by their Keras strings, in compile.
@Test func classificationMetricsCompileByName() throws {
  let (x, y) = tinyData(32, classes: 2)
  let model = try Sequential([Input(shape: [4]), Dense(1, activation: "sigmoid")], seed: 3)
  try model.compile(
    optimizer: "adam", loss: "binary_crossentropy", metrics: ["precision", "recall", "auc"])
  let history = try model.fit(x, y.reshaped(to: [32, 1]), epochs: 1, verbose: .silent)
  #expect(Set(history.history.keys) == ["loss", "precision", "recall", "auc"])
  #expect(history["auc"]!.allSatisfy { $0 >= 0 && $0 <= 1 })
  #expect(throws: StrataError.self) {
    try Registries.shared.metrics.make("AUC", config: ["curve": "XY"])
  }
}

/// A metric's `statistics` are all its state: distributed training adds them up across ranks. Moved
/// into a fresh metric after the first batch, they give the same results after the second, for every
/// case of Keras' file; a list of the wrong length resets the metric instead of trapping.
@Test func classificationMetricStatisticsCarryTheWholeState() throws {
  for reference in classificationMetrics.cases {
    let name = try #require(reference["metric"]?.stringValue)
    let arguments = try #require(reference["args"]?.objectValue)
    let original = try Registries.shared.metrics.make(name, config: arguments)
    let copy = try Registries.shared.metrics.make(name, config: arguments)
    let batches = try #require(reference["batches"]?.arrayValue).compactMap(\.objectValue)
    func update(_ metric: any Metric, _ batch: [String: ConfigValue]) throws {
      try metric.update(
        prediction: KerasCase.tensor(from: try #require(batch["y_pred"])),
        target: KerasCase.tensor(from: try #require(batch["y_true"])))
    }
    try update(original, batches[0])
    copy.statistics = original.statistics
    for batch in batches.dropFirst() {
      try update(original, batch)
      try update(copy, batch)
    }
    func results(_ metric: any Metric) -> [Float] {
      (metric as? any ListMetric)?.results ?? [metric.result]
    }
    #expect(results(copy) == results(original), "\(name) \(arguments) \(original.statistics)")
    copy.statistics = []
    #expect(results(copy).allSatisfy { $0 == 0 }, "\(name): an empty statistics list resets it")
  }
}

/// Predictions and targets of different sizes, and arguments Keras refuses, are errors that name the
/// metric; Keras' one-number and list spellings of `thresholds` both work from Swift.
@Test func classificationMetricsRefuseBadInputByName() throws {
  let two = Tensor(shape: [2, 1], repeating: 0.5), three = Tensor(shape: [3, 1], repeating: 1)
  for metric: any Metric in [
    try Precision(), try Recall(), try AUC(), try F1Score(),
  ] {
    #expect(refusal { try metric.update(prediction: two, target: three) } != nil, "\(metric)")
  }
  #expect(refusal { try Precision(config: .init(topK: 0)) }?.description.contains("top_k") == true)
  #expect(
    refusal { try Recall(config: .init(classId: -1)) }?.description.contains("class_id") == true)
  #expect(
    refusal { try F1Score(config: .init(average: "mean")) }?.description.contains("average")
      == true)
  let auc = try AUC(config: .init(multiLabel: true, numLabels: 3))
  #expect(
    refusal { try auc.update(prediction: two, target: two) }?.description.contains("num_labels")
      == true)
  let weighted = try AUC(config: .init(labelWeights: [1, 2, 3]))
  #expect(
    refusal { try weighted.update(prediction: two, target: two) }?.description.contains(
      "label_weights") == true)
  // `thresholds=0.3` and `thresholds=[0.3, 0.7]`, as Keras spells them.
  let single = try Precision(config: .init(thresholds: 0.3))
  let pair = try Precision(config: .init(thresholds: [0.3, 0.7]))
  let p = try Tensor(shape: [4, 1], scalars: [0.2, 0.5, 0.8, 0.9])
  let t = try Tensor(shape: [4, 1], scalars: [0, 1, 0, 1])
  try single.update(prediction: p, target: t)
  try pair.update(prediction: p, target: t)
  #expect(single.results.count == 1 && abs(single.results[0] - 2.0 / 3.0) < 1e-6)
  #expect(pair.results.count == 2 && abs(pair.results[0] - 2.0 / 3.0) < 1e-6)
  #expect(pair.results.last == 0.5)
}

/// Multi-label AUC weighs each label's area by `label_weights`, and the precision-recall curve
/// with minoring takes each interval's lower precision: both against the areas computed by hand.
@Test func aucWeighsLabelsAndSumsPrecisionRecallCurves() throws {
  let p = try Tensor(shape: [4, 2], scalars: [0.9, 0.1, 0.2, 0.8, 0.7, 0.6, 0.3, 0.4])
  let t = try Tensor(shape: [4, 2], scalars: [1, 0, 0, 1, 1, 1, 0, 0])
  func area(_ config: AUC.Config, _ p: Tensor, _ t: Tensor) throws -> Float {
    let metric = try AUC(config: config)
    try metric.update(prediction: p, target: t)
    return metric.result
  }
  func column(_ tensor: Tensor, _ c: Int) throws -> Tensor {
    try Tensor(shape: [4, 1], scalars: (0..<4).map { tensor.scalars[$0 * 2 + c] })
  }
  let first = try area(.init(), column(p, 0), column(t, 0))
  let second = try area(.init(), column(p, 1), column(t, 1))
  let weighted = try area(.init(multiLabel: true, labelWeights: [3, 1]), p, t)
  #expect(abs(weighted - (3 * first + second) / 4) < 1e-6)
  // One threshold at 0.5 on the first label: (recall, precision) is (1, 0.5), (1, 1), then (0, 0)
  // (no positive predicted: precision 0, as Keras' divide_no_nan). Minoring takes each interval's
  // lower precision (0 · … + 1 · 0), majoring its higher (0 · … + 1 · 1).
  let minoring = try area(
    .init(curve: "PR", summationMethod: "minoring", thresholds: [0.5]), column(p, 0), column(t, 0))
  let majoring = try area(
    .init(curve: "PR", summationMethod: "majoring", thresholds: [0.5]), column(p, 0), column(t, 0))
  #expect(minoring == 0 && majoring == 1)
}
