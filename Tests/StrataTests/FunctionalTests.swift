import Foundation
import Strata
import StrataSeedModels
import StrataTesting
import Testing

let functional = kerasFixture("functional")

/// A functional model from a Keras case's config, with Keras' weights.
func kerasModel(_ reference: KerasCase) throws -> Model {
  let model = try Model(config: try #require(reference["config"]), seed: 1)
  try model.setWeights(try reference.tensors("weights"))
  return model
}

@Test(arguments: functional.cases.indices)
func functionalModelMatchesKeras(_ index: Int) throws {
  let reference = functional.cases[index]
  let model = try kerasModel(reference)
  // Layers, names, shapes, parameter counts and connections, as Keras' summary lists them.
  let rows = try #require(reference["summary_rows"]?.arrayValue)
  #expect(model.summaryRows.count == rows.count)
  for (row, expected) in zip(model.summaryRows, rows) {
    let object = try #require(expected.objectValue)
    #expect(row.name == object["name"]?.stringValue)
    #expect(row.type == object["type"]?.stringValue)
    #expect(row.outputShape == object["output_shape"]?.stringValue)
    #expect(row.params == object["params"]?.intValue)
    #expect(row.connectedTo == object["connected_to"]?.stringValue)
  }
  let trainable = model.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count }
  #expect(trainable == reference["trainable_params"]?.intValue)
  #expect(model.parameters.reduce(0) { $0 + $1.count } == reference["total_params"]?.intValue)
  #expect(model.summaryText().contains("Connected to"))

  // Inference outputs.
  let inputs = try reference.tensors("inputs")
  let outputs = try model.predict(inputs)
  let expected = try reference.tensors("outputs_inference")
  #expect(outputs.count == expected.count)
  for (output, keras) in zip(outputs, expected) {
    #expect(isClose(output, keras, rtol: 1e-5, atol: 1e-6), "\(closeness(output, keras))")
  }

  // The whole serialized object (as `to_json()` and a `.keras` file's config.json hold it) builds the
  // same model.
  let serialized = try Model(config: try #require(reference["serialized"]), seed: 3)
  try serialized.setWeights(model.weights)
  #expect(serialized.summaryRows == model.summaryRows)
  #expect(try serialized.predict(inputs) == outputs)

  // The config Strata writes builds the same graph.
  let copy = try Model(config: model.config, seed: 2)
  try copy.setWeights(model.weights)
  #expect(copy.summaryRows == model.summaryRows)
  #expect(try copy.predict(inputs) == outputs)
}

/// The vector-Jacobian products of the cases with `upstream`: inference mode, or training mode (batch
/// statistics) for the residual block.
@Test(arguments: functional.cases.indices.filter { functional.cases[$0]["compile"] == nil })
func functionalGradientsMatchKeras(_ index: Int) throws {
  let reference = functional.cases[index]
  let model = try kerasModel(reference)
  let training = reference["d_weights_training"] != nil
  let gradients = try model.gradients(
    inputs: try reference.tensors("inputs"), upstream: try reference.tensors("upstream"),
    training: training)
  let expected = try reference.tensors(training ? "d_weights_training" : "d_weights")
  #expect(gradients.count == expected.count)
  for (gradient, keras) in zip(gradients, expected) {
    #expect(isClose(gradient, keras, rtol: 1e-4, atol: 1e-5), "\(closeness(gradient, keras))")
  }
  if training {
    // The moving statistics after that one training call (momentum 0.99).
    for (weight, keras) in zip(model.weights, try reference.tensors("weights_after_training_call"))
    {
      #expect(isClose(weight, keras, rtol: 1e-5, atol: 1e-6), "\(closeness(weight, keras))")
    }
  }
}

@Test func functionalAPIBuildsWhatSequentialBuilds() throws {
  setRandomSeed(3)
  let inputs = try Input(shape: [6])
  let hidden = try Dense(5, activation: "relu")(inputs)
  let outputs = try Dense(3, activation: "softmax")(hidden)
  let model = try Model(inputs: inputs, outputs: outputs)
  #expect(model.layerNames == ["input_layer", "dense", "dense_1"])
  let sequential = try Sequential([Dense(5, activation: "relu"), Dense(3, activation: "softmax")])
  try sequential.build(inputShape: [6])
  try sequential.setWeights(model.weights)
  var generator = SeededGenerator(seed: 9)
  let x = try Tensor(
    shape: [4, 6], scalars: (0..<24).map { _ in Float.random(in: -1...1, using: &generator) })
  #expect(try model.predict(x) == sequential.predict(x))
}

@Test func sharedLayerGradientIsTheSumOverItsCalls() throws {
  setRandomSeed(4)
  let a = try Input(shape: [3]), b = try Input(shape: [3])
  let shared = try Dense(2, activation: "tanh")
  let difference = try Subtract()([try shared(a), try shared(b)])
  let model = try Model(inputs: [a, b], outputs: [difference])
  #expect(model.layers.count == 4)
  var generator = SeededGenerator(seed: 5)
  func random(_ shape: [Int]) throws -> Tensor {
    try randomTensor(shape, using: &generator)
  }
  let x = [try random([4, 3]), try random([4, 3])]
  let upstream = try random([4, 2])
  let gradients = try model.gradients(inputs: x, upstream: [upstream], training: false)
  // Finite differences of sum(output · upstream) over every weight.
  try expectFiniteDifferences(model, inputs: x, upstream: upstream, gradients: gradients)
}

@Test func inferenceGradientsRunBatchNormalizationAndDropoutAsPredictDoes() throws {
  // Keras computes gradients with training=False through BatchNormalization's moving statistics
  // and with dropout off: the finite differences of predict are the reference.
  setRandomSeed(6)
  let input = try Input(shape: [3])
  let hidden = try Dense(4, activation: "tanh")(input)
  let normalized = try BatchNormalization()(hidden)
  let dropped = try Dropout(0.5)(normalized)
  let model = try Model(inputs: [input], outputs: [try Dense(2)(dropped)])
  var generator = SeededGenerator(seed: 9)
  let x = [try randomTensor([5, 3], using: &generator)]
  let upstream = try randomTensor([5, 2], using: &generator)
  // Moving statistics away from their initial values, so that using them is visible.
  let normalization = try #require(model.layers.compactMap { $0 as? BatchNormalization }.first)
  try normalization.movingMean?.value = randomTensor([4], using: &generator)
  normalization.movingVariance?.value = Tensor(shape: [4], repeating: 2.5)
  let before = model.weights
  let gradients = try model.gradients(inputs: x, upstream: [upstream], training: false)
  #expect(model.weights == before, "nothing running moves in inference mode")
  try expectFiniteDifferences(model, inputs: x, upstream: upstream, gradients: gradients)
}

@Test func badGraphsAreClearErrors() throws {
  let inputs = try Input(shape: [4])
  let other = try Input(shape: [4])
  // An incompatible shape names the layer.
  #expect(
    throws: StrataError.shapeMismatch(
      layer: "Add", received: "(None, 4), (None, 2)",
      expected: "inputs of one shape, or of one rank with axes equal or 1 (broadcast)")
  ) { try Add()([inputs, try Dense(2)(inputs)]) }
  // An output not computed from the inputs.
  let unreachable = try Dense(2)(other)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "functional", argument: "outputs[0]",
      value: "computed from an input that is not among the model's inputs",
      expected: "outputs computed from the given inputs alone")
  ) { try Model(inputs: inputs, outputs: unreachable) }
  // A single tensor for a merge layer, a list for a plain one.
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Add", argument: "inputs", value: "a single tensor",
      expected: "a list of tensors (a merge layer takes several inputs)")
  ) { try Add()(inputs) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Dense", argument: "inputs", value: "a list of 2 tensors",
      expected: "one tensor (only merge layers take a list)")
  ) { try Dense(2)([inputs, other]) }
  // Duplicate names and a cycle in a config.
  var config = try #require(functional.cases[1]["config"]?.objectValue)
  var layers = try #require(config["layers"]?.arrayValue)
  var renamed = try #require(layers[1].objectValue)
  renamed["name"] = "input_a"
  layers[1] = .object(renamed)
  config["layers"] = .array(layers)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Functional", argument: "layers[1].name", value: "\"input_a\"",
      expected: "a unique layer name")
  ) { try Model(config: .object(config)) }
  config = try #require(functional.cases[1]["config"]?.objectValue)
  layers = try #require(config["layers"]?.arrayValue)
  layers.swapAt(2, 3)  // concatenate after the dense layer it feeds: a dense reads a later layer
  config["layers"] = .array(layers)
  #expect(throws: StrataError.self) { try Model(config: .object(config)) }
}

