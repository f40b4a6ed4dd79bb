import Foundation
import StrataCore
import StrataLayers

extension Model {
  /// The model's outputs for `x` (one array per input), `batchSize` samples at a time, in inference
  /// mode: one array per output.
  public func predict(_ x: [Tensor], batchSize: Int = 32) throws -> [Tensor] {
    try checkArgument(
      batchSize > 0,
      owner: "predict", argument: "batchSize", value: "\(batchSize)",
      expected: "a positive integer")
    guard let count = x.first?.shape.first, x.allSatisfy({ $0.shape.first == count }) else {
      throw StrataError.invalidArgument(
        owner: "predict", argument: "x", value: "arrays of \(x.map { $0.shape.first ?? 0 }) rows",
        expected: "one array per input, all with the same number of rows")
    }
    try prepare(for: x)
    let shapes = modelOutputShapes ?? []
    let context = Context(kernels: kernels, isTraining: false)
    var results = shapes.map { Tensor(shape: [count] + $0) }
    var start = 0
    while start < count {
      let end = min(start + batchSize, count)
      let batch = x.map { start == 0 && end == count ? $0 : $0.slice(rows: start..<end) }
      let produced = try run(batch, context: context)
      for k in results.indices {
        let rowSize = shapes[k].reduce(1, *)
        results[k].withUnsafeMutableBufferPointer { r in
          produced[k].withUnsafeBufferPointer { o in
            (r.baseAddress! + start * rowSize).update(from: o.baseAddress!, count: o.count)
          }
        }
      }
      start = end
    }
    return results
  }

  /// The model's outputs for every sample of `data` (its targets are not used), in order, one array
  /// per output; a dataset that reads from disk decodes the next batch while one runs.
  public func predictOutputs(_ data: some Dataset, batchSize: Int = 32) throws -> [Tensor] {
    try checkArgument(
      batchSize > 0,
      owner: "predict", argument: "batchSize", value: "\(batchSize)",
      expected: "a positive integer")
    let count = data.count
    var batch = data.makeBatch(capacity: min(batchSize, max(count, 1)))
    var results: [Tensor] = []
    let context = Context(kernels: kernels, isTraining: false)
    var start = 0
    while start < count {
      let end = min(start + batchSize, count)
      try data.gather(start..<end, into: &batch)
      if end < count { data.prefetch(end..<min(end + batchSize, count)) }
      if start == 0 {
        try prepare(for: batch.x)
        results = (modelOutputShapes ?? []).map { Tensor(shape: [count] + $0) }
      }
      let produced = try run(batch.x, context: context)
      for k in results.indices {
        let rowSize = results[k].count / max(count, 1)
        results[k].withUnsafeMutableBufferPointer { r in
          produced[k].withUnsafeBufferPointer { o in
            (r.baseAddress! + start * rowSize).update(from: o.baseAddress!, count: o.count)
          }
        }
      }
      start = end
    }
    return results
  }

  /// The output for every sample of `data` of a model with one output. Keras: `model.predict(dataset)`.
  public func predict(_ data: some Dataset, batchSize: Int = 32) throws -> Tensor {
    try checkArgument(
      (modelOutputShapes?.count ?? 1) == 1,
      owner: "predict", argument: "data", value: "for a model of \(outputs.count) outputs",
      expected: "predictOutputs(data), which returns one array per output")
    return try predictOutputs(data, batchSize: batchSize).first ?? Tensor(shape: [0])
  }

  /// The output for `x` of a model with one input and one output (a `Sequential`).
  public func predict(_ x: Tensor, batchSize: Int = 32) throws -> Tensor {
    let outputCount = modelOutputShapes?.count ?? 1
    try checkArgument(
      ((modelInputShapes?.count ?? 1) == 1) && outputCount == 1,
      owner: "predict", argument: "x", value: "one array",
      expected:
        "\(inputs.count) arrays for \(outputs.count) outputs: use predict([x1, x2, …])")
    try checkArgument(
      x.rank >= 1,
      owner: name, argument: "x", value: "of shape \(x.shape)", expected: "a batch axis first")
    return try predict([x], batchSize: batchSize)[0]
  }

