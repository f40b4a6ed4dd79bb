import CStrataKernels
import Foundation
import StrataCore

extension Model {

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
}
