import Foundation
import Strata
import StrataTesting
import Testing

let regularizers = kerasFixture("regularizers")

/// What each string becomes, as `keras.regularizers.get` resolves it (`"l1_l2"` is refused, as Keras
/// refuses it; `"l1l2"` gives zero factors).
@Test func regularizerIdentifiersResolveAsKerasDoes() throws {
  let reference = try #require(regularizers.cases(where: "kind", is: "identifiers").first)
  for (name, expected) in try #require(reference["resolves_to"]?.objectValue) {
    let object = try #require(expected.objectValue)
    if object["error"] != nil {
      #expect(throws: StrataError.self, "\(name)") { try Registries.shared.regularizer(Spec(name)) }
      continue
    }
    let regularizer = try Registries.shared.regularizer(Spec(name))
    #expect(type(of: regularizer).identifier == object["class_name"]?.stringValue, "\(name)")
    let config = regularizer.configDictionary
    for (key, value) in try #require(object["config"]?.objectValue) {
      #expect(abs((config[key]?.doubleValue ?? .nan) - value.doubleValue!) < 1e-9, "\(name) \(key)")
    }
  }
}

/// Keras' regularized models: the loss `evaluate` reports (data loss + every penalty, activity
/// penalties divided by the batch), and the gradient of that total in training mode.
@Test(arguments: regularizers.cases.indices.filter { regularizers.cases[$0]["layers"] != nil })
func regularizedModelMatchesKeras(_ index: Int) throws {
  let reference = regularizers.cases[index]
  let description = reference["desc"]?.stringValue ?? "\(index)"
  let model = try Sequential(config: try #require(reference["layers"]), seed: 1)
  let x = try reference.tensor("x"), y = try reference.tensor("y_true")
  try model.build(inputShape: Array(x.shape.dropFirst()))
  try model.setWeights(try reference.tensors("weights"))
  #expect(isClose(try model.predict(x), try reference.tensor("y_pred")), "\(description)")
  try model.compile(optimizer: try SGD(learningRate: 0), loss: "mean_squared_error")
  let logs = try model.evaluate(x, y, batchSize: x.shape[0], verbose: .silent)
  let total = try #require(reference["total_loss_evaluate"]?.doubleValue)
  #expect(
    abs(Double(logs["loss"] ?? .nan) - total) <= 1e-5 * abs(total),
    "\(description): \(logs["loss"] ?? .nan) vs \(total)")
  let recorder = GradientRecorder()
  model.gradientStages = [recorder]
  let history = try model.fit(x, y, batchSize: x.shape[0], verbose: .silent, shuffle: false)
  #expect(abs(Double(history["loss"]?.first ?? .nan) - total) <= 1e-5 * abs(total))
  let gradients = try #require(recorder.steps.first)
  let expected = try reference.tensors("d_weights")
  #expect(gradients.count == expected.count)
  for (gradient, keras) in zip(gradients, expected) {
    #expect(
      isClose(gradient, keras, rtol: 1e-4, atol: 1e-6),
      "\(description): \(closeness(gradient, keras, rtol: 1e-4, atol: 1e-6))")
  }
}

/// Every regularizer's gradient against central differences of its penalty.
@Test(arguments: ["l1", "l2", "l1l2"])
func regularizerGradientCheck(_ name: String) throws {
  let regularizer = try Registries.shared.regularizer(
    Spec(name, config: name == "l1l2" ? ["l1": 0.03, "l2": 0.02] : [:]))
  var values = try Tensor(shape: [7], scalars: [-1.3, -0.4, 0.2, 0.9, 1.7, -2.2, 0.6])
  var gradient = Tensor(shape: [7])
  values.withUnsafeBufferPointer { v in
    gradient.withUnsafeMutableBufferPointer { regularizer.addGradient(v, scale: 1, into: $0) }
  }
  for i in 0..<7 {
    let original = values.scalars[i]
    let h: Float = 1e-3
    values.withUnsafeMutableBufferPointer { $0[i] = original + h }
    let plus = regularizer.penalty(of: values)
    values.withUnsafeMutableBufferPointer { $0[i] = original - h }
    let minus = regularizer.penalty(of: values)
    values.withUnsafeMutableBufferPointer { $0[i] = original }
    #expect(abs((plus - minus) / (2 * h) - gradient.scalars[i]) < 1e-3, "\(name)[\(i)]")
  }
}
