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
struct Compiled {
  let optimizer: any Optimizer
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

  // MARK: fit

  /// Trains the model on `x` and `y`. Keras: `model.fit(x, y, batch_size=32, epochs=1, verbose="auto",
  /// validation_data=None, validation_split=0.0, shuffle=True, callbacks=None, initial_epoch=0)`.
  ///
  /// - Parameters:
  ///   - x: inputs, the batch axis first.
  ///   - y: targets for the compiled loss: class indices for sparse losses, else the output's shape.
  ///   - validationSplit: the fraction of `x` and `y` (taken from the end, before shuffling) held out
  ///     for validation, as Keras does.
  ///   - initialEpoch: the epoch to start from (epochs before it count as done).
  /// - Returns: each epoch's loss and metrics, `val_` ones with validation data.
  @discardableResult public func fit(
    _ x: Tensor, _ y: Tensor, batchSize: Int = 32, epochs: Int = 1, verbose: Verbosity = .auto,
    validationData: (Tensor, Tensor)? = nil, validationSplit: Float = 0, shuffle: Bool = true,
    callbacks: [any Callback] = [], initialEpoch: Int = 0, classWeight: [Int: Float]? = nil,
    sampleWeight: Tensor? = nil
  ) throws -> History {
    try fit(
      [x], [y], batchSize: batchSize, epochs: epochs, verbose: verbose,
      validationData: validationData.map { ([$0.0], [$0.1]) }, validationSplit: validationSplit,
      shuffle: shuffle, callbacks: callbacks, initialEpoch: initialEpoch, classWeight: classWeight,
      sampleWeight: sampleWeight)
  }

  /// One weight per sample from `classWeight`: the weight of each sample's class (its label, or the
  /// largest entry of a one-hot row). Keras' `class_weight`.
  func sampleWeights(from classWeight: [Int: Float], labels: Tensor) throws -> Tensor {
    let rows = labels.shape.first ?? 0
    let width = labels.count / max(rows, 1)
    let classes =
      width == 1
      ? labels.scalars.map { Int($0) } : try labels.argmax(axis: -1).scalars.map { Int($0) }
    return try Tensor(
      shape: [rows],
      scalars: classes.map { label in
        guard let weight = classWeight[label] else {
          throw StrataError.invalidArgument(
            owner: "fit", argument: "classWeight", value: "without class \(label)",
            expected: "a weight for every class in y")
        }
        return weight
      })
  }

  /// Trains a model with several inputs or outputs: one array per input in `x`, one per output in
  /// `y`, in the order of ``inputs`` and ``outputs``.
  @discardableResult public func fit(
    _ x: [Tensor], _ y: [Tensor], batchSize: Int = 32, epochs: Int = 1, verbose: Verbosity = .auto,
    validationData: ([Tensor], [Tensor])? = nil, validationSplit: Float = 0, shuffle: Bool = true,
    callbacks: [any Callback] = [], initialEpoch: Int = 0, classWeight: [Int: Float]? = nil,
    sampleWeight: Tensor? = nil
  ) throws -> History {
    try checkArgument(
      validationSplit >= 0 && validationSplit < 1,
      owner: "fit", argument: "validationSplit", value: "\(validationSplit)",
      expected: "a number in [0, 1)")
    var weights = sampleWeight
    if let classWeight, let labels = y.first {
      try checkArgument(
        y.count == 1 && sampleWeight == nil,
        owner: "fit", argument: "classWeight", value: "with \(y.count) outputs or sampleWeight",
        expected: "one output and no sampleWeight")
      weights = try sampleWeights(from: classWeight, labels: labels)
    }
    var train = try ArrayDataset(x: x, y: y, sampleWeight: weights, owner: name)
    var validation = try validationData.map {
      try ArrayDataset(
        x: $0.0, y: $0.1, owner: name, names: ("validationData.x", "validationData.y"))
    }
    if validationSplit > 0 {
      let total = train.count
      let split = total - Int(Float(total) * validationSplit)
      try checkArgument(
        split > 0 && split < total,
        owner: "fit", argument: "validationSplit", value: "\(validationSplit)",
        expected: "a fraction that leaves samples on both sides of \(total)")
      validation = train.rows(split..<total)
      train = train.rows(0..<split)
    }
    return try fit(
      train, batchSize: batchSize, epochs: epochs, verbose: verbose, validationData: validation,
      shuffle: shuffle, callbacks: callbacks, initialEpoch: initialEpoch)
  }

