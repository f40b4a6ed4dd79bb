import Foundation
import Strata
@testable import StrataKeras
import StrataSeedModels
import StrataCore
import StrataData
import StrataTesting
import Testing

/// A file of `Fixtures/keras/`: Keras 3.15.1's own files and predictions (`../shared/keras-files/`).
func kerasFile(_ name: String) -> URL {
  Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/keras")!
}

/// One `NAME.expected.json`: inputs, Keras' outputs and the tolerance.
struct KerasExpectation {
  var inputs: [Tensor]
  var outputs: [Tensor]
  var atol: Float
  var rtol: Float
  /// The model's parameter count, when the file says (the sequence models' do not).
  var parameters: Int?
  var json: [String: Any]

  init(_ name: String) throws {
    let data = try Data(contentsOf: kerasFile("\(name).expected.json"))
    json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    func tensors(_ values: Any, _ shapes: Any) -> [Tensor] {
      let shapes = shapes as! [Any]
      if shapes.first is [Any] {
        return zip(values as! [Any], shapes).map { tensor($0, $1 as! [Int]) }
      }
      return [tensor(values, shapes as! [Int])]
    }
    func tensor(_ values: Any, _ shape: [Int]) -> Tensor {
      var flat: [Float] = []
      func walk(_ value: Any) {
        if let list = value as? [Any] {
          list.forEach(walk)
        } else {
          flat.append(Float((value as! NSNumber).doubleValue))
        }
      }
      walk(values)
      return try! Tensor(shape: shape, scalars: flat)
    }
    inputs = tensors(json["input"]!, json["input_shape"]!)
    outputs = tensors(json["output"]!, json["output_shape"]!)
    let tolerance = json["tolerance"] as! [String: Double]
    atol = Float(tolerance["atol"]!)
    rtol = Float(tolerance["rtol"]!)
    parameters = json["parameters"] as? Int
  }

  /// Whether `model` predicts Keras' outputs within the tolerance.
  func check(_ model: Model, _ label: String) throws {
    let predicted = try model.predict(inputs)
    #expect(predicted.count == outputs.count, "\(label)")
    for (got, want) in zip(predicted, outputs) {
      #expect(got.shape == want.shape, "\(label)")
      var worst: Float = 0
      got.withUnsafeBufferPointer { got in
        want.withUnsafeBufferPointer { want in
          for i in 0..<min(got.count, want.count) {
            worst = max(worst, abs(got[i] - want[i]) - rtol * abs(want[i]))
          }
        }
      }
      #expect(worst <= atol, "\(label): off by \(worst) beyond rtol, atol \(atol)")
    }
  }
}

private let kerasModels = [
  "tiny_mlp", "tiny_cnn", "tiny_bn", "tiny_adam", "tiny_legacy", "tiny_residual", "tiny_two_inputs",
  "tiny_mobile", "tiny_convnext",
]

@Suite("Keras files")
struct KerasFileTests {
  @Test("every .keras file Keras wrote loads and predicts Keras' outputs", arguments: kerasModels)
  func loadsKerasFiles(name: String) throws {
    let expected = try KerasExpectation(name)
    let model = try loadModel(from: kerasFile("\(name).keras"))
    #expect(model.parameterCount == expected.parameters)
    try expected.check(model, name)
  }

  @Test(
    "Keras' sequence models load and predict Keras' outputs",
    arguments: [
      "conv1d_text", "conv1d_series", "gru_stack", "simple_rnn_series", "lstm_classifier",
      "masked_lstm_series", "bilstm_tagger", "transformer_classifier", "causal_attention",
      "lstm_seq2seq", "gru_states", "bidirectional_pair", "attention_scores",
    ])
  func loadsSequenceModels(name: String) throws {
    let expected = try KerasExpectation(name)
    let model = try loadModel(from: kerasFile("\(name).keras"))
    try expected.check(model, name)
    // Saved by Strata, the file loads back with the same predictions (keras_check.py has Keras
    // load it too).
    let url = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(name)-\(UUID().uuidString).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try model.save(to: url)
    try expected.check(try loadModel(from: url), "\(name) saved by Strata")
  }

  @Test("the legacy full-model .h5 loads and predicts Keras' outputs")
  func loadsLegacyHDF5() throws {
    let expected = try KerasExpectation("tiny_legacy")
    let model = try loadModel(from: kerasFile("tiny_legacy.h5"))
    #expect(model is Sequential)
    try expected.check(model, "tiny_legacy.h5")
    // Its weights also load into a fresh model of the same architecture, as Keras' load_weights.
    let fresh = try Sequential(config: model.config, seed: 3)
    try fresh.loadWeights(from: kerasFile("tiny_legacy.h5"))
    try expected.check(fresh, "tiny_legacy.h5 weights")
  }