@Test func mergeLayersComeFromTheRegistry() throws {
  for name in ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"] {
    let layer = try Registries.shared.layers.make(name, config: [:])
    #expect(layer is any MergeLayer, "\(name)")
  }
  let concatenate = try Registries.shared.layers.make("Concatenate", config: ["axis": 1])
  let a = try Input(shape: [2, 3]), b = try Input(shape: [1, 3])
  let joined = try concatenate([a, b])
  #expect(joined.shape == [3, 3])
  let model = try Model(inputs: [a, b], outputs: [joined])
  let x = try Tensor(shape: [1, 2, 3], scalars: [1, 2, 3, 4, 5, 6])
  let y = try Tensor(shape: [1, 1, 3], scalars: [7, 8, 9])
  #expect(try model.predict([x, y])[0].scalars == [1, 2, 3, 4, 5, 6, 7, 8, 9])
  #expect(throws: StrataError.self) { try Concatenate(axis: 0) }
}

/// Collects the gradients `fit` hands the optimizer.
final class GradientRecorder: GradientStage {
  var steps: [[Tensor]] = []
  var rows: [Int] = []
  func process(_ parameters: [Parameter], rows: Int) throws {
    steps.append(parameters.map(\.gradient))
    self.rows.append(rows)
  }
}

/// Keras' two-output case: `loss={"class": sparse CE, "reg": "mse"}`, `loss_weights={"reg": 0.5}`.
@Test func twoOutputsTrainAndEvaluateAsKerasDoes() throws {
  let reference = try #require(functional.cases.first { $0["compile"] != nil })
  let model = try kerasModel(reference)
  let x = try reference.tensors("inputs")
  let targets = try #require(reference["y_true"]?.objectValue)
  let classes = try #require(targets["class"]?.arrayValue).compactMap(\.doubleValue).map(Float.init)
  let y = [
    try Tensor(shape: [classes.count], scalars: classes),
    try KerasCase.tensor(from: try #require(targets["reg"])),
  ]
  try model.compile(
    optimizer: try SGD(learningRate: 0),
    loss: ["class": "sparse_categorical_crossentropy", "reg": "mse"],
    lossWeights: ["class": 1, "reg": 0.5])
  let logs = try model.evaluate(x, y, verbose: .silent)
  let expected = try #require(reference["evaluate"]?.objectValue)
  for key in ["loss", "class_loss", "reg_loss"] {
    let value = try #require(expected[key]?.doubleValue)
    #expect(abs(Double(logs[key] ?? .nan) - value) < 1e-5, "\(key)")
  }
  // The gradient of the weighted total, as `fit` hands it to the optimizer (learning rate 0: the
  // weights stay Keras').
  let recorder = GradientRecorder()
  model.gradientStages = [recorder]
  let history = try model.fit(x, y, batchSize: 3, epochs: 1, verbose: .silent, shuffle: false)
  #expect(recorder.rows == [3])
  let gradients = try #require(recorder.steps.first)
  for (gradient, keras) in zip(gradients, try reference.tensors("d_weights")) {
    #expect(isClose(gradient, keras, rtol: 1e-4, atol: 1e-5), "\(closeness(gradient, keras))")
  }
  let loss = try #require(reference["loss_value"]?.doubleValue)
  #expect(abs(Double(history["loss"]?.first ?? .nan) - loss) < 1e-5)
  #expect(history["class_loss"]?.count == 1 && history["reg_loss"]?.count == 1)
  // Arrays keyed by name train the same way.
  let keyed = try model.fit(
    x: ["input_layer": x[0]], y: ["class": y[0], "reg": y[1]], batchSize: 3, verbose: .silent,
    shuffle: false)
  #expect(keyed["loss"] == history["loss"])
  #expect(throws: StrataError.unknownArgument(owner: "y", argument: "clas", suggestions: ["class"]))
  {
    try model.fit(x: ["input_layer": x[0]], y: ["clas": y[0], "reg": y[1]], verbose: .silent)
  }
  #expect(
    throws: StrataError.unknownArgument(owner: "compile", argument: "regg", suggestions: ["reg"])
  ) { try model.compile(loss: ["class": "mse", "regg": "mse"]) }
}