  /// The gradient of `sum over outputs of sum(output · upstream)` with respect to every trainable
  /// parameter, in ``parameters`` order: a vector-Jacobian product, the building block of a custom
  /// training step. `training` runs dropout and batch statistics as `fit` does.
  public func gradients(inputs x: [Tensor], upstream: [Tensor], training: Bool = true) throws
    -> [Tensor]
  {
    try prepare(for: x)
    let outputCount = modelOutputShapes?.count ?? 0
    try checkArgument(
      upstream.count == outputCount,
      owner: name, argument: "upstream", value: "\(upstream.count) arrays",
      expected: "\(outputCount), one per output")
    // In inference mode (Keras' `training=False`) the layers still keep what backward needs, but
    // behave as in `predict`: batch normalization uses its moving statistics, dropout and
    // augmentation pass through, nothing random or running moves.
    var context = Context(kernels: kernels, isTraining: true)
    context.behavesAsTraining = training
    _ = try run(x, context: context)
    try runBackward(upstream, context: context)
    return parameters.filter(\.isTrainable).map(\.gradient)
  }
}

extension Model {
  /// Every parameter of every layer once, in layer order (Keras' `model.weights`).
  public var parameters: [Parameter] { layers.flatMap(\.parameters) }

  /// The number of scalars in every parameter, trainable or not.
  public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

  /// Every weight's value, in layer order: Keras' `get_weights()`.
  public var weights: [Tensor] { parameters.map(\.value) }

  /// Replaces every weight: Keras' `set_weights()`.
  /// - Throws: when the count or a shape differs from the model's weights.
  public func setWeights(_ values: [Tensor]) throws {
    try assign(values, to: parameters, owner: name)
  }

  /// The layer called `name`.
  public func layer(named name: String) -> (any Layer)? {
    layerNames.firstIndex(of: name).map { layers[$0] }
  }
}

extension Model {
  /// Keras' penalty of a layer's `activity_regularizer` on `output`: divided by the batch size.
  func activityPenalty(of layer: any Layer, _ output: Tensor) -> Float? {
    guard let regularizer = (layer as? any ActivityRegularized)?.activityRegularizer else {
      return nil
    }
    return regularizer.penalty(of: output) / Float(max(output.shape.first ?? 1, 1))
  }

  /// What a forward-only layer's last call added with `addLoss` (Keras' `add_loss`): it joins the
  /// loss as activity penalties do, and the layer's backward pass adds its gradient.
  func addedLoss(of layer: any Layer) -> Float {
    (layer as? any OpsLayer)?.addedLoss ?? 0
  }

  /// Adds the gradient of a layer's activity penalty on `output` to the gradient arriving there.
  func addActivityGradient(of layer: any Layer, _ output: Tensor, to gradient: inout Tensor) {
    guard let regularizer = (layer as? any ActivityRegularized)?.activityRegularizer else { return }
    let scale = 1 / Float(max(output.shape.first ?? 1, 1))
    output.withUnsafeBufferPointer { o in
      gradient.withUnsafeMutableBufferPointer { regularizer.addGradient(o, scale: scale, into: $0) }
    }
  }

  /// The trainable weights that carry a regularizer (Keras penalizes trainable weights only).
  var regularizedParameters: [Parameter] {
    parameters.filter { $0.isTrainable && $0.regularizer != nil }
  }

  /// The regularizers' penalty: the weights' (of `regularized`) and the last forward pass's activity
  /// penalties.
  func regularizationPenalty(_ regularized: [Parameter]) -> Float {
    regularized.reduce(activityPenalty) { $0 + $1.penalty }
  }
}
