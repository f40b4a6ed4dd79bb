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
  let loss: any Loss
  let metrics: [any MetricConvertible]
}

/// A metric as it runs: the name it is shown under and the object accumulating it.
struct RunningMetric {
  let name: String
  let metric: any Metric
}

extension Sequential {
  /// Sets the optimizer, the loss and the metrics for `fit` and `evaluate`. Keras:
  /// `model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])`.
  ///
  /// Each argument is an identifier or an object: `compile(optimizer: try Adam(learningRate: 1e-4),
  /// loss: SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"])`. `"accuracy"` (or
  /// `"acc"`) becomes binary, sparse categorical or categorical accuracy from the shapes, as in Keras.
  public func compile(
    optimizer: any OptimizerConvertible = "rmsprop", loss: any LossConvertible,
    metrics: [any MetricConvertible] = []
  ) throws {
    let resolvedOptimizer = try optimizer.makeOptimizer()
    let resolvedLoss = try loss.makeLoss()
    for metric in metrics where metric is String {
      _ = try makeMetric(metric, predictionShape: [1, 2], targetShape: [1], loss: resolvedLoss)
    }
    compiled = Compiled(optimizer: resolvedOptimizer, loss: resolvedLoss, metrics: metrics)
  }

  /// The optimizer given to `compile`, `nil` before.
  public var optimizer: (any Optimizer)? { compiled?.optimizer }
  /// The loss given to `compile`, `nil` before.
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
  @discardableResult
  public func fit(
    _ x: Tensor, _ y: Tensor, batchSize: Int = 32, epochs: Int = 1, verbose: Verbosity = .auto,
    validationData: (Tensor, Tensor)? = nil, validationSplit: Float = 0, shuffle: Bool = true,
    callbacks: [any Callback] = [], initialEpoch: Int = 0
  ) throws -> History {
    guard let compiled else {
      throw StrataError.invalidState("\(name): call compile(optimizer:loss:metrics:) before fit.")
    }
    guard !layers.isEmpty else {
      throw StrataError.invalidState("\(name) has no layers: add layers before fit.")
    }
    guard batchSize > 0 else {
      throw StrataError.invalidArgument(
        owner: "fit", argument: "batchSize", value: "\(batchSize)", expected: "a positive integer")
    }
    guard epochs >= 0, initialEpoch >= 0 else {
      throw StrataError.invalidArgument(
        owner: "fit", argument: "epochs", value: "\(epochs)", expected: "a number ≥ 0")
    }
    guard validationSplit >= 0, validationSplit < 1 else {
      throw StrataError.invalidArgument(
        owner: "fit", argument: "validationSplit", value: "\(validationSplit)",
        expected: "a number in [0, 1)")
    }
    try checkPair(x, y)
    var trainX = x, trainY = y, validation = validationData
    if validationSplit > 0 {
      let total = x.shape[0]
      let split = total - Int(Float(total) * validationSplit)
      guard split > 0, split < total else {
        throw StrataError.invalidArgument(
          owner: "fit", argument: "validationSplit", value: "\(validationSplit)",
          expected: "a fraction that leaves samples on both sides of \(total)")
      }
      trainX = x.slice(rows: 0..<split)
      trainY = y.slice(rows: 0..<split)
      validation = (x.slice(rows: split..<total), y.slice(rows: split..<total))
    }
    if let (vx, vy) = validation {
      try checkPair(vx, vy, names: ("validationData.x", "validationData.y"))
    }
    try prepare(for: trainX)
    let outputShape = self.outputShape ?? []
    try compiled.loss.validate(
      predictionShape: [1] + outputShape, targetShape: [1] + trainY.shape.dropFirst())
    let metrics = try compiled.metrics.map {
      RunningMetric(
        name: $0.metricName,
        metric: try makeMetric(
          $0, predictionShape: [1] + outputShape, targetShape: [1] + trainY.shape.dropFirst(),
          loss: compiled.loss))
    }
    let validationMetrics = try compiled.metrics.map {
      RunningMetric(
        name: $0.metricName,
        // A metric object is copied with its config (a top-k metric keeps its k), never shared.
        metric: try ($0 as? any Metric)?.makeFresh()
          ?? makeMetric(
            $0, predictionShape: [1] + outputShape, targetShape: [1] + trainY.shape.dropFirst(),
            loss: compiled.loss))
    }

    let trainer = Trainer(
      model: self, compiled: compiled, x: trainX, y: trainY, batchSize: batchSize)
    // As TensorFlow does while training: denormals are slow and meaningless in a gradient step.
    let floatMode = strata_flush_denormals()
    defer { strata_restore_float_mode(floatMode) }
    var history = History()
    let verbosity = verbose.resolved
    stopTraining = false
    resumeEpoch = nil
    for callback in callbacks { callback.onTrainBegin(logs: [:], model: self) }
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
        finalizeProgress: validation == nil)
      if let (vx, vy) = validation {
        let validationLogs = try evaluateLogs(
          vx, vy, batchSize: batchSize, loss: compiled.loss, metrics: validationMetrics)
        for (key, value) in validationLogs { logs["val_" + key] = value }
        trainer.finishProgress(logs: logs, metrics: metrics)
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
      epoch += 1
    }
    let lastLogs = history.history.mapValues { $0.last ?? .nan }
    completedTraining = epoch >= epochs
    for callback in callbacks { callback.onTrainEnd(logs: lastLogs, model: self) }
    return history
  }

  func checkPair(_ x: Tensor, _ y: Tensor, names: (String, String) = ("x", "y")) throws {
    guard x.rank >= 1, y.rank >= 1 else {
      throw StrataError.invalidArgument(
        owner: name, argument: x.rank < 1 ? names.0 : names.1, value: "a scalar",
        expected: "a batch axis first")
    }
    guard x.shape[0] == y.shape[0] else {
      throw StrataError.invalidArgument(
        owner: name, argument: names.1, value: "with \(y.shape[0]) samples",
        expected: "as many samples as \(names.0) (\(x.shape[0]))")
    }
    guard x.shape[0] > 0 else {
      throw StrataError.invalidArgument(
        owner: name, argument: names.0, value: "with no samples", expected: "at least one sample")
    }
  }

  // MARK: evaluate

  /// The loss and metrics on `x` and `y`, computed in inference mode. Keras: `model.evaluate(x, y)`.
  /// - Returns: `"loss"` and each compiled metric by the name it was given.
  @discardableResult public func evaluate(
    _ x: Tensor, _ y: Tensor, batchSize: Int = 32, verbose: Verbosity = .auto
  )
    throws -> Logs
  {
    guard let compiled else {
      throw StrataError.invalidState(
        "\(name): call compile(optimizer:loss:metrics:) before evaluate.")
    }
    guard batchSize > 0 else {
      throw StrataError.invalidArgument(
        owner: "evaluate", argument: "batchSize", value: "\(batchSize)",
        expected: "a positive integer")
    }
    try checkPair(x, y)
    try prepare(for: x)
    let outputShape = self.outputShape ?? []
    try compiled.loss.validate(
      predictionShape: [1] + outputShape, targetShape: [1] + y.shape.dropFirst())
    let metrics = try compiled.metrics.map {
      RunningMetric(
        name: $0.metricName,
        metric: try makeMetric(
          $0, predictionShape: [1] + outputShape, targetShape: [1] + y.shape.dropFirst(),
          loss: compiled.loss))
    }
    let verbosity = verbose.resolved
    let steps = (x.shape[0] + batchSize - 1) / batchSize
    var bar = ProgressBar(target: steps, verbosity: verbosity)
    let logs = try evaluateLogs(x, y, batchSize: batchSize, loss: compiled.loss, metrics: metrics)
    bar.update(
      steps,
      values: [("loss", logs["loss"] ?? .nan)] + metrics.map { ($0.name, logs[$0.name] ?? .nan) },
      final: true)
    return logs
  }

  func evaluateLogs(
    _ x: Tensor, _ y: Tensor, batchSize: Int, loss: any Loss, metrics: [RunningMetric]
  ) throws -> Logs {
    let context = Context(kernels: kernels, isTraining: false)
    for metric in metrics { metric.metric.reset() }
    let count = x.shape[0]
    var weightedLoss: Double = 0
    var start = 0
    while start < count {
      let end = min(start + batchSize, count)
      let batchX = x.slice(rows: start..<end), batchY = y.slice(rows: start..<end)
      let prediction = try forward(batchX, context: context)
      let value = try prediction.withUnsafeBufferPointer { p in
        try batchY.withUnsafeBufferPointer { t in
          try loss.compute(prediction: p, target: t, shape: prediction.shape, gradient: nil)
        }
      }
      weightedLoss += Double(value) * Double(end - start)
      for metric in metrics { try metric.metric.update(prediction: prediction, target: batchY) }
      start = end
    }
    var logs: Logs = ["loss": Float(weightedLoss / Double(count))]
    for metric in metrics { logs[metric.name] = metric.metric.result }
    return logs
  }
}