/// A functional model trains, saves and loads like a Sequential one: the file round trip is exact, and
/// training on from the loaded model gives the same weights as training on from the original.
@Test func functionalModelTrainsSavesAndResumes() throws {
  setRandomSeed(11)
  let inputs = try Input(shape: [4])
  let a = try Dense(8, activation: "relu")(inputs)
  let b = try Dense(8, activation: "tanh")(inputs)
  let merged = try Concatenate()([a, b])
  let outputs = try Dense(3, activation: "softmax")(merged)
  let model = try Model(inputs: inputs, outputs: outputs, seed: 5)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let (x, y) = tinyData(64)
  let first = try model.fit(x, y, batchSize: 16, epochs: 3, verbose: .silent)
  #expect(first["loss"]!.last! < first["loss"]!.first!)
  #expect(first["accuracy"]?.count == 3)
  let url = FileManager.default.temporaryDirectory.appendingPathComponent(
    "functional-\(UUID().uuidString).strata")
  defer { try? FileManager.default.removeItem(at: url) }
  try model.save(to: url)
  let loaded = try loadModel(from: url)
  #expect(!(loaded is Sequential))
  #expect(loaded.summaryRows == model.summaryRows)
  #expect(try loaded.predict(x) == model.predict(x))
  #expect(loaded.optimizer?.iterations == model.optimizer?.iterations)
  try model.fit(x, y, batchSize: 16, epochs: 1, verbose: .silent)
  try loaded.fit(x, y, batchSize: 16, epochs: 1, verbose: .silent)
  #expect(loaded.weights == model.weights)
  #expect(throws: StrataError.self) { try Sequential.load(from: url) }
}

