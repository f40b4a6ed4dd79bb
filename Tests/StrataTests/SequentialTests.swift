import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

/// A Keras reference file of this target's `Fixtures` (written by `Tests/generate_fixtures.py`):
/// `NAME.json`, or `NAME.json.gz` for the large ones.
func kerasFixture(_ name: String) -> KerasFixture {
  if let url = Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures")
  {
    return try! KerasFixture(contentsOf: url)
  }
  let url = Bundle.module.url(
    forResource: name, withExtension: "json.gz", subdirectory: "Fixtures")!
  let json = try! gunzip([UInt8](Data(contentsOf: url)), path: url.path)
  return try! KerasFixture(json: Data(json), path: url.path)
}

let summaries = kerasFixture("summaries")

func beginnerModel() throws -> Sequential {
  let model = try Sequential(seed: 1)
  try model.add("Flatten", ["input_shape": [28, 28]])
  try model.add("Dense", ["units": 128, "activation": "relu"])
  try model.add("Dropout", ["rate": 0.2])
  try model.add("Dense", ["units": 10, "activation": "softmax"])
  return model
}

@Test func beginnerMLPMatchesKerasSummary() throws {
  let reference = try #require(summaries.cases(where: "model", is: "mlp").first)
  for model in [
    try beginnerModel(),
    try Sequential([
      Flatten(inputShape: [28, 28]), Dense(128, activation: "relu"), Dropout(0.2),
      Dense(10, activation: "softmax"),
    ]),
  ] {
    try expectLayers(of: model, match: reference, "mlp")
    let summary = model.summaryText()
    #expect(summary.contains("dense (Dense)                (None, 128)               100480"))
    #expect(summary.contains("Total params: 101,770"))
    #expect(summary.contains("Trainable params: 101,770"))
    #expect(summary.contains("Non-trainable params: 0"))
  }
}

@Test func predictComputesTheLayersInOrder() throws {
  let model = try beginnerModel()
  var generator = SeededGenerator(seed: 3)
  var x = Tensor(shape: [37, 28, 28])
  x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = generator.nextUniform() } }
  let y = try model.predict(x, batchSize: 16)
  #expect(y.shape == [37, 10])
  // The same network by hand, in Double: relu(x·W1 + b1)·W2 + b2, then softmax.
  let p = model.parameters.map(\.value.scalars)
  let xs = x.scalars
  for row in [0, 17, 36] {
    var hidden = [Double](repeating: 0, count: 128)
    for j in 0..<128 {
      var sum = Double(p[1][j])
      for i in 0..<784 { sum += Double(xs[row * 784 + i]) * Double(p[0][i * 128 + j]) }
      hidden[j] = max(0, sum)
    }
    var logits = [Double](repeating: 0, count: 10)
    for j in 0..<10 {
      logits[j] =
        Double(p[3][j]) + (0..<128).reduce(0) { $0 + hidden[$1] * Double(p[2][$1 * 10 + j]) }
    }
    let top = logits.max()!
    let total = logits.map { Foundation.exp($0 - top) }.reduce(0, +)
    for j in 0..<10 {
      #expect(abs(Double(y[row, j]) - Foundation.exp(logits[j] - top) / total) < 1e-5)
    }
  }
  #expect(abs(y.scalars.reduce(0, +) - 37) < 1e-3)
}

@Test func modelsFromJSONConfigs() throws {
  let json = """
    [{"class_name": "InputLayer", "config": {"batch_shape": [null, 4, 5]}},
     {"class_name": "Flatten", "config": {}},
     {"class_name": "Dense", "config": {"units": 6, "activation": "tanh", "name": "hidden",
       "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotNormal", "config": {"seed": null}},
       "kernel_regularizer": null, "trainable": true, "dtype": "float32"}},
     {"class_name": "Dense", "config": {"units": 2}}]
    """
  let model = try Sequential(json: Data(json.utf8), seed: 4)
  #expect(model.layerNames == ["flatten", "hidden", "dense"])
  #expect(model.outputShape == [2])
  // The config a model gives back builds the same model.
  let encoded = try JSONEncoder().encode(model.config)
  let copy = try Sequential(json: encoded, seed: 4)
  #expect(copy.layerNames == model.layerNames)
  #expect(copy.outputShapes == model.outputShapes)
  #expect(copy.config == model.config)
  let x = Tensor(shape: [2, 4, 5], repeating: 0.3)
  #expect(try copy.predict(x) == model.predict(x))
}

