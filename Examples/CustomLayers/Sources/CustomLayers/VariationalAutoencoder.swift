import StrataCore

/// A variational autoencoder for 28×28 images (the Keras example "Variational AutoEncoder", with
/// dense layers), made of ``Linear`` layers and trained by a step written with ops and a
/// ``GradientTape``: the reparameterization trick and the KL term are formulas, nothing is derived
/// by hand.
public final class VariationalAutoencoder {
  let hidden: Linear, mean: Linear, logVariance: Linear
  let expand: Linear, reconstruct: Linear
  private var generator: SeededGenerator

  /// A model with a `latent`-dimensional code and `units` hidden units, weights drawn from `seed`.
  public init(latent: Int = 2, units: Int = 128, seed: UInt64 = 1) throws {
    generator = SeededGenerator(seed: seed)
    hidden = try Linear(units: units)
    mean = try Linear(units: latent)
    logVariance = try Linear(units: latent)
    expand = try Linear(units: units)
    reconstruct = try Linear(units: 784)
    _ = try hidden.build(inputShape: [784], generator: &generator)
    _ = try mean.build(inputShape: [units], generator: &generator)
    _ = try logVariance.build(inputShape: [units], generator: &generator)
    _ = try expand.build(inputShape: [latent], generator: &generator)
    _ = try reconstruct.build(inputShape: [units], generator: &generator)
  }

  /// Every weight, encoder first.
  public var parameters: [Parameter] {
    [hidden, mean, logVariance, expand, reconstruct].flatMap(\.parameters)
  }

  /// The code's mean and log-variance for images `[batch, 784]` with values in [0, 1].
  public func encode(_ x: Tensor) throws -> (mean: Tensor, logVariance: Tensor) {
    let h = Ops.relu(try hidden.call(x, training: true))
    return (try mean.call(h, training: true), try logVariance.call(h, training: true))
  }

  /// The decoder's logits for codes `z`.
  public func decodeLogits(_ z: Tensor) throws -> Tensor {
    try reconstruct.call(Ops.relu(try expand.call(z, training: true)), training: true)
  }

  /// The losses of a batch, per sample and averaged: the reconstruction's binary cross-entropy summed
  /// over pixels, and the KL divergence of the code from a standard normal.
  public func losses(_ x: Tensor, noise: Tensor) throws -> (
    total: Tensor, reconstruction: Tensor, kl: Tensor
  ) {
    let (m, logVar) = try encode(x)
    let z = try m + Ops.exp(logVar * 0.5) * noise
    let logits = try decodeLogits(z)
    // Binary cross-entropy from logits: softplus(l) - x·l, stable for any l.
    let reconstruction = try Ops.mean(Ops.sum(Ops.softplus(logits) - x * logits, axis: 1))
    let kl = try Ops.mean(
      Ops.sum((1 + logVar - Ops.square(m) - Ops.exp(logVar)) * -0.5, axis: 1))
    return (try reconstruction + kl, reconstruction, kl)
  }

  /// One training step on `x` (`[batch, 784]`): the tape records the losses, `optimizer` applies their
  /// gradients. Returns the batch's losses.
  @discardableResult
  public func trainStep(_ x: Tensor, optimizer: any Optimizer) throws -> (
    total: Float, reconstruction: Float, kl: Float
  ) {
    let rows = x.shape[0], latent = mean.config.units
    var noise = Tensor(shape: [rows, latent])
    noise.withUnsafeMutableBufferPointer {
      for i in $0.indices { $0[i] = Float(generator.nextNormal()) }
    }
    let weights = parameters
    let tape = GradientTape()
    let (total, reconstruction, kl) = try tape.record(watching: weights) {
      try losses(x, noise: noise)
    }
    try optimizer.apply(tape.gradients(of: total, parameters: weights), to: weights)
    return (total.scalars[0], reconstruction.scalars[0], kl.scalars[0])
  }
}