/// The state of one `fit` call: batch buffers and the training step, reused for every step.
final class Trainer {
  let model: Sequential
  let compiled: Compiled
  let x: Tensor, y: Tensor
  let batchSize: Int
  let parameters: [Parameter]
  let context: Context
  let firstContext: Context
  let fused: (any SoftmaxHead, any SoftmaxCrossentropy)?
  var batchX: Tensor, batchY: Tensor
  var lossGradient = Tensor(shape: [0])
  var order: [Int]
  /// Whether `order` is no longer `0..<count`.
  var isShuffled = false
  var progress: ProgressBar?
  let sampleSize: Int, targetSize: Int

  init(model: Sequential, compiled: Compiled, x: Tensor, y: Tensor, batchSize: Int) {
    self.model = model
    self.compiled = compiled
    self.x = x
    self.y = y
    self.batchSize = min(batchSize, x.shape[0])
    parameters = model.parameters.filter(\.isTrainable)
    context = Context(kernels: model.kernels, isTraining: true)
    firstContext = Context(kernels: model.kernels, isTraining: true, needsInputGradient: false)
    if let head = model.layers.last as? any SoftmaxHead, head.endsWithSoftmax,
      let loss = compiled.loss as? any SoftmaxCrossentropy, !loss.fromLogits
    {
      fused = (head, loss)
    } else {
      fused = nil
    }
    sampleSize = x.shape.dropFirst().reduce(1, *)
    targetSize = y.shape.dropFirst().reduce(1, *)
    batchX = Tensor(shape: [self.batchSize] + x.shape.dropFirst())
    batchY = Tensor(shape: [self.batchSize] + y.shape.dropFirst())
    order = Array(0..<x.shape[0])
  }