@Test func shapeErrorsNameTheLayer() throws {
  let model = try Sequential([Input(shape: [8]), Dense(4)])
  #expect(
    throws: StrataError.shapeMismatch(
      layer: "reshape (Reshape)", received: "(None, 4)",
      expected: "an input of the same size as the target shape (3, 3)")
  ) {
    try model.add(Reshape([3, 3]))
  }
  #expect(model.layers.count == 1)
  #expect(
    throws: StrataError.shapeMismatch(
      layer: "dense (Dense)", received: "(None, 9)", expected: "(None, 8)")
  ) {
    try model.predict(Tensor(shape: [2, 9]))
  }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "predict", argument: "batchSize", value: "0", expected: "a positive integer")
  ) { try model.predict(Tensor(shape: [2, 8]), batchSize: 0) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Sequential", argument: "name", value: "\'dense\'",
      expected: "a unique, non-empty layer name")
  ) { try model.add(Dense(2), name: "dense") }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Sequential", argument: "layers[0]", value: "{\"units\":3}",
      expected: "{\"class_name\": …, \"config\": {…}}")
  ) { try Sequential(json: Data("[{\"units\": 3}]".utf8)) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Sequential", argument: "json",
      value: "that is not valid JSON ('o' at byte 1: expected 'null')",
      expected: "a Keras model config")
  ) { try Sequential(json: Data("not json".utf8)) }
}

@Test func shapesAreInferredFromTheFirstBatch() throws {
  let model = try Sequential([Dense(3, activation: "relu"), Dense(2)])
  #expect(!model.isBuilt)
  // Unbuilt layers show "?" for their shape and 0 parameters, row by row.
  func rows(_ summary: String) -> [[Substring]] {
    summary.split(separator: "\n").filter { $0.hasPrefix("dense") }.map { $0.split(separator: " ") }
  }
  #expect(
    rows(model.summaryText()) == [
      ["dense", "(Dense)", "?", "0"], ["dense_1", "(Dense)", "?", "0"],
    ])
  let y = try model.predict(Tensor(shape: [5, 7], repeating: 1))
  #expect(
    rows(model.summaryText()) == [
      ["dense", "(Dense)", "(None,", "3)", "24"], ["dense_1", "(Dense)", "(None,", "2)", "8"],
    ])
  #expect(y.shape == [5, 2])
  #expect(model.outputShapes == [[3], [2]])
  #expect(model.parameterCount == 32)
}

@Test func theSameSeedGivesTheSameWeights() throws {
  let a = try beginnerModel(), b = try beginnerModel()
  #expect(a.parameters.map(\.value) == b.parameters.map(\.value))
  let c = try Sequential([Flatten(inputShape: [28, 28]), Dense(128)], seed: 2)
  #expect(c.parameters[0].value != a.parameters[0].value)
}

/// `summary()` prints the table, as Keras' does; `summaryText()` is the same table as a string.
@Test func summaryPrintsAsKerasDoes() throws {
  let model = try Sequential([Flatten(inputShape: [2, 2]), Dense(3)])
  let printed = PrintedText()
  Console.$sink.withValue({ printed.append($0) }) { model.summary() }
  #expect(printed.value == model.summaryText() + "\n")
  #expect(printed.value.contains("dense (Dense)") && printed.value.contains("Total params: 15"))
}

/// Keras' ways of giving the first layer's input shape (`input_shape`, `batch_input_shape`,
/// `batch_shape`, `input_dim`) each work, and a malformed one, or one that disagrees with the
/// model's input, is refused naming the argument.
@Test func declaredInputShapesAreReadOrRefusedByName() throws {
  for (arguments, shape) in [
    (["input_shape": [4]], [4]), (["batch_input_shape": [nil, 4]], [4]),
    (["batch_shape": [nil, 2, 3]], [2, 3]), (["input_dim": 5], [5]),
  ] as [(ConfigDictionary, [Int])] {
    let model = try Sequential()
    try model.add("Dense", arguments.merging(["units": 2]) { a, _ in a })
    #expect(model.inputShape == shape, "\(arguments)")
  }
  for (arguments, argument) in [
    (["input_shape": "4"], "input_shape"), (["input_shape": [4, "x"]], "input_shape"),
    (["batch_input_shape": [4]], "batch_input_shape"), (["batch_shape": 7], "batch_shape"),
    (["input_dim": "five"], "input_dim"),
  ] as [(ConfigDictionary, String)] {
    let model = try Sequential()
    let error = refusal { try model.add("Dense", arguments.merging(["units": 2]) { a, _ in a }) }
    #expect(
      error?.description.contains(argument) == true, "\(arguments): \(String(describing: error))")
  }
  // A first layer declaring another shape than the model's Input.
  let model = try Sequential([Input(shape: [3])])
  #expect(refusal { try model.add("Dense", ["units": 2, "input_shape": [4]]) } != nil)
  #expect(refusal { try model.add(Dense(2, inputShape: [4])) } != nil)
  // An Input after the first layer.
  try model.add(Dense(2))
  #expect(refusal { try model.add(Input(shape: [2])) } != nil)
  #expect(model.layers.count == 1)
}
