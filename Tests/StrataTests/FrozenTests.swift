import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

let frozen = kerasFixture("frozen")

/// Keras' run with the first Dense built with `trainable=False`: the same losses at every step, the
/// frozen weights exactly as they started, Keras' parameter counts, and the flag kept by the config
/// and the model file.
@Test func frozenDenseTrainsAsKerasDoes() throws {
  let reference = try #require(frozen.cases(where: "kind", is: "training").first)
  let model = try Sequential(config: try #require(reference["layers"]))
  try model.build(inputShape: [28, 28])
  #expect(model.layers.map(\.trainable) == [true, false, true])
  let initial = try reference.tensors("initial_weights")
  try model.setWeights(initial)
  #expect(
    model.parameters.map(\.isTrainable)
      == reference["weight_trainable"]?.arrayValue?.map { $0 == .bool(true) })
  let summary = model.summaryText()
  #expect(summary.contains("Trainable params: 330"))
  #expect(summary.contains("Non-trainable params: 25,120"))
  #expect(summary.contains("Total params: 25,450"))

  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(256)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let recorder = LossRecorder()
  let history = try model.fit(
    data.normalizedImages(), data.labelTensor(), batchSize: 32, epochs: 2, verbose: 0,
    shuffle: false, callbacks: [recorder])
  let expected = try #require(reference["running_mean_loss_after_each_step"]?.arrayValue)
    .compactMap(\.doubleValue)
  #expect(recorder.losses.count == expected.count)
  for (actual, keras) in zip(recorder.losses, expected) {
    #expect(abs(Double(actual) - keras) <= 1e-4 * abs(keras))
  }
  let accuracy = try #require(reference["history"]?.objectValue?["accuracy"]?.arrayValue)
  #expect(history["accuracy"] == accuracy.compactMap(\.doubleValue).map(Float.init))
  let final = try reference.tensors("final_weights")
  #expect(model.weights[0] == initial[0] && model.weights[1] == initial[1])
  for (actual, keras) in zip(model.weights, final) {
    #expect(isClose(actual, keras, rtol: 1e-4, atol: 1e-5), "\(closeness(actual, keras))")
  }
  // The flag travels with the config and the file.
  let copy = try Sequential(config: model.config)
  #expect(copy.layers.map(\.trainable) == [true, false, true])
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "frozen-\(UUID().uuidString).strata")
  defer { try? FileManager.default.removeItem(at: url) }
  try model.save(to: url)
  let loaded = try Sequential.load(from: url)
  #expect(loaded.layers.map(\.trainable) == [true, false, true])
  #expect(loaded.parameters.map(\.isTrainable) == model.parameters.map(\.isTrainable))
  // Unfreezing gives the weights back to the optimizer.
  loaded.layers[1].trainable = true
  let unfrozen = loaded.parameters.allSatisfy { $0.isTrainable }
  #expect(unfrozen)
}

/// A frozen BatchNormalization normalizes with its moving statistics in training too (Keras 3): one
/// SGD step gives Keras' loss, gradients and weights; the same layer trainable gives Keras' other run.
@Test(arguments: ["frozen", "contrast_bn_trainable"])
func frozenBatchNormalizationMatchesKeras(_ run: String) throws {
  let reference = try #require(frozen.cases(where: "kind", is: "batchnorm_frozen").first)
  let expected = try #require(reference[run]?.objectValue)
  let model = try Sequential(config: try #require(reference["layers"]), seed: 1)
  let x = try reference.tensor("x")
  try model.build(inputShape: Array(x.shape.dropFirst()))
  #expect(model.layers[1].trainable == false)
  if run != "frozen" { model.layers[1].trainable = true }
  try model.setWeights(try reference.tensors("weights"))
  let labels = try #require(reference["y"]?.arrayValue).compactMap(\.doubleValue).map(Float.init)
  let y = try Tensor(shape: [labels.count], scalars: labels)
  #expect(isClose(try model.predict(x), try reference.tensor("y_inference_mode")))
  let parameters = model.parameters
  let trainable = parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count }
  #expect(trainable == expected["trainable_params"]?.intValue)
  #expect(
    parameters.reduce(0) { $0 + $1.count } - trainable
      == expected["non_trainable_params"]?.intValue)
  // `weights_after_one_step` is one `train_on_batch` from `weights` (Tests/generate_fixtures.py resets
  // the weights after its other training-mode calls): a trainable layer's moving statistics move once.
  try model.compile(optimizer: try SGD(learningRate: 0.1), loss: "sparse_categorical_crossentropy")
  let recorder = GradientRecorder()
  model.gradientStages = [recorder]
  let history = try model.fit(x, y, batchSize: 3, epochs: 1, verbose: .silent, shuffle: false)
  let loss = try #require(expected["loss_before_step"]?.doubleValue)
  #expect(abs(Double(history["loss"]?.first ?? .nan) - loss) < 1e-5)
  let gradients = try #require(recorder.steps.first)
  let kerasGradients = try #require(expected["d_trainable_weights"]?.arrayValue).map {
    try KerasCase.tensor(from: $0)
  }
  #expect(gradients.count == kerasGradients.count)
  for (gradient, keras) in zip(gradients, kerasGradients) {
    #expect(isClose(gradient, keras, rtol: 1e-4, atol: 1e-5), "\(closeness(gradient, keras))")
  }
  let after = try #require(expected["weights_after_one_step"]?.arrayValue).map {
    try KerasCase.tensor(from: $0)
  }
  for (weight, keras) in zip(model.weights, after) {
    #expect(isClose(weight, keras, rtol: 1e-4, atol: 1e-5), "\(closeness(weight, keras))")
  }
}
