import CStrataKernels
import Foundation
import StrataCore

/// What `fit` returns: each epoch's loss and metrics, `val_` ones included. Keras' `History.history`.
public struct History: Sendable, Equatable {
  /// The epochs trained (from 0), in order.
  public var epochs: [Int] = []
  /// Metric name → one value per epoch (`history["loss"]`, `history["val_accuracy"]`).
  public var history: [String: [Float]] = [:]

  /// A new instance, with nothing cached yet.
  public init() {}

  /// One logged value's list, by epoch (`history["loss"]`).
  public subscript(_ key: String) -> [Float]? { history[key] }

  mutating func append(epoch: Int, logs: Logs) {
    epochs.append(epoch)
    for (key, value) in logs { history[key, default: []].append(value) }
  }
}

/// A model's training set-up: what `compile` resolved.
package struct Compiled {
  package let optimizer: any Optimizer
  /// One loss per output.
  let losses: [any Loss]
  /// One weight per output: the total loss is `Σ weight · loss`.
  let lossWeights: [Float]
  /// The metrics of each output.
  let metrics: [[any MetricConvertible]]
  /// Whether the losses were given per output (by output name).
  let perOutput: Bool

  /// The loss of the first output (the only one of a `Sequential`).
  var loss: any Loss { losses[0] }
}

/// A metric as it runs: the name it is shown under, the output it watches and the object accumulating
/// it.
struct RunningMetric {
  let name: String
  let metric: any Metric
  var output = 0
}

/// Where gradients go between `backward` and the optimizer: combined across processes, inspected, or
/// changed. `fit` calls each stage of ``Model/gradientStages`` in order at every step.
public protocol GradientStage: AnyObject {
  /// Called with every trainable parameter, its `gradient` holding the batch's gradient, and the number
  /// of rows the batch had on this process.
  func process(_ parameters: [Parameter], rows: Int) throws
}

extension Model {
  /// Sets the optimizer, the loss and the metrics for `fit` and `evaluate`. Keras:
  /// `model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])`.
  ///
  /// Each argument is an identifier or an object: `compile(optimizer: try Adam(learningRate: 1e-4),
  /// loss: SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"])`. `"accuracy"` (or
  /// `"acc"`) becomes binary, sparse categorical or categorical accuracy from the shapes, as in Keras.
  /// A model with several outputs applies `loss` and `metrics` to each of them.
  public func compile(
    optimizer: any OptimizerConvertible = "rmsprop", loss: any LossConvertible,
    metrics: [any MetricConvertible] = []
  ) throws {
    let count = max(modelOutputShapes?.count ?? 1, 1)
    let resolvedLoss = try loss.makeLoss()
    try compile(
      optimizer: try optimizer.makeOptimizer(),
      losses: [resolvedLoss]
        + (1..<count).map { _ in
          try loss.makeLoss()
        },
      weights: Array(repeating: 1, count: count), metrics: Array(repeating: metrics, count: count),
      perOutput: false)
  }

  /// Compiles a model with several outputs, each with its own loss, weight and metrics, keyed by the
  /// output's name: Keras' `compile(loss={"class": …, "reg": "mse"}, loss_weights={"reg": 0.5},
  /// metrics={"class": ["accuracy"]})`. The total loss is `Σ weight · loss`; outputs without a weight
  /// weigh 1.
  public func compile(
    optimizer: any OptimizerConvertible = "rmsprop", loss: [String: any LossConvertible],
    lossWeights: [String: Float] = [:], metrics: [String: [any MetricConvertible]] = [:]
  ) throws {
    let names = outputNames
    for key in Array(loss.keys) + Array(lossWeights.keys) + Array(metrics.keys)
    where !names.contains(key) {
      throw StrataError.unknownArgument(
        owner: "compile", argument: key, suggestions: closestNames(to: key, in: names))
    }
    let losses = try names.map { name -> any Loss in
      guard let spec = loss[name] else {
        throw StrataError.missingArgument(owner: "compile", argument: "loss[\"\(name)\"]")
      }
      return try spec.makeLoss()
    }
    for (name, weight) in lossWeights where !weight.isFinite || weight < 0 {
      throw StrataError.invalidArgument(
        owner: "compile", argument: "lossWeights[\"\(name)\"]", value: "\(weight)",
        expected: "a finite number ≥ 0")
    }
    try compile(
      optimizer: try optimizer.makeOptimizer(), losses: losses,
      weights: names.map { lossWeights[$0] ?? 1 }, metrics: names.map { metrics[$0] ?? [] },
      perOutput: true)
  }