/// A model inside another: its weights are the outer model's, gradients flow through it, and its
/// config nests as Keras nests it.
@Test func aModelIsALayerOfAnother() throws {
  setRandomSeed(21)
  let inner = try Input(shape: [4])
  let encoder = try Model(
    inputs: inner,
    outputs: try Dense(3, activation: "tanh")(try Dense(5, activation: "relu")(inner)),
    name: "encoder")
  let a = try Input(shape: [4]), b = try Input(shape: [4])
  let distance = try Subtract()([try encoder(a), try encoder(b)])
  let outer = try Model(inputs: [a, b], outputs: [try Dense(1)(distance)])
  #expect(outer.layerNames == ["input_layer", "input_layer_1", "encoder", "subtract", "dense"])
  #expect(outer.parameters.count == 6)
  #expect(outer.summaryRows[2].connectedTo == "input_layer[0][0], input_layer_1[0][0]")
  var generator = SeededGenerator(seed: 8)
  func random(_ shape: [Int]) throws -> Tensor {
    try randomTensor(shape, using: &generator)
  }
  let x = [try random([5, 4]), try random([5, 4])]
  let upstream = try random([5, 1])
  let gradients = try outer.gradients(inputs: x, upstream: [upstream], training: false)
  try expectFiniteDifferences(
    outer, inputs: x, upstream: upstream, gradients: gradients, stride: 3, tolerance: 2e-3)
  // Keras' nesting: the encoder is one record holding its own config.
  let copy = try Model(config: outer.config, seed: 1)
  try copy.setWeights(outer.weights)
  #expect(try copy.predict(x) == outer.predict(x))
  #expect(copy.summaryRows == outer.summaryRows)
  // A model inside a Sequential.
  let stack = try Sequential([Input(shape: [4])])
  try stack.add(encoder)
  try stack.add(Dense(2, activation: "softmax"))
  #expect(try stack.predict(x[0]).shape == [5, 2])
  let restacked = try Sequential(config: stack.config)
  try restacked.setWeights(stack.weights)
  #expect(try restacked.predict(x[0]) == stack.predict(x[0]))
}

