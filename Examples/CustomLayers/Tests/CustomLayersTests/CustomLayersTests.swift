import CustomLayers
import Foundation
import Strata
import StrataKeras
import StrataTesting
import Testing

let fixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "layers", withExtension: "json", subdirectory: "Fixtures")!)

/// The one call an application makes; repeating it is harmless.
func registerPlugin() throws { try register(CustomLayersPlugin.self) }

@Test func layersBuildFromStrings() throws {
  try registerPlugin()
  let model = try Sequential(seed: 3)
  try model.add("Dense", ["units": 6, "input_shape": [4], "activation": "LeakyReLU"])
  try model.add("PReLU")
  try model.add("LeakyReLU", ["negative_slope": 0.1])
  try model.add("CustomLayers>PReLU", ["alpha_initializer": "ones"])
  try model.add("Dense", ["units": 2])
  #expect(model.layerNames == ["dense", "p_re_lu", "leaky_re_lu", "p_re_lu_1", "dense_1"])
  #expect(model.outputShapes == [[6], [6], [6], [6], [2]])
  #expect(model.parameterCount == 4 * 6 + 6 + 6 + 6 + 6 * 2 + 2)
  #expect(model.summaryText().contains("p_re_lu (PReLU)"))
  let y = try model.predict(Tensor(shape: [3, 4], repeating: -0.5))
  #expect(y.shape == [3, 2])
  // The same numbers by hand from the weights: Dense, the LeakyReLU activation (slope 0.3), PReLU
  // (alpha 0), LeakyReLU (0.1), PReLU (alpha 1), Dense.
  func weights(_ layer: String) -> [[Float]] {
    model.layer(named: layer)!.parameters.map(\.value.scalars)
  }
  let (kernel, bias) = (weights("dense")[0], weights("dense")[1])
  let (alpha0, alpha1) = (weights("p_re_lu")[0], weights("p_re_lu_1")[0])
  let (kernel1, bias1) = (weights("dense_1")[0], weights("dense_1")[1])
  var hidden = [Float](repeating: 0, count: 6)
  for j in 0..<6 {
    var z = bias[j]
    for i in 0..<4 { z += -0.5 * kernel[i * 6 + j] }
    z = z > 0 ? z : 0.3 * z
    z = z > 0 ? z : alpha0[j] * z
    z = z > 0 ? z : 0.1 * z
    hidden[j] = z > 0 ? z : alpha1[j] * z
  }
  for k in 0..<2 {
    var out = bias1[k]
    for j in 0..<6 { out += hidden[j] * kernel1[j * 2 + k] }
    for row in 0..<3 { #expect(abs(y[row, k] - out) < 1e-5, "output \(k): \(y[row, k]) vs \(out)") }
  }
  // The model's config names the plugin's layers, and builds the same model again.
  let copy = try Sequential(config: model.config, seed: 3)
  #expect(try copy.predict(Tensor(shape: [3, 4], repeating: -0.5)) == y)
}

@Test(arguments: fixture.cases)
func matchesKeras(_ reference: KerasCase) throws {
  try registerPlugin()
  let identifier = try #require(reference["layer"]?.stringValue)
  let layer = try Registries.shared.layers.make(
    identifier, config: try #require(reference["config"]?.objectValue))
  let x = try reference.tensor("x")
  var generator = SeededGenerator(seed: 1)
  _ = try layer.build(inputShape: Array(x.shape.dropFirst()), generator: &generator)
  for (parameter, value) in zip(layer.parameters, try reference.tensors("weights")) {
    parameter.value = value
  }
  let y = try layer.forward(x, in: Context())
  let expectedY = try reference.tensor("y"), expectedDx = try reference.tensor("dx")
  #expect(isClose(y, expectedY), "\(identifier) y")
  let training = Context(isTraining: true)
  _ = try layer.forward(x, in: training)
  let dx = try layer.backward(try reference.tensor("upstream"), in: training)
  #expect(isClose(dx, expectedDx), "\(identifier) dx")
  for (parameter, expected) in zip(layer.parameters, try reference.tensors("d_weights")) {
    #expect(isClose(parameter.gradient, expected), "\(identifier) d\(parameter.name)")
  }
}

@Test func defaultsFollowKeras() throws {
  try registerPlugin()
  let leaky = try #require(try Registries.shared.layers.make("LeakyReLU") as? LeakyReLU)
  #expect(leaky.config.negativeSlope == 0.3)
  let prelu = try #require(try Registries.shared.layers.make("PReLU") as? PReLU)
  var generator = SeededGenerator(seed: 1)
  _ = try prelu.build(inputShape: [2, 3], generator: &generator)
  #expect(prelu.alpha?.value == Tensor(shape: [2, 3]))
}

@Test(arguments: [[2, 5], [3, 2, 4]])
func gradientsPassTheCheck(shape: [Int]) throws {
  try registerPlugin()
  #expect(try maxGradientError(of: LeakyReLU(negativeSlope: 0.2), inputShape: shape) < 1e-3)
  let prelu = try PReLU(
    config: .init(alphaInitializer: Spec("random_uniform", config: ["minval": 0.1, "maxval": 0.5])))
  #expect(try maxGradientError(of: prelu, inputShape: shape) < 1e-3)
  let shared = try PReLU(config: .init(alphaInitializer: "ones", sharedAxes: [1]))
  #expect(try maxGradientError(of: shared, inputShape: shape) < 1e-3)
  let function = try Registries.shared.activations.make(
    "LeakyReLU", config: ["negative_slope": 0.2])
  #expect(maxGradientError(of: function, shape: shape) < 1e-3)
}

@Test func layersConform() throws {
  try registerPlugin()
  #expect(checkLayer(try LeakyReLU(), inputShape: [5], parameterCount: 0, outputShape: [5]).passed)
  #expect(
    checkLayer(try PReLU(), inputShape: [3, 4], parameterCount: 12, outputShape: [3, 4]).passed)
  #expect(
    checkLayer(try PReLU(config: .init(sharedAxes: [1])), inputShape: [3, 4], parameterCount: 4)
      .passed)
}