  @Test("tiny_adam's compile settings and optimizer state load exactly")
  func loadsOptimizerState() throws {
    let model = try loadModel(from: kerasFile("tiny_adam.keras"))
    let optimizer = try #require(model.optimizer)
    let reference =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: kerasFile("tiny_adam.optimizer.json"))) as! [String: Any]
    #expect(optimizer.identifier == "Adam")
    #expect(optimizer.iterations == reference["iterations"] as! Int)
    #expect(optimizer.learningRate == Float(reference["learning_rate"] as! Double))
    let slots = reference["slots"] as! [[String: Any]]
    #expect(optimizer.state.count == slots.count)
    for (slot, want) in zip(optimizer.state, slots) {
      #expect(slot.shape == want["shape"] as! [Int])
      #expect(slot.withUnsafeBufferPointer { $0[0] } == Float(want["first"] as! Double))
      let sum = slot.withUnsafeBufferPointer { $0.reduce(0.0) { $0 + Double($1) } }
      #expect(abs(sum - (want["sum"] as! Double)) < 1e-6)
    }
    #expect(model.loss?.configDictionary["from_logits"] == .bool(true))
  }
}

/// Whether two models hold bit-identical weights and optimizer states.
func expectIdentical(_ a: Model, _ b: Model, _ label: String) {
  #expect(a.layerNames == b.layerNames, "\(label)")
  #expect(a.weights == b.weights, "\(label): weights differ")
  #expect(a.optimizer?.identifier == b.optimizer?.identifier, "\(label)")
  #expect(a.optimizer?.iterations == b.optimizer?.iterations, "\(label)")
  #expect(a.optimizer?.learningRate == b.optimizer?.learningRate, "\(label)")
  #expect(a.optimizer?.state ?? [] == b.optimizer?.state ?? [], "\(label): optimizer slots differ")
}

extension KerasFileTests {
  @Test(
    "Strata → .keras → Strata is bit-identical: weights, compile settings, optimizer state",
    arguments: [SeedModel.mlp, .cnn, .resnetSmall])
  func roundTripsStrataModels(seedModel: SeedModel) throws {
    let model = try seedModel.make(seed: 7)
    let (x, y) = try fashionSlice(64, images: seedModel != .mlp)
    try seedModel.compile(model, optimizer: "adam", learningRate: nil, loss: nil)
    try model.fit(x, y, batchSize: 32, epochs: 1, verbose: 0)
    let url = temporaryURL("\(seedModel.rawValue).keras")
    try model.save(to: url)
    let loaded = try loadModel(from: url)
    expectIdentical(model, loaded, seedModel.rawValue)
    #expect(try loaded.predict(x) == model.predict(x))
    #expect(loaded.loss?.identifier == model.loss?.identifier)
    #expect(try loaded.evaluate(x, y, verbose: 0) == model.evaluate(x, y, verbose: 0))
    // Weights alone, as Keras' `save_weights("x.weights.h5")`, into a fresh model.
    let weightsURL = temporaryURL("\(seedModel.rawValue).weights.h5")
    try model.saveWeights(to: weightsURL)
    let fresh = try seedModel.make(seed: 99)
    try fresh.loadWeights(from: weightsURL)
    #expect(fresh.weights == model.weights)
  }

  @Test(".keras → Strata → .keras → Strata is bit-identical", arguments: kerasModels)
  func roundTripsKerasFiles(name: String) throws {
    let first = try loadModel(from: kerasFile("\(name).keras"))
    let url = temporaryURL("\(name).keras")
    try first.save(to: url)
    let second = try loadModel(from: url)
    expectIdentical(first, second, name)
    #expect(second.config == first.config)
    try KerasExpectation(name).check(second, "\(name) re-saved")
  }
}