/// The JSON example is the seed model's config, and it builds the same model.
@Test func resnetSmallExampleIsTheSeedModel() throws {
  let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../../Examples/models/resnet-small.json")
  let example = try ConfigValue(json: try Data(contentsOf: url))
  #expect(example == SeedModel.resnetSmallConfig)
  let model = try SeedModel.resnetSmall.make(seed: 1)
  #expect(model.modelInputShapes == [[28, 28, 1]] && model.modelOutputShapes == [[10]])
  #expect(model.summaryRows.map(\.name).contains("block2_add"))
  #expect(
    model.summaryRows.first { $0.name == "block1_add" }?.connectedTo
      == "stem[0][0], block1_conv2[0][0]")
  #expect(model.parameterCount == 160 + 2_320 * 2 + 4_640 + 9_248 * 2 + 15_690)
}

/// The two-head example of Docs/FunctionalModels.md runs and logs what the article says.
@Test func twoHeadExampleFromTheDocsTrains() throws {
  let image = try Input(shape: [8], name: "features")
  let trunk = try Dense(16, activation: "relu")(image)
  let kind = try Dense(3, activation: "softmax")(trunk)
  let size = try Dense(1)(trunk)
  let model = try Model(inputs: [image], outputs: [kind, size])
  try model.compile(
    optimizer: "adam", loss: ["dense_1": "sparse_categorical_crossentropy", "dense_2": "mse"],
    lossWeights: ["dense_2": 0.5], metrics: ["dense_1": ["accuracy"]])
  let x = Tensor(shape: [4, 8], repeating: 0.5)
  let labels = try Tensor(shape: [4], scalars: [0, 1, 2, 1])
  let sizes = try Tensor(shape: [4, 1], scalars: [1, 2, 3, 4])
  let history = try model.fit([x], [labels, sizes], epochs: 2, verbose: .silent)
  #expect(
    Set(history.history.keys) == ["loss", "dense_1_loss", "dense_2_loss", "dense_1_accuracy"])
  for epoch in 0..<2 {
    let total = history["dense_1_loss"]![epoch] + 0.5 * history["dense_2_loss"]![epoch]
    #expect(abs(history["loss"]![epoch] - total) < 1e-5)
  }
  let keyed = try model.evaluate([x], [labels, sizes], verbose: .silent)
  #expect(keyed["dense_1_accuracy"] != nil)
}

/// A shared BatchNormalization keeps each call's batch statistics: its gradients are the sums of two
/// separate layers' with the same weights, and a shared Dropout trains.
@Test func sharedLayersKeepTheirStatePerCall() throws {
  var generator = SeededGenerator(seed: 13)
  func random(_ shape: [Int]) throws -> Tensor {
    try randomTensor(shape, in: -2...2, using: &generator)
  }
  let x = [try random([6, 3]), try random([6, 3])]
  let upstream = try random([6, 3])
  func model(shared: Bool) throws -> Model {
    try withSeededBuilds(seed: 1) {
      let a = try Input(shape: [3]), b = try Input(shape: [3])
      let first = try BatchNormalization()
      let second = shared ? first : try BatchNormalization()
      return try Model(inputs: [a, b], outputs: [try Add()([try first(a), try second(b)])])
    }
  }
  let together = try model(shared: true), apart = try model(shared: false)
  #expect(together.parameters.count == 4 && apart.parameters.count == 8)
  let sharedGradients = try together.gradients(inputs: x, upstream: [upstream])
  let separate = try apart.gradients(inputs: x, upstream: [upstream])
  // gamma and beta: the shared layer's gradient is the sum of the two layers'.
  for k in 0..<2 {
    let sum = zip(separate[k].scalars, separate[k + 2].scalars).map { $0 + $1 }
    for (value, expected) in zip(sharedGradients[k].scalars, sum) {
      #expect(abs(value - expected) < 1e-5)
    }
  }
  let dropout = try Dropout(0.5, seed: 3)
  let input = try Input(shape: [4])
  let net = try Model(
    inputs: input, outputs: try Dense(2)(try Add()([try dropout(input), try dropout(input)])))
  try net.compile(optimizer: "sgd", loss: "mse")
  let history = try net.fit(
    try random([8, 4]), try random([8, 2]), batchSize: 4, epochs: 2, verbose: .silent)
  #expect(history["loss"]?.allSatisfy(\.isFinite) == true)
}