@Test func badInputGetsClearErrors() throws {
  try registerPlugin()
  #expect(
    throws: StrataError.invalidArgument(
      owner: "LeakyReLU", argument: "negative_slope", value: "-1.0", expected: "a finite number ≥ 0"
    )
  ) {
    try Registries.shared.layers.make("LeakyReLU", config: ["negative_slope": -1])
  }
  #expect(
    throws: StrataError.unknownIdentifier(
      kind: "layer", identifier: "PRelu", suggestions: ["PReLU", "ReLU"])
  ) {
    try Registries.shared.layers.make("PRelu")
  }
  let prelu = try PReLU(config: .init(sharedAxes: [3]))
  var generator = SeededGenerator(seed: 1)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "PReLU", argument: "shared_axes", value: "[3]",
      expected: "axes between 1 and 1 for an input of shape (None, 4)")
  ) { try prelu.build(inputShape: [4], generator: &generator) }
}

/// A model with the plugin's layers and activation saves and loads like one of built-ins.
@Test func pluginLayersSurviveSaveAndLoad() throws {
  try registerPlugin()
  let model = try Sequential(seed: 4)
  try model.add("Dense", ["units": 6, "input_shape": [4], "activation": "LeakyReLU"])
  try model.add("PReLU", ["alpha_initializer": "ones"])
  try model.add("LeakyReLU", ["negative_slope": 0.1])
  try model.add("Dense", ["units": 3, "activation": "softmax"])
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  var x = Tensor(shape: [16, 4])
  var y = Tensor(shape: [16])
  for i in 0..<16 {
    y[i] = Float(i % 3)
    for j in 0..<4 { x[i, j] = Float((i * 7 + j * 3) % 11) / 5 - 1 }
  }
  try model.fit(x, y, batchSize: 4, epochs: 2, verbose: 0)
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "plugin-\(UUID().uuidString).strata")
  try model.save(to: url)
  let loaded = try Sequential.load(from: url)
  #expect(try loaded.predict(x) == model.predict(x))
  #expect(loaded.layers[1] is PReLU)
}