  /// Copies the samples `order[range]` into the batch buffers.
  func gather(_ range: Range<Int>) {
    let rows = range.count
    batchX.reuse(shape: [rows] + x.shape.dropFirst())
    batchY.reuse(shape: [rows] + y.shape.dropFirst())
    let sampleSize = self.sampleSize, targetSize = self.targetSize
    // Without shuffling a batch is one block of rows: one copy.
    let contiguous = !isShuffled
    x.withUnsafeBufferPointer { source in
      batchX.withUnsafeMutableBufferPointer { target in
        if contiguous {
          (target.baseAddress!).update(
            from: source.baseAddress! + order[range.lowerBound] * sampleSize,
            count: rows * sampleSize)
        } else {
          for (i, index) in order[range].enumerated() {
            (target.baseAddress! + i * sampleSize).update(
              from: source.baseAddress! + index * sampleSize, count: sampleSize)
          }
        }
      }
    }
    y.withUnsafeBufferPointer { source in
      batchY.withUnsafeMutableBufferPointer { target in
        for (i, index) in order[range].enumerated() {
          (target.baseAddress! + i * targetSize).update(
            from: source.baseAddress! + index * targetSize, count: targetSize)
        }
      }
    }
  }

  /// One training step on the current batch; returns the batch's loss.
  func step() throws -> (loss: Float, prediction: Tensor) {
    let layers = model.layers
    var output = batchX
    for index in layers.indices {
      do {
        output = try layers[index].forward(output, in: index == 0 ? firstContext : context)
      } catch {
        throw model.naming(error, layerAt: index)
      }
    }
    lossGradient.reuse(shape: output.shape)
    let loss: Float
    let shape = output.shape
    if let (head, crossentropy) = fused {
      let logits = head.logits
      loss = try output.withUnsafeBufferPointer { p in
        try logits.withUnsafeBufferPointer { z in
          try batchY.withUnsafeBufferPointer { t in
            try lossGradient.withUnsafeMutableBufferPointer {
              try crossentropy.computeFromSoftmax(
                logits: z, probabilities: p, target: t, shape: shape, logitsGradient: $0)
            }
          }
        }
      }
    } else {
      loss = try output.withUnsafeBufferPointer { p in
        try batchY.withUnsafeBufferPointer { t in
          try lossGradient.withUnsafeMutableBufferPointer {
            try compiled.loss.compute(prediction: p, target: t, shape: shape, gradient: $0)
          }
        }
      }
    }
    var gradient = lossGradient
    for index in layers.indices.reversed() {
      let layerContext = index == 0 ? firstContext : context
      do {
        if index == layers.count - 1, let (head, _) = fused {
          gradient = try head.backward(logitsGradient: gradient, in: layerContext)
        } else {
          gradient = try layers[index].backward(gradient, in: layerContext)
        }
      } catch {
        throw model.naming(error, layerAt: index)
      }
    }
    compiled.optimizer.apply(to: parameters)
    return (loss, output)
  }

