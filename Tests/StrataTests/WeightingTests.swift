import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

let weighting = kerasFixture("weighting")

/// Keras' losses with sample weights: `Σ wᵢ · lossᵢ / batch` (not divided by the weights' sum), the
/// per-sample losses, and the unweighted value.
@Test(arguments: weighting.cases(where: "kind", is: "loss").indices)
func weightedLossMatchesKeras(_ index: Int) throws {
  let reference = weighting.cases(where: "kind", is: "loss")[index]
  let name = try #require(reference["loss"]?.stringValue)
  let loss = try Registries.shared.losses.make(
    name, config: try #require(reference["config"]?.objectValue))
  let prediction = try reference.tensor("y_pred"), target = try reference.tensor("y_true")
  let weights = try reference.tensor("sample_weight")
  var perSample = Tensor(shape: [prediction.shape[0]])
  try prediction.withUnsafeBufferPointer { p in
    try target.withUnsafeBufferPointer { t in
      try perSample.withUnsafeMutableBufferPointer {
        try loss.perSampleLosses(prediction: p, target: t, shape: prediction.shape, into: $0)
      }
    }
  }
  #expect(isClose(perSample, try reference.tensor("per_sample_loss_unweighted"), rtol: 1e-5))
  let weighted = try loss.weightedLoss(
    prediction: prediction, target: target, sampleWeight: weights)
  let expected = try #require(reference["loss_value"]?.doubleValue)
  #expect(
    abs(Double(weighted) - expected) <= 1e-5 * expected, "\(name): \(weighted) vs \(expected)")
}

/// Keras' runs with `class_weight` and with `sample_weight`: every step's running loss (weighted),
/// the unweighted accuracy, the final weights.
@Test(arguments: ["class_weight", "sample_weight"])
func weightedTrainingMatchesKeras(_ kind: String) throws {
  let reference = try #require(weighting.cases(where: "weighting", is: kind).first)
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(256)
  let model = try Sequential([
    Flatten(inputShape: [28, 28]), Dense(32, activation: "relu"), Dense(10, activation: "softmax"),
  ])
  try model.setWeights(try reference.tensors("initial_weights"))
  try model.compile(
    optimizer: "sgd", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let recorder = LossRecorder()
  var classWeight: [Int: Float]?
  var sampleWeight: Tensor?
  if kind == "class_weight" {
    let object = try #require(reference["class_weight"]?.objectValue)
    classWeight = Dictionary(
      uniqueKeysWithValues: object.map { (Int($0.key)!, Float($0.value.doubleValue!)) })
  } else {
    sampleWeight = try reference.tensor("sample_weight")
  }
  let history = try model.fit(
    data.normalizedImages(), data.labelTensor(), batchSize: 32, epochs: 2, verbose: 0,
    shuffle: false, callbacks: [recorder], classWeight: classWeight, sampleWeight: sampleWeight)
  let losses = try #require(reference["running_mean_loss_after_each_step"]?.arrayValue)
    .compactMap(\.doubleValue)
  #expect(recorder.losses.count == losses.count)
  for (actual, expected) in zip(recorder.losses, losses) {
    #expect(abs(Double(actual) - expected) <= 1e-4 * abs(expected), "\(actual) vs \(expected)")
  }
  let accuracy = try #require(reference["history"]?.objectValue?["accuracy"]?.arrayValue)
  #expect(history["accuracy"] == accuracy.compactMap(\.doubleValue).map(Float.init))
  for (actual, expected) in zip(model.weights, try reference.tensors("final_weights")) {
    #expect(isClose(actual, expected, rtol: 1e-4, atol: 1e-5), "\(closeness(actual, expected))")
  }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "fit", argument: "classWeight", value: "without class 9",
      expected: "a weight for every class in y")
  ) {
    try model.fit(
      data.normalizedImages(), data.labelTensor(), verbose: 0, classWeight: [0: 1, 1: 1])
  }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "sequential", argument: "sampleWeight", value: "holding -1.0",
      expected: "finite weights ≥ 0")
  ) {
    try model.evaluate(
      data.normalizedImages(), data.labelTensor(), verbose: 0,
      sampleWeight: Tensor(shape: [256], repeating: -1))
  }
}
