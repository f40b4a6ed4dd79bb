import CStrataKernels
import Foundation
import StrataCore

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
    // Nobody wants the input's gradient: layers before the first trainable one run as inference.
    context = Context(kernels: model.kernels, isTraining: true, needsInputGradient: false)
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
    // The built-in step, which `Model.trainStep` runs unless a subclass overrides it.
    var rows = 0
    var builtInStepRan = false
    var custom: Logs?
    model.builtInTrainStep = { [unowned self] batch in
      builtInStepRan = true
      let (losses, predictions) = try step(rows: rows)
      // Keras weighs each batch's loss by its size in the running mean.
      for k in losses.indices { lossSums[k] += Double(losses[k]) * Double(rows) }
      penaltySum += Double(penalty) * Double(rows)
      seen += rows
      if !predictions.isEmpty {
        for metric in metrics {
          try metric.metric.update(
            prediction: predictions[metric.output], target: batch.y[metric.output])
        }
      }
      return logs()
    }
    defer { model.builtInTrainStep = nil }
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
      rows = range.count
      let stepLogs = try model.trainStep(batch)
      if !builtInStepRan {
        // A custom train step reports its own values; distributed, it would combine nothing.
        try checkArgument(
          allreduce == nil, owner: model.name, argument: "trainStep",
          value: "overridden in a distributed run",
          expected: "the built-in step (custom steps run on one process)")
        custom = stepLogs
      }
      builtInStepRan = false
      stepsDone = index + 1
      if !callbacks.isEmpty || progress != nil {
        let current = stepLogs
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
    let final = custom ?? logs()
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
