import Foundation
import StrataCore
import StrataActivations
import StrataLosses
import StrataTesting
import Testing

/// The shared registries with the losses (and the activations the fused softmax test uses) registered. These tests link StrataCore and the plugin, not
/// the `Strata` umbrella, so they register the plugin as a third-party plugin's tests would.
let registries: Registries = {
  do {
    try register(LossesPlugin.self)
    try register(ActivationsPlugin.self)
  } catch {
    fatalError("the plugin did not register: \(error)")
  }
  return .shared
}()

let lossFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "losses", withExtension: "json", subdirectory: "Fixtures")!)

func makeLoss(_ fixture: KerasCase) throws -> any Loss {
  try registries.losses.make(
    fixture["loss"]!.stringValue!, config: fixture["config"]?.objectValue ?? [:])
}

@Test(arguments: lossFixture.cases)
func lossMatchesKeras(_ fixture: KerasCase) throws {
  let loss = try makeLoss(fixture)
  let target = try fixture.tensor("y_true"), prediction = try fixture.tensor("y_pred")
  let expected = try #require(fixture["loss_value"]?.doubleValue)
  let value = try loss(target, prediction)
  #expect(
    abs(Double(value) - expected) <= 1e-6 + 1e-5 * abs(expected),
    "\(fixture): \(value) vs \(expected)")
  let gradient = try loss.gradient(target, prediction)
  let expectedGradient = try fixture.tensor("d_y_pred")
  #expect(
    isClose(gradient, expectedGradient),
    "\(fixture) gradient: \(closeness(gradient, expectedGradient))")
}

/// Central differences of the batch loss against its gradient, at the fixture's points. The loss is
/// computed in Float, so the step is 1e-3 and the tolerance 5e-3 (hybrid relative/absolute).
@Test(arguments: lossFixture.cases)
func lossGradientCheck(_ fixture: KerasCase) throws {
  let loss = try makeLoss(fixture)
  let target = try fixture.tensor("y_true")
  var prediction = try fixture.tensor("y_pred")
  let gradient = try loss.gradient(target, prediction)
  let epsilon: Float = 1e-3
  for i in 0..<prediction.count {
    let original = prediction.scalars[i]
    prediction.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
    let plus = Double(try loss(target, prediction))
    prediction.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
    let minus = Double(try loss(target, prediction))
    prediction.withUnsafeMutableBufferPointer { $0[i] = original }
    let numeric = (plus - minus) / (2 * Double(epsilon))
    let analytic = Double(gradient.scalars[i])
    #expect(
      abs(analytic - numeric) / max(1, abs(analytic), abs(numeric)) < 5e-3,
      "\(fixture) element \(i): \(analytic) vs \(numeric)")
  }
}

@Test func everyIssueLossIsRegisteredWithItsAliases() throws {
  let names = [
    "mean_squared_error", "mean_absolute_error", "mean_absolute_percentage_error",
    "mean_squared_logarithmic_error",
    "squared_hinge", "hinge", "categorical_hinge", "log_cosh", "categorical_crossentropy",
    "sparse_categorical_crossentropy",
    "binary_crossentropy", "kl_divergence", "poisson", "cosine_similarity", "cosine_proximity",
    "huber",
    "mse", "mae", "mape", "msle", "kld", "logcosh", "MeanSquaredError",
  ]
  for name in names { #expect(registries.losses.contains(name), "\(name)") }
  #expect(try registries.losses.canonicalName(of: "mse") == "mean_squared_error")
  #expect(
    throws: StrataError.unknownIdentifier(
      kind: "loss", identifier: "sparse_categorical_crossentropyy",
      suggestions: ["sparse_categorical_crossentropy"])
  ) {
    try registries.losses.make("sparse_categorical_crossentropyy")
  }
}