/// Checks `gradients` (one per trainable parameter of `model`) against central differences of
/// `sum(output · upstream)`, every `stride`-th element.
func expectFiniteDifferences(
  _ model: Model, inputs x: [Tensor], upstream: Tensor, gradients: [Tensor], stride: Int = 1,
  tolerance: Double = 1e-3
) throws {
  func objective() throws -> Double {
    let y = try model.predict(x)[0]
    return zip(y.scalars, upstream.scalars).reduce(0) { $0 + Double($1.0 * $1.1) }
  }
  let h: Float = 1e-2
  for (parameter, gradient) in zip(model.parameters.filter(\.isTrainable), gradients) {
    for i in Swift.stride(from: 0, to: parameter.count, by: stride) {
      let original = parameter.value.scalars[i]
      func set(_ value: Float) { parameter.value.withUnsafeMutableBufferPointer { $0[i] = value } }
      set(original + h)
      let plus = try objective()
      set(original - h)
      let minus = try objective()
      set(original)
      let numeric = (plus - minus) / Double(2 * h)
      #expect(abs(numeric - Double(gradient.scalars[i])) < tolerance, "\(parameter.name)[\(i)]")
    }
  }
}

/// A functional model from its JSON config, built for a shape, refusing inputs of different batch
/// sizes or shapes by the layer and both shapes.
@Test func functionalModelsFromJSONAndTheirInputChecks() throws {
  setRandomSeed(2)
  let a = try Input(shape: [3]), b = try Input(shape: [3])
  let model = try Model(inputs: [a, b], outputs: [try Add()([try Dense(2)(a), try Dense(2)(b)])])
  let json = try JSONEncoder().encode(model.config)
  let copy = try Model(json: json, seed: 4)
  try copy.setWeights(model.weights)
  let x = [Tensor(shape: [2, 3], repeating: 0.5), Tensor(shape: [2, 3], repeating: -1)]
  #expect(try copy.predict(x) == model.predict(x))
  // build(inputShape:) checks a one-input model's shape, as Keras' build does.
  let input = try Input(shape: [3])
  let single = try Model(inputs: [input], outputs: [try Dense(2)(input)])
  try single.build(inputShape: [3])
  #expect(refusal { try single.build(inputShape: [4]) } != nil)
  let rows = refusal {
    try model.predict([Tensor(shape: [2, 3], repeating: 0), Tensor(shape: [3, 3], repeating: 0)])
  }
  #expect(rows?.description.contains("rows") == true, "\(String(describing: rows))")
  let shape = refusal {
    try model.predict([Tensor(shape: [2, 4], repeating: 0), Tensor(shape: [2, 3], repeating: 0)])
  }
  #expect(shape != nil)
}

/// One factory decides Sequential or functional for every loader: by class name, else by whether
/// the config names its input layers.
@Test func modelFactoryReadsTheKindFromTheConfig() throws {
  let input = try Input(shape: [3])
  let functional = try Model(inputs: input, outputs: try Dense(2)(input), seed: 1)
  let sequential = try Sequential([Input(shape: [3]), Dense(2)], seed: 1)
  let functionalConfig = functional.config
  let sequentialConfig = sequential.config
  #expect(!(try Model.make(config: functionalConfig) is Sequential))
  #expect(try Model.make(config: sequentialConfig) is Sequential)
  // Bare configs, without a class name: a functional one names its input layers.
  let bareFunctional = try #require(functionalConfig.objectValue?["config"])
  let bareSequential = try #require(sequentialConfig.objectValue?["config"])
  #expect(!(try Model.make(config: bareFunctional) is Sequential))
  #expect(try Model.make(config: bareSequential) is Sequential)
  let records = try #require(bareSequential.objectValue?["layers"])
  #expect(try Model.make(config: records, seed: 2) is Sequential)
  let made = try Model.make(json: Data(functionalConfig.description.utf8), seed: 3)
  #expect(made.layers.count == functional.layers.count)
  #expect(
    refusal { try Model.make(json: Data("{oops".utf8)) }
      == .invalidArgument(
        owner: "Model", argument: "json",
        value: "that is not valid JSON ('o' at byte 1: expected a string key)",
        expected: "a Keras model config"))
}