  /// Trains a model on arrays keyed by input and output name, as Keras takes dictionaries.
  @discardableResult public func fit(
    x: [String: Tensor], y: [String: Tensor], batchSize: Int = 32, epochs: Int = 1,
    verbose: Verbosity = .auto, validationSplit: Float = 0, shuffle: Bool = true,
    callbacks: [any Callback] = [], initialEpoch: Int = 0
  ) throws -> History {
    try fit(
      try ordered(x, by: inputNames, argument: "x"), try ordered(y, by: outputNames, argument: "y"),
      batchSize: batchSize, epochs: epochs, verbose: verbose, validationSplit: validationSplit,
      shuffle: shuffle, callbacks: callbacks, initialEpoch: initialEpoch)
  }

  /// The arrays of `values` in the order of `names`.
  func ordered(_ values: [String: Tensor], by names: [String], argument: String) throws -> [Tensor]
  {
    for key in values.keys where !names.contains(key) {
      throw StrataError.unknownArgument(
        owner: argument, argument: key, suggestions: closestNames(to: key, in: names))
    }
    return try names.map { name in
      guard let value = values[name] else {
        throw StrataError.missingArgument(owner: argument, argument: name)
      }
      return value
    }
  }

  /// Trains the model on a dataset (``ArrayDataset`` for arrays in memory).
  @discardableResult public func fit(
    _ data: some Dataset, batchSize: Int = 32, epochs: Int = 1, verbose: Verbosity = .auto,
    validationData: (some Dataset)? = ArrayDataset?.none, shuffle: Bool = true,
    callbacks: [any Callback] = [], initialEpoch: Int = 0
  ) throws -> History {
    guard let compiled else {
      throw StrataError.invalidState("\(name): call compile(optimizer:loss:metrics:) before fit.")
    }
    guard !layers.isEmpty else {
      throw StrataError.invalidState("\(name) has no layers: add layers before fit.")
    }
    try checkArgument(
      batchSize > 0,
      owner: "fit", argument: "batchSize", value: "\(batchSize)", expected: "a positive integer")
    try checkArgument(
      epochs >= 0 && initialEpoch >= 0,
      owner: "fit", argument: "epochs", value: "\(epochs)", expected: "a number ≥ 0")
    try check(data, against: compiled, argument: "x")
    if let validationData {
      try check(validationData, against: compiled, argument: "validationData.x")
    }
    let metrics = try runningMetrics(compiled, for: data, fresh: false)
    let validationMetrics = try runningMetrics(compiled, for: data, fresh: true)

    let trainer = Trainer(model: self, compiled: compiled, data: data, batchSize: batchSize)
    // As TensorFlow does while training: denormals are slow and meaningless in a gradient step.
    let floatMode = strata_flush_denormals()
    defer { strata_restore_float_mode(floatMode) }
    var history = History()
    // Distributed, rank 0 alone prints and runs the callbacks that write files.
    let isFollower = isDistributed && communicator.rank != 0
    let verbosity = isFollower ? .silent : verbose.resolved
    let callbacks = isFollower ? callbacks.filter { !$0.runsOnRankZeroOnly } : callbacks
    stopTraining = false
    resumeEpoch = nil
    return try abortingOnError {
      for callback in callbacks { callback.onTrainBegin(logs: [:], model: self) }
      // Every replica starts from rank 0's (which may have restored a backup), on rank 0's data.
      if isDistributed {
        try checkSameData(data, argument: "x")
        if let validationData { try checkSameData(validationData, argument: "validationData") }
        try synchronizeReplicas()
      }
      // A callback that restored a backup (BackupAndRestore) says where to go on from.
      var epoch = max(initialEpoch, resumeEpoch ?? 0)
      while epoch < epochs && !stopTraining {
        for callback in callbacks { callback.onEpochBegin(epoch, logs: [:], model: self) }
        if verbosity != .silent {
          Console.line("Epoch \(epoch + 1)/\(epochs)")
        }
        var logs = try trainer.runEpoch(
          shuffle: shuffle, generator: &shuffleGenerator, metrics: metrics, verbosity: verbosity,
          callbacks: callbacks,
          finalizeProgress: validationData == nil)
        if isDistributed {
          try averageMovingStatistics()
          try synchronizeGenerators()
        }
        if let validationData {
          let validationLogs = try evaluateLogs(
            validationData, batchSize: batchSize, compiled: compiled, metrics: validationMetrics)
          for (key, value) in validationLogs { logs["val_" + key] = value }
          trainer.finishProgress(logs: logs, metrics: metrics)
        }
        if callbacks.contains(where: \.logsLearningRate) {
          logs["learning_rate"] = compiled.optimizer.learningRate
        }
        history.append(epoch: epoch, logs: logs)
        // A backup marks the epoch done, so it is written last: every other callback (a checkpoint) has
        // its file on disk by then, and a run killed in between trains the epoch again.
        for callback in callbacks where !(callback is BackupAndRestore) {
          callback.onEpochEnd(epoch, logs: logs, model: self)
        }
        for callback in callbacks where callback is BackupAndRestore {
          callback.onEpochEnd(epoch, logs: logs, model: self)
        }
        // A stop asked for on any rank (the logs are the same everywhere) stops every rank.
        if isDistributed { stopTraining = try communicator.allreduceMax(stopTraining ? 1 : 0) > 0 }
        epoch += 1
      }
      let lastLogs = history.history.mapValues { $0.last ?? .nan }
      completedTraining = epoch >= epochs
      for callback in callbacks { callback.onTrainEnd(logs: lastLogs, model: self) }
      return history
    }
  }