/// Fused softmax + cross-entropy gives the same loss as Keras' and the gradient of the unfused chain,
/// and stays finite where the probabilities underflow.
@Test func fusedSoftmaxCrossentropy() throws {
  let logits = try Tensor([[2, -1, 0.5], [-3, 4, 1], [30, -30, 0]])
  let labels = Tensor([0, 2, 1])
  let probabilities = Softmax()(logits)
  let loss = SparseCategoricalCrossentropy()
  var fused = Tensor(shape: logits.shape)
  let fusedValue = try probabilities.withUnsafeBufferPointer { p in
    try logits.withUnsafeBufferPointer { z in
      try labels.withUnsafeBufferPointer { t in
        try fused.withUnsafeMutableBufferPointer {
          try loss.computeFromSoftmax(
            logits: z, probabilities: p, target: t, shape: [3, 3], logitsGradient: $0)
        }
      }
    }
  }
  #expect(abs(fusedValue - (try loss(labels, probabilities))) < 1e-6)
  // Unfused: d/dp through the softmax's Jacobian.
  let chained = Softmax().gradient(at: logits, upstream: try loss.gradient(labels, probabilities))
  for i in 0..<6 { #expect(abs(fused.scalars[i] - chained.scalars[i]) < 1e-5) }
  #expect(fused.scalars.allSatisfy { $0.isFinite })
  // Row 3: p[1] ≈ 1e-26 is clipped to 1e-7 in the loss (Keras: -log(1e-7) = 16.1) …
  #expect(
    abs(
      fusedValue * 3 - (try loss(labels.slice(rows: 0..<2), probabilities.slice(rows: 0..<2))) * 2
        - 16.118) < 1e-2)
  // … while the fused gradient still pushes that logit up.
  #expect(fused[2, 1] < -0.3)
}

@Test func lossesRejectTargetsThatDoNotFit() throws {
  // Labels out of range or not whole are named with their value.
  for (label, shown) in [(Float(3), "3.0"), (-1, "-1.0"), (0.5, "0.5")] {
    #expect(
      throws: StrataError.invalidArgument(
        owner: "sparse_categorical_crossentropy", argument: "label", value: shown,
        expected: "a class index in 0..<2")
    ) {
      try SparseCategoricalCrossentropy()(
        Tensor([label, 0]), try Tensor([[0.2, 0.8], [0.5, 0.5]]))
    }
  }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "categorical_crossentropy", argument: "y", value: "of shape (None,)",
      expected:
        "one-hot targets of the model\'s output shape (None, 2) (for class indices use sparse_categorical_crossentropy)"
    )
  ) { try CategoricalCrossentropy()(Tensor([1, 0]), try Tensor([[0.2, 0.8], [0.5, 0.5]])) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "mean_squared_error", argument: "y", value: "of shape (None, 3)",
      expected: "targets of the model\'s output shape (None, 2)")
  ) { try MeanSquaredError()(try Tensor([[1, 0, 2]]), try Tensor([[0.2, 0.8]])) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "huber", argument: "delta", value: "-1.0", expected: "a positive number")
  ) { try registries.losses.make("huber", config: ["delta": -1]) }
}

/// Losses used as ops (`Ops.loss`, by name or as a value) give the compiled losses' own gradients
/// through the tape, within finite differences.
@Test func lossesAsOpsPassTheGradientCheck() throws {
  _ = registries
  let predictions = awayFromZero([2, 3], seed: 1), targets = awayFromZero([2, 3], seed: 2)
  let labels = Tensor([2, 0])
  let losses: [(String, (Tensor) throws -> Tensor)] = [
    ("mse", { try Ops.loss("mse", targets, $0) }),
    (
      "sparse crossentropy from logits",
      { try Ops.loss(SparseCategoricalCrossentropy(fromLogits: true), labels, $0) }
    ),
    (
      "categorical crossentropy",
      {
        try Ops.loss("categorical_crossentropy", Ops.oneHot(labels, classes: 3), Ops.softmax($0))
      }
    ),
  ]
  for (name, loss) in losses {
    let error = try maxGradientError(of: { try loss($0[0]) }, at: [predictions])
    #expect(error < 2e-3, "\(name): \(error)")
  }
}
