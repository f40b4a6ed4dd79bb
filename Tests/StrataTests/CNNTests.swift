import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

/// The tutorial CNN: Conv2D(32,3) - MaxPooling2D(2) - Conv2D(64,3) - MaxPooling2D(2) - Conv2D(64,3) - Flatten - Dense(64) - Dense(10).
func tutorialCNN() throws -> Sequential {
  let model = try Sequential(seed: 1)
  try model.add("Conv2D", ["filters": 32, "kernel_size": [3, 3], "activation": "relu", "input_shape": [28, 28, 1]])
  try model.add("MaxPooling2D", ["pool_size": [2, 2]])
  try model.add("Conv2D", ["filters": 64, "kernel_size": [3, 3], "activation": "relu"])
  try model.add("MaxPooling2D", ["pool_size": [2, 2]])
  try model.add("Conv2D", ["filters": 64, "kernel_size": [3, 3], "activation": "relu"])
  try model.add("Flatten")
  try model.add("Dense", ["units": 64, "activation": "relu"])
  try model.add("Dense", ["units": 10])
  return model
}

/// "Deep MNIST for experts": two 5x5 "same" convolutions, "same" pooling, Dense(1024), Dropout(0.5).
func deepMNIST() throws -> Sequential {
  try Sequential([
    Conv2D(32, kernelSize: 5, padding: "same", activation: "relu", inputShape: [28, 28, 1]),
    MaxPooling2D(poolSize: 2, padding: "same"),
    Conv2D(64, kernelSize: 5, padding: "same", activation: "relu"),
    MaxPooling2D(poolSize: 2, padding: "same"),
    Flatten(),
    Dense(1024, activation: "relu"),
    Dropout(0.5),
    Dense(10, activation: "softmax"),
  ], seed: 1)
}

/// The horses-or-humans CNN on 300x300 colour images (built and summarized only).
func horsesOrHumans() throws -> Sequential {
  try Sequential([
    Input(shape: [300, 300, 3]),
    Conv2D(16, kernelSize: 3, activation: "relu"), MaxPooling2D(poolSize: 2),
    Conv2D(32, kernelSize: 3, activation: "relu"), MaxPooling2D(poolSize: 2),
    Conv2D(64, kernelSize: 3, activation: "relu"), MaxPooling2D(poolSize: 2),
    Flatten(), Dense(512, activation: "relu"), Dense(1, activation: "sigmoid"),
  ], seed: 1)
}

@Test(arguments: ["cnn", "deep_mnist", "horses_vs_humans"])
func seedCNNsMatchKerasSummaries(name: String) throws {
  let reference = try #require(summaries.cases(where: "model", is: name).first)
  let model = try name == "cnn" ? tutorialCNN() : name == "deep_mnist" ? deepMNIST() : horsesOrHumans()
  let layers = try #require(reference["layers"]?.arrayValue)
  #expect(model.layers.count == layers.count)
  for (index, expected) in layers.enumerated() {
    let object = try #require(expected.objectValue)
    #expect(model.layerNames[index] == object["name"]?.stringValue)
    #expect(model.layers[index].identifier == object["type"]?.stringValue)
    #expect(model.layers[index].parameterCount == object["params"]?.intValue, "\(name) \(model.layerNames[index])")
    let shape = try #require(object["output_shape"]?.arrayValue).dropFirst().compactMap(\.intValue)
    #expect(model.outputShapes[index] == shape, "\(name) \(model.layerNames[index])")
  }
  #expect(model.parameterCount == reference["total_params"]?.intValue)
}

/// A few steps of the tutorial CNN on real images: the loss falls, and oneDNN and the reference
/// backend train to the same weights.
@Test func tutorialCNNTrainsOnFashionMNISTSlice() throws {
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(32)
  let x = try data.normalizedImages().reshaped(to: [32, 28, 28, 1]), y = data.labelTensor()
  var results: [[Tensor]] = []
  var losses: [[Float]] = []
  for backend in ["cpu", "reference"] {
    let model = try tutorialCNN()
    model.kernels = try Registries.shared.kernels.make(backend)
    try model.compile(optimizer: "adam", loss: SparseCategoricalCrossentropy(fromLogits: true), metrics: ["accuracy"])
    let history = try model.fit(x, y, batchSize: 16, epochs: 2, verbose: 0, shuffle: false)
    results.append(model.weights)
    losses.append(history["loss"]!)
  }
  #expect(losses[0].last! < losses[0].first!)
  for (a, b) in zip(losses[0], losses[1]) { #expect(abs(a - b) < 1e-3 * abs(b)) }
  for (a, b) in zip(results[0], results[1]) { #expect(isClose(a, b, rtol: 1e-3, atol: 1e-4)) }
}