/// `Fixtures/tiny_plugin_layers.keras`: written by Keras 3.15.1 with its own `LeakyReLU` and `PReLU`
/// (`generate_keras_file.py` beside it), so Keras' class names load the plugin's layers.
@Test func kerasFileWithPluginLayersLoads() throws {
  try registerPlugin()
  let url = Bundle.module.url(
    forResource: "tiny_plugin_layers", withExtension: "keras", subdirectory: "Fixtures")!
  let expected =
    try JSONSerialization.jsonObject(
      with: Data(
        contentsOf: Bundle.module.url(
          forResource: "tiny_plugin_layers.expected", withExtension: "json",
          subdirectory: "Fixtures")!)) as! [String: Any]
  let model = try loadModel(from: url)
  #expect(model.parameterCount == expected["parameters"] as! Int)
  let leaky = try #require(model.layer(named: "leaky_re_lu") as? LeakyReLU)
  #expect(leaky.config.negativeSlope == 0.3)  // the layer's Keras default
  let input = (expected["input"] as! [[Double]]).flatMap { $0.map(Float.init) }
  let output = (expected["output"] as! [[Double]]).flatMap { $0.map(Float.init) }
  let y = try model.predict(Tensor(shape: [4, 6], scalars: input))
  for (got, want) in zip(y.scalars, output) { #expect(abs(got - want) <= 1e-5 + 1e-5 * abs(want)) }
  // Saved by Strata, the plugin layers carry Keras' registered name `CustomLayers>Name`.
  let saved = FileManager.default.temporaryDirectory.appendingPathComponent(
    "plugin-\(UUID().uuidString).keras")
  defer { try? FileManager.default.removeItem(at: saved) }
  try model.save(to: saved)
  let again = try loadModel(from: saved)
  #expect(again.weights == model.weights)
  let text = String(decoding: try Data(contentsOf: saved), as: UTF8.self)
  #expect(text.contains("\"registered_name\":\"CustomLayers>PReLU\""))
  #expect(text.contains("\"registered_name\":\"CustomLayers>LeakyReLU\""))
}

/// The Keras guide's `Linear`, written with ops in this package, trains as the same layer does in
/// Keras: the loss of each epoch, the final weights and the predictions of
/// `Fixtures/generate_linear_fixture.py`.
@Test func linearTrainsAsInKeras() throws {
  try registerPlugin()
  let url = try #require(
    Bundle.module.url(
      forResource: "linear_training", withExtension: "json", subdirectory: "Fixtures"))
  let json = try #require(
    try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
  func numbers(_ value: Any?) -> [Float] {
    if let list = value as? [Any] { return list.flatMap(numbers) }
    return [Float((value as? NSNumber)?.doubleValue ?? .nan)]
  }
  func tensor(_ key: String, _ shape: [Int]) throws -> Tensor {
    try Tensor(shape: shape, scalars: numbers(json[key]))
  }
  let model = try Sequential(seed: 1)
  try model.add("Linear", ["units": 8, "input_shape": [4]])
  try model.add("Activation", ["activation": "tanh"])
  try model.add("Linear", ["units": 1])
  let initial = try #require(json["initial_weights"] as? [Any])
  try model.setWeights(
    zip(initial, model.parameters).map { try Tensor(shape: $1.shape, scalars: numbers($0)) })
  try model.compile(optimizer: SGD(learningRate: 0.1), loss: "mse")
  let history = try model.fit(
    try tensor("x", [48, 4]), try tensor("y", [48, 1]), batchSize: 16, epochs: 4, verbose: .silent,
    shuffle: false)
  let expectedLoss = numbers(json["loss"])
  for (loss, expected) in zip(history.history["loss"] ?? [], expectedLoss) {
    #expect(abs(loss - expected) <= 1e-5 + 1e-4 * abs(expected), "loss \(loss) vs \(expected)")
  }
  #expect(history.history["loss"]?.count == 4)
  let final = try #require(json["final_weights"] as? [Any])
  for (parameter, values) in zip(model.parameters, final) {
    let expected = try Tensor(shape: parameter.shape, scalars: numbers(values))
    #expect(isClose(parameter.value, expected, rtol: 1e-4, atol: 1e-5), "\(parameter.name)")
  }
  let x = try tensor("x", [48, 4]).slice(rows: 0..<5)
  #expect(isClose(try model.predict(x), try tensor("prediction", [5, 1]), rtol: 1e-4, atol: 1e-5))
  // Its gradients pass the finite-difference check, and a bad argument is refused by name.
  #expect(try maxGradientError(of: Linear(units: 3), inputShape: [2, 5]) < 1e-3)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Linear", argument: "units", value: "0", expected: "a positive integer")
  ) { try Registries.shared.layers.make("Linear", config: ["units": 0]) }
}

/// The variational autoencoder's step, written with ops and a tape, learns: on generated images
/// (blurred blobs), its loss falls epoch by epoch; its losses' gradients pass the finite-difference
/// check, the KL term included.
@Test func variationalAutoencoderLearns() throws {
  let vae = try VariationalAutoencoder(latent: 2, units: 16, seed: 3)
  var generator = SeededGenerator(seed: 4)
  var x = Tensor(shape: [128, 784])
  x.withUnsafeMutableBufferPointer { pixels in
    for image in 0..<128 {
      let (cx, cy) = (
        Float(generator.nextUniform() * 20 + 4), Float(generator.nextUniform() * 20 + 4)
      )
      for row in 0..<28 {
        for column in 0..<28 {
          let d =
            (Float(row) - cy) * (Float(row) - cy) + (Float(column) - cx) * (Float(column) - cx)
          pixels[image * 784 + row * 28 + column] = exp(-d / 18)
        }
      }
    }
  }
  let optimizer = try Registries.shared.optimizers.make("adam", config: ["learning_rate": 0.01])
  var epochLosses: [Float] = []
  for _ in 0..<6 {
    var total: Float = 0
    for start in stride(from: 0, to: 128, by: 32) {
      total += try vae.trainStep(x.slice(rows: start..<start + 32), optimizer: optimizer).total / 4
    }
    epochLosses.append(total)
  }
  #expect(epochLosses[5] < 0.8 * epochLosses[0], "\(epochLosses)")
  // With respect to the noise and the first layer's bias: through the decoder, the sampling and
  // the encoder into both terms.
  let noise = try randomTensor([3, 2], using: &generator)
  let sample = x.slice(rows: 0..<3)
  let bias = vae.parameters[1]
  let error = try maxGradientError(
    of: {
      bias.value = $0[1]
      return try vae.losses(sample, noise: $0[0]).total
    }, at: [noise, bias.value], epsilon: 1e-2)
  #expect(error < 2e-3, "\(error)")
}
