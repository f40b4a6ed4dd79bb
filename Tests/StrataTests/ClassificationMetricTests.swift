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
