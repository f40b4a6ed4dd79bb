import CStrataKernels
import Foundation
import StrataCore

extension Model {

  /// The loss and metrics on `x` and `y`, computed in inference mode. Keras: `model.evaluate(x, y)`.
  /// - Returns: `"loss"` and each compiled metric by the name it was given.
  @discardableResult public func evaluate(
    _ x: Tensor, _ y: Tensor, batchSize: Int = 32, verbose: Verbosity = .auto,
    sampleWeight: Tensor? = nil
  ) throws -> Logs {
    try evaluate([x], [y], batchSize: batchSize, verbose: verbose, sampleWeight: sampleWeight)
  }

  /// The loss and metrics of a model with several inputs or outputs: `"loss"` (the weighted total),
  /// `"<output>_loss"` for each output (unweighted, as Keras reports it) and `"<output>_<metric>"`.
  @discardableResult public func evaluate(
    _ x: [Tensor], _ y: [Tensor], batchSize: Int = 32, verbose: Verbosity = .auto,
    sampleWeight: Tensor? = nil
  ) throws -> Logs {
    try evaluate(
      try ArrayDataset(x: x, y: y, sampleWeight: sampleWeight, owner: name), batchSize: batchSize,
      verbose: verbose)
  }

  /// The loss and metrics on a dataset.
  @discardableResult public func evaluate(
    _ data: some Dataset, batchSize: Int = 32, verbose: Verbosity = .auto
  ) throws -> Logs {
    guard let compiled else {
      throw StrataError.invalidState(
        "\(name): call compile(optimizer:loss:metrics:) before evaluate.")
    }
    try checkArgument(
      batchSize > 0,
      owner: "evaluate", argument: "batchSize", value: "\(batchSize)",
      expected: "a positive integer")
    try check(data, against: compiled, argument: "x")
    let metrics = try runningMetrics(compiled, for: data, fresh: false)
    let verbosity = verbose.resolved
    let steps = (data.count + batchSize - 1) / batchSize
    var bar = ProgressBar(target: steps, verbosity: verbosity)
    let logs = try evaluateLogs(data, batchSize: batchSize, compiled: compiled, metrics: metrics)
    bar.update(steps, values: logValues(logs, compiled: compiled, metrics: metrics), final: true)
    return logs
  }

  /// The values a progress bar shows, in Keras' order: the loss, each output's loss, the metrics.
  func logValues(_ logs: Logs, compiled: Compiled, metrics: [RunningMetric], prefix: String = "")
    -> [(String, Float)]
  {
    var keys = ["loss"]
    if compiled.losses.count > 1 { keys += outputNames.map { $0 + "_loss" } }
    keys += metrics.map(\.name)
    return keys.map { (prefix + $0, logs[prefix + $0] ?? .nan) }
  }

  func evaluateLogs(
    _ data: some Dataset, batchSize: Int, compiled: Compiled, metrics: [RunningMetric]
  ) throws -> Logs {
    let context = Context(kernels: kernels, isTraining: false)
    for metric in metrics { metric.metric.reset() }
    // Distributed, each rank evaluates its share and the sums are added up.
    let shard =
      isDistributed
      ? share(of: 0..<data.count, rank: communicator.rank, size: communicator.size)
      : 0..<data.count
    var count = shard.count
    var sums = [Double](repeating: 0, count: compiled.losses.count)
    var penaltySum: Double = 0
    let regularized = regularizedParameters
    var batch = data.makeBatch(capacity: min(batchSize, count))
    var start = shard.lowerBound
    while start < shard.upperBound {
      let end = min(start + batchSize, shard.upperBound)
      try data.gather(start..<end, into: &batch)
      // A dataset that reads from disk decodes the next batch while this one runs.
      if end < shard.upperBound { data.prefetch(end..<min(end + batchSize, shard.upperBound)) }
      let predictions = try run(batch.x, context: context)
      for (k, loss) in compiled.losses.enumerated() {
        let value =
          try batch.sampleWeights.map {
            try loss.weightedLoss(prediction: predictions[k], target: batch.y[k], sampleWeight: $0)
          }
          ?? predictions[k].withUnsafeBufferPointer { p in
            try batch.y[k].withUnsafeBufferPointer { t in
              try loss.compute(prediction: p, target: t, shape: predictions[k].shape, gradient: nil)
            }
          }
        sums[k] += Double(value) * Double(end - start)
      }
      for metric in metrics {
        try metric.metric.update(
          prediction: predictions[metric.output], target: batch.y[metric.output])
      }
      penaltySum += Double(regularizationPenalty(regularized)) * Double(end - start)
      start = end
    }
    if isDistributed {
      try abortingOnError {
        try reduceEpoch(lossSums: &sums, penaltySum: &penaltySum, seen: &count, metrics: metrics)
      }
    }
    let means = sums.map { Float($0 / Double(max(count, 1))) }
    var logs: Logs = [
      "loss": zip(means, compiled.lossWeights).reduce(Float(penaltySum / Double(max(count, 1)))) {
        $0 + $1.0 * $1.1
      }
    ]
    if compiled.losses.count > 1 {
      for (name, value) in zip(outputNames, means) { logs[name + "_loss"] = value }
    }
    for metric in metrics { logs[metric.name] = metric.metric.result }
    return logs
  }
}