  private func compile(
    optimizer: any Optimizer, losses: [any Loss], weights: [Float],
    metrics: [[any MetricConvertible]], perOutput: Bool
  ) throws {
    for (loss, list) in zip(losses, metrics) {
      for metric in list where metric is String {
        _ = try makeMetric(metric, predictionShape: [1, 2], targetShape: [1], loss: loss)
      }
    }
    compiled = Compiled(
      optimizer: optimizer, losses: losses, lossWeights: weights, metrics: metrics,
      perOutput: perOutput)
  }

  /// The optimizer given to `compile`, `nil` before.
  public var optimizer: (any Optimizer)? { compiled?.optimizer }
  /// The loss given to `compile` (the first output's), `nil` before.
  public var loss: (any Loss)? { compiled?.loss }

  func makeMetric(
    _ spec: any MetricConvertible, predictionShape: [Int], targetShape: [Int], loss: any Loss
  ) throws -> any Metric {
    if let metric = spec as? any Metric { return metric }
    let name = spec.metricName
    let registries = Registries.shared
    if ["accuracy", "acc"].contains(name) {
      // Keras: binary when the output has one unit, sparse when the labels have lower rank (or one
      // column for several outputs), categorical otherwise.
      let binary = predictionShape.last == 1
      let sparse =
        targetShape.count < predictionShape.count
        || (targetShape.last == 1 && (predictionShape.last ?? 0) > 1)
      let identifier =
        binary ? "binary_accuracy" : sparse ? "sparse_categorical_accuracy" : "categorical_accuracy"
      return try registries.metrics.make(identifier)
    }
    if registries.metrics.contains(name) { return try registries.metrics.make(name) }
    if registries.losses.contains(name) { return LossMetric(try registries.losses.make(name)) }
    let known = registries.metrics.names + registries.losses.names + ["accuracy", "acc"]
    throw StrataError.unknownIdentifier(
      kind: "metric", identifier: name, suggestions: closestNames(to: name, in: known))
  }

  /// The metrics of a run on `data`, named as Keras logs them (`accuracy`; `class_accuracy` for an
  /// output called `class` of a model with several outputs). Metric objects are copied, never shared.
  func runningMetrics(_ compiled: Compiled, for data: some Dataset, fresh: Bool) throws
    -> [RunningMetric]
  {
    let shapes = modelOutputShapes ?? []
    let prefix = compiled.losses.count > 1 ? outputNames.map { $0 + "_" } : [""]
    var result: [RunningMetric] = []
    for (k, list) in compiled.metrics.enumerated() {
      for spec in list {
        let targetShape = [1] + data.targetShapes[k]
        let metric =
          try (fresh ? (spec as? any Metric)?.makeFresh() : nil)
          ?? makeMetric(
            spec, predictionShape: [1] + shapes[k], targetShape: targetShape,
            loss: compiled.losses[k])
        result.append(RunningMetric(name: prefix[k] + spec.metricName, metric: metric, output: k))
      }
    }
    return result
  }

  /// Checks a dataset against the model (building it from the input shapes if needed) and the
  /// compiled losses.
  func check(_ data: some Dataset, against compiled: Compiled, argument: String) throws {
    try prepare(for: data.inputShapes.map { Tensor(shape: [0] + $0) }, argument: argument)
    let shapes = modelOutputShapes ?? []
    try checkArgument(
      data.targetShapes.count == shapes.count,
      owner: name, argument: "y", value: "\(data.targetShapes.count) arrays",
      expected: "\(shapes.count), one per output (\(outputNames.joined(separator: ", ")))")
    for (k, loss) in compiled.losses.enumerated() {
      try loss.validate(predictionShape: [1] + shapes[k], targetShape: [1] + data.targetShapes[k])
    }
  }

  func warn(_ message: String) {
    FileHandle.standardError.write(Data(("Warning: " + message + "\n").utf8))
  }
}