  // MARK: evaluate

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

/// The state of one `fit` call: batch buffers and the training step, reused for every step.
final class Trainer<Data: Dataset> {
  let model: Model
  let compiled: Compiled
  let data: Data
  let batchSize: Int
  let parameters: [Parameter]
  /// The trainable parameters with a regularizer.
  let regularized: [Parameter]
  var context: Context
  /// For each output, the softmax head a cross-entropy loss fuses with.
  let fused: [(any SoftmaxHead, any SoftmaxCrossentropy)?]
  var batch: Batch
  var lossGradients: [Tensor]
  /// Each sample's loss, when the data has sample weights.
  var perSample = Tensor(shape: [0])
  /// The regularizers' penalty of the last step.
  var penalty: Float = 0
  /// The sum over the epoch's batches of penalty · rows.
  var penaltySum: Double = 0
  var order: [Int]
  var progress: ProgressBar?
  /// Distributed: the gradients' allreduce, after the model's own stages.
  let allreduce: GradientAllreduce?

  init(model: Model, compiled: Compiled, data: Data, batchSize: Int) {
    self.model = model
    self.compiled = compiled
    self.data = data
    self.batchSize = min(batchSize, data.count)
    allreduce = model.isDistributed ? GradientAllreduce(communicator: model.communicator) : nil
    parameters = model.parameters.filter(\.isTrainable)
    regularized = parameters.filter { $0.regularizer != nil }
    context = Context(kernels: model.kernels, isTraining: true)
    fused = compiled.losses.indices.map { k in
      guard let head = model.softmaxHead(forOutput: k), head.endsWithSoftmax,
        (head as? any ActivityRegularized)?.activityRegularizer == nil,
        let loss = compiled.losses[k] as? any SoftmaxCrossentropy, !loss.fromLogits
      else { return nil }
      return (head, loss)
    }
    // Distributed, a rank holds its share of each global batch.
    let ranks = model.communicator.size
    batch = data.makeBatch(capacity: (self.batchSize + ranks - 1) / ranks)
    lossGradients = compiled.losses.map { _ in Tensor(shape: [0]) }
    order = Array(0..<data.count)
  }

