import StrataCore

extension Model {
  /// The model's output for a batch `x` (Keras: `model(x, training=...)`), for a model with one input
  /// and one output. Inside a ``GradientTape`` recording, the call is recorded when the tape watches
  /// the model's weights or tracks `x`: the model's own backward pass gives the gradients, so every
  /// layer, built-in or forward-only, takes part.
  public func callAsFunction(_ x: Tensor, training: Bool = false) throws -> Tensor {
    try prepare(for: [x])
    let layer = try ModelLayer(self)
    return try Ops.withKernels(kernels) { try layer.call(x, training: training, identity: self) }
  }

  /// The trainable weights, in ``parameters`` order (Keras' `model.trainable_weights`).
  public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }
}

extension Model {
  /// Runs `fit`'s own training step on `batch`: forward, the compiled loss, backward, the gradient
  /// stages and the optimizer; returns the running logs (Keras' `super().train_step(data)`).
  /// - Throws: outside `fit`.
  public func builtInStep(_ batch: Batch) throws -> Logs {
    guard let step = builtInTrainStep else {
      throw StrataError.invalidState("\(name): the built-in train step runs only inside fit.")
    }
    return try step(batch)
  }
}