  /// Runs one epoch and returns its logs (running means over the epoch, as Keras reports them).
  func runEpoch(
    shuffle: Bool, generator: inout SeededGenerator, metrics: [RunningMetric], verbosity: Verbosity,
    callbacks: [any Callback], finalizeProgress: Bool
  ) throws -> Logs {
    let count = x.shape[0]
    if shuffle {
      // A fresh permutation each epoch, so that resuming a run needs only the generator's state.
      for i in order.indices { order[i] = i }
      for i in stride(from: count - 1, to: 0, by: -1) {
        order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
      }
      isShuffled = true
    }
    for metric in metrics { metric.metric.reset() }
    let steps = (count + batchSize - 1) / batchSize
    progress = verbosity == .silent ? nil : ProgressBar(target: steps, verbosity: verbosity)
    var lossSum: Double = 0
    var seen = 0
    for batch in 0..<steps {
      if !callbacks.isEmpty {
        for callback in callbacks { callback.onTrainBatchBegin(batch, logs: [:], model: model) }
      }
      let range = (batch * batchSize)..<min((batch + 1) * batchSize, count)
      gather(range)
      let (loss, prediction) = try step()
      // Keras weighs each batch's loss by its size in the running mean.
      lossSum += Double(loss) * Double(range.count)
      seen += range.count
      for metric in metrics { try metric.metric.update(prediction: prediction, target: batchY) }
      let runningLoss = Float(lossSum / Double(seen))
      if !callbacks.isEmpty {
        var logs: Logs = ["loss": runningLoss]
        for metric in metrics { logs[metric.name] = metric.metric.result }
        for callback in callbacks { callback.onTrainBatchEnd(batch, logs: logs, model: model) }
      }
      if progress != nil {
        let isLast = batch == steps - 1
        if !isLast || finalizeProgress {
          progress!.update(
            batch + 1,
            values: [("loss", runningLoss)] + metrics.map { ($0.name, $0.metric.result) },
            final: isLast)
        }
      }
      if model.stopTraining { break }
    }
    var logs: Logs = ["loss": Float(lossSum / Double(max(seen, 1)))]
    for metric in metrics { logs[metric.name] = metric.metric.result }
    return logs
  }

  /// Ends the epoch's progress line with the validation values.
  func finishProgress(logs: Logs, metrics: [RunningMetric]) {
    guard progress != nil else { return }
    let steps = (x.shape[0] + batchSize - 1) / batchSize
    var values: [(String, Float)] =
      [("loss", logs["loss"] ?? .nan)] + metrics.map { ($0.name, logs[$0.name] ?? .nan) }
    values +=
      [("val_loss", logs["val_loss"] ?? .nan)]
      + metrics.map { ("val_" + $0.name, logs["val_" + $0.name] ?? .nan) }
    progress!.update(steps, values: values, final: true)
  }
}

/// Replaces each parameter's value, after checking the count and every shape.
func assign(_ values: [Tensor], to parameters: [Parameter], owner: String) throws {
  guard values.count == parameters.count else {
    throw StrataError.invalidArgument(
      owner: owner, argument: "weights", value: "of count \(values.count)",
      expected: "\(parameters.count) tensors")
  }
  for (parameter, value) in zip(parameters, values) where parameter.shape != value.shape {
    throw StrataError.invalidArgument(
      owner: owner, argument: "weights", value: "of shape \(value.shape) for '\(parameter.name)'",
      expected: "shape \(parameter.shape)")
  }
  for (parameter, value) in zip(parameters, values) { parameter.value = value }
}