  /// One training step on the current batch: forward, loss, backward, the gradient stages, the
  /// optimizer. Returns each output's loss and the predictions.
  func step(rows: Int) throws -> (losses: [Float], predictions: [Tensor]) {
    if rows == 0 {
      // A rank without rows in this (small, last) global batch still takes part in the step.
      for parameter in parameters {
        parameter.gradient.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
      }
      penalty = 0
      for stage in model.gradientStages { try stage.process(parameters, rows: 0) }
      try allreduce?.process(parameters, rows: 0)
      compiled.optimizer.apply(to: parameters)
      return (compiled.losses.map { _ in 0 }, [])
    }
    let outputs = try model.run(batch.x, context: context)
    var losses: [Float] = []
    var isFused: [Bool] = []
    for k in outputs.indices {
      let output = outputs[k], target = batch.y[k], shape = output.shape
      lossGradients[k].reuse(shape: shape)
      var loss: Float
      // A fused head is only one whose softmax ran in this step (its logits are this step's).
      if let (head, crossentropy) = fused[k], head.endsWithSoftmax {
        let logits = head.logits
        loss = try output.withUnsafeBufferPointer { p in
          try logits.withUnsafeBufferPointer { z in
            try target.withUnsafeBufferPointer { t in
              try lossGradients[k].withUnsafeMutableBufferPointer {
                try crossentropy.computeFromSoftmax(
                  logits: z, probabilities: p, target: t, shape: shape, logitsGradient: $0)
              }
            }
          }
        }
        isFused.append(true)
      } else {
        loss = try output.withUnsafeBufferPointer { p in
          try target.withUnsafeBufferPointer { t in
            try lossGradients[k].withUnsafeMutableBufferPointer {
              try compiled.losses[k].compute(prediction: p, target: t, shape: shape, gradient: $0)
            }
          }
        }
        isFused.append(false)
      }
      if let weights = batch.sampleWeights {
        loss = try weigh(&lossGradients[k], loss: compiled.losses[k], output, target, weights)
      }
      let weight = compiled.lossWeights[k]
      if weight != 1 {
        lossGradients[k].withUnsafeMutableBufferPointer { g in
          simdMap(UnsafeBufferPointer(g), into: g) { $0 * weight }
        }
      }
      losses.append(loss)
    }
    try model.runBackward(lossGradients, fused: isFused, context: context)
    // Weight penalties join the loss at the weights this step started from, as Keras computes them.
    penalty = model.regularizationPenalty(regularized)
    for parameter in regularized { parameter.addRegularizerGradient() }
    for stage in model.gradientStages { try stage.process(parameters, rows: rows) }
    try allreduce?.process(parameters, rows: rows)
    compiled.optimizer.apply(to: parameters)
    return (losses, outputs)
  }

  /// Keras' loss with sample weights (`Σ wᵢ · lossᵢ / batch`), each row of `gradient` scaled by its
  /// weight.
  func weigh(
    _ gradient: inout Tensor, loss: any Loss, _ output: Tensor, _ target: Tensor, _ weights: Tensor
  ) throws -> Float {
    let rows = output.shape[0]
    perSample.reuse(shape: [rows])
    try output.withUnsafeBufferPointer { p in
      try target.withUnsafeBufferPointer { t in
        try perSample.withUnsafeMutableBufferPointer {
          try loss.perSampleLosses(prediction: p, target: t, shape: output.shape, into: $0)
        }
      }
    }
    var total: Double = 0
    let rowSize = output.count / max(rows, 1)
    weights.withUnsafeBufferPointer { w in
      perSample.withUnsafeBufferPointer { l in
        for i in 0..<rows { total += Double(l[i]) * Double(w[i]) }
      }
      gradient.withUnsafeMutableBufferPointer { g in
        for i in 0..<rows {
          let weight = w[i]
          for j in (i * rowSize)..<((i + 1) * rowSize) { g[j] *= weight }
        }
      }
    }
    return Float(total / Double(max(rows, 1)))
  }