extension KerasFileTests {
  @Test(
    "Keras 2's functional config (legacy inbound_nodes, batch_input_shape) builds the same graph")
  func readsKeras2FunctionalConfig() throws {
    let dense = { (name: String) in
      "{\"class_name\": \"Dense\", \"name\": \"\(name)\", \"config\": {\"name\": \"\(name)\", \"trainable\": true, \"dtype\": \"float32\", \"units\": 3, \"activation\": \"relu\", \"use_bias\": true, \"kernel_initializer\": {\"class_name\": \"GlorotUniform\", \"config\": {\"seed\": null}}, \"bias_initializer\": {\"class_name\": \"Zeros\", \"config\": {}}, \"kernel_regularizer\": null, \"bias_regularizer\": null, \"activity_regularizer\": null, \"kernel_constraint\": null, \"bias_constraint\": null}, \"inbound_nodes\": [[[\"input_1\", 0, 0, {}]]]}"
    }
    let json = """
      {"class_name": "Functional", "keras_version": "2.15.0", "backend": "tensorflow", "config": {"name": "model",
       "layers": [
        {"class_name": "InputLayer", "name": "input_1", "inbound_nodes": [],
         "config": {"batch_input_shape": [null, 4], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_1"}},
        \(dense("dense")), \(dense("dense_1")),
        {"class_name": "Add", "name": "add", "config": {"name": "add", "trainable": true, "dtype": "float32"},
         "inbound_nodes": [[["dense", 0, 0, {}], ["dense_1", 0, 0, {}]]]}],
       "input_layers": [["input_1", 0, 0]], "output_layers": [["add", 0, 0]]}}
      """
    let model = try Model(config: try ConfigValue(json: Data(json.utf8)), seed: 3)
    #expect(model.layerNames == ["input_1", "dense", "dense_1", "add"])
    #expect(model.modelOutputShapes == [[3]])
    // The output is the sum of the two branches, computed from the weights.
    let x = try Tensor(shape: [1, 4], scalars: [0.5, -1, 2, 0.25])
    var expected = [Float](repeating: 0, count: 3)
    for layer in ["dense", "dense_1"] {
      let weights = model.layer(named: layer)!.parameters.map(\.value.scalars)
      for j in 0..<3 {
        var z = weights[1][j]
        for i in 0..<4 { z += x.scalars[i] * weights[0][i * 3 + j] }
        expected[j] += max(z, 0)
      }
    }
    let y = try model.predict(x)
    for j in 0..<3 { #expect(abs(y.scalars[j] - expected[j]) < 1e-6) }
  }
}

extension KerasFileTests {
  @Test("strata predict on .npy arrays, convert between formats, summary of any model file")
  func commandLineOnKerasFiles() throws {
    let directory = temporaryURL("cli").deletingLastPathComponent()
    // Two inputs, one output: one --input per model input, in order.
    let expected = try KerasExpectation("tiny_two_inputs")
    var arguments = ["predict", kerasFile("tiny_two_inputs.keras").path]
    for (index, input) in expected.inputs.enumerated() {
      let path = directory.appendingPathComponent("in\(index).npy")
      try NumPyArray.write(input, to: path)
      arguments += ["--input", path.path]
    }
    let output = directory.appendingPathComponent("out.npy").path
    let predicted = runCommand(arguments + ["--output", output])
    #expect(predicted.exitCode == 0, "\(predicted.errors)")
    #expect(predicted.output.contains("Wrote predictions of shape (None, 2) for 4 samples"))
    let model = try loadModel(from: kerasFile("tiny_two_inputs.keras"))
    #expect(try NumPyArray.read(URL(fileURLWithPath: output)) == model.predict(expected.inputs)[0])
    let missing = runCommand([
      "predict", kerasFile("tiny_two_inputs.keras").path, "--input", output, "--output", output,
    ])
    #expect(missing.exitCode != 0 && missing.errors.contains("one .npy file per model input (2)"))
    // .keras → .strata → .weights.h5, and back into the Keras model.
    let strata = directory.appendingPathComponent("cnn.strata").path
    let weights = directory.appendingPathComponent("cnn.weights.h5").path
    #expect(runCommand(["convert", kerasFile("tiny_cnn.keras").path, strata]).exitCode == 0)
    let converted = runCommand(["convert", strata, weights])
    #expect(converted.output.contains("Wrote tiny_cnn (6810 parameters)"), "\(converted)")
    let cnn = try loadModel(from: kerasFile("tiny_cnn.keras"))
    let fresh = try Sequential(config: cnn.config, seed: 9)
    try fresh.loadWeights(weights)
    #expect(fresh.weights == cnn.weights)
    #expect(try loadModel(strata).weights == cnn.weights)
    // The summary of a legacy .h5 and of a compiled .keras file.
    let legacy = runCommand(["summary", kerasFile("tiny_legacy.h5").path])
    #expect(legacy.output.contains("Total params: 34"), "\(legacy)")
    let adam = runCommand(["summary", kerasFile("tiny_adam.keras").path])
    #expect(adam.output.contains("Compiled: optimizer Adam (1 steps taken)"), "\(adam)")
    // --model takes a model file too.
    let trained = runCommand([
      "train", "--model", kerasFile("tiny_mlp.keras").path, "--limit", "64", "--epochs", "1",
      "--verbose", "0", "--no-validation",
    ])
    #expect(
      trained.exitCode == 0 && trained.output.contains("Model: \"tiny_mlp\""), "\(trained.errors)")
  }

  @Test("legacy weights-only .h5 (fixed-length byte-string names, as tf.keras 2 wrote) loads")
  func loadsLegacyWeightsFile() throws {
    let model = try loadModel(from: kerasFile("tiny_legacy.h5"))
    let fresh = try Sequential(config: model.config, seed: 5)
    #expect(fresh.weights != model.weights)
    try fresh.loadWeights(from: kerasFile("tiny_legacy_weights.h5"))
    #expect(fresh.weights == model.weights)
  }
}