  /// Runs one epoch and returns its logs (running means over the epoch, as Keras reports them).
  func runEpoch(
    shuffle: Bool, generator: inout SeededGenerator, metrics: [RunningMetric], verbosity: Verbosity,
    callbacks: [any Callback], finalizeProgress: Bool
  ) throws -> Logs {
    let count = data.count
    if shuffle {
      // A fresh permutation each epoch, so that resuming a run needs only the generator's state.
      for i in order.indices { order[i] = i }
      for i in stride(from: count - 1, to: 0, by: -1) {
        order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
      }
    }
    for metric in metrics { metric.metric.reset() }
    let steps = (count + batchSize - 1) / batchSize
    progress = verbosity == .silent ? nil : ProgressBar(target: steps, verbosity: verbosity)
    let outputCount = compiled.losses.count
    var lossSums = [Double](repeating: 0, count: outputCount)
    var seen = 0
    penaltySum = 0
    func logs() -> Logs {
      let means = lossSums.map { Float($0 / Double(max(seen, 1))) }
      let penalty = Float(penaltySum / Double(max(seen, 1)))
      var logs: Logs = [
        "loss": zip(means, compiled.lossWeights).reduce(penalty) { $0 + $1.0 * $1.1 }
      ]
      if outputCount > 1 {
        for (name, value) in zip(model.outputNames, means) { logs[name + "_loss"] = value }
      }
      for metric in metrics { logs[metric.name] = metric.metric.result }
      return logs
    }
    let communicator = model.communicator
    var pendingStop = false
    var stepsDone = 0
    for index in 0..<steps {
      if !callbacks.isEmpty {
        for callback in callbacks { callback.onTrainBatchBegin(index, logs: [:], model: model) }
      }
      // Distributed, this rank's contiguous share of the global batch.
      func local(_ step: Int) -> (global: Range<Int>, local: Range<Int>) {
        let global = (step * batchSize)..<min((step + 1) * batchSize, count)
        return (
          global,
          allreduce == nil
            ? global : share(of: global, rank: communicator.rank, size: communicator.size)
        )
      }
      let (global, range) = local(index)
      if !range.isEmpty { try data.gather(order[range], into: &batch) }
      // A dataset that reads from disk decodes the next batch while this one trains.
      if index + 1 < steps {
        let next = local(index + 1).local
        if !next.isEmpty { data.prefetch(order[next]) }
      }
      allreduce?.stopRequested = pendingStop
      if allreduce != nil {
        context.globalBatch = (global.count, range.lowerBound - global.lowerBound)
      }
      let (losses, predictions) = try step(rows: range.count)
      stepsDone = index + 1
      // Keras weighs each batch's loss by its size in the running mean.
      for k in losses.indices { lossSums[k] += Double(losses[k]) * Double(range.count) }
      penaltySum += Double(penalty) * Double(range.count)
      seen += range.count
      if !predictions.isEmpty {
        for metric in metrics {
          try metric.metric.update(
            prediction: predictions[metric.output], target: batch.y[metric.output])
        }
      }
      if !callbacks.isEmpty || progress != nil {
        let current = logs()
        for callback in callbacks { callback.onTrainBatchEnd(index, logs: current, model: model) }
        if progress != nil, index < steps - 1 {
          progress!.update(
            index + 1, values: model.logValues(current, compiled: compiled, metrics: metrics),
            final: false)
        }
      }
      if let allreduce {
        // A stop asked for here travels with the next step's gradients; every rank stops after the
        // step in which the request was added up.
        if model.stopTraining { pendingStop = true }
        model.stopTraining = allreduce.stopAgreed
      }
      if model.stopTraining { break }
    }
    if allreduce != nil {
      try model.reduceEpoch(
        lossSums: &lossSums, penaltySum: &penaltySum, seen: &seen, metrics: metrics)
      // A request not yet sent is settled by fit's check after the epoch.
      if pendingStop { model.stopTraining = true }
    }
    let final = logs()
    if progress != nil, finalizeProgress, stepsDone == steps {
      progress!.update(
        steps, values: model.logValues(final, compiled: compiled, metrics: metrics), final: true)
    }
    return final
  }

  /// Ends the epoch's progress line with the validation values.
  func finishProgress(logs: Logs, metrics: [RunningMetric]) {
    guard progress != nil else { return }
    let steps = (data.count + batchSize - 1) / batchSize
    let values =
      model.logValues(logs, compiled: compiled, metrics: metrics)
      + model.logValues(logs, compiled: compiled, metrics: metrics, prefix: "val_")
    progress!.update(steps, values: values, final: true)
  }

}

/// Replaces each parameter's value, after checking the count and every shape.
func assign(_ values: [Tensor], to parameters: [Parameter], owner: String) throws {
  try checkArgument(
    values.count == parameters.count,
    owner: owner, argument: "weights", value: "of count \(values.count)",
    expected: "\(parameters.count) tensors")
  for (parameter, value) in zip(parameters, values) where parameter.shape != value.shape {
    throw StrataError.invalidArgument(
      owner: owner, argument: "weights", value: "of shape \(value.shape) for '\(parameter.name)'",
      expected: "shape \(parameter.shape)")
  }
  for (parameter, value) in zip(parameters, values) { parameter.value = value }
}
