// Trains a small model that uses the plugin's LeakyReLU and PReLU layers on generated data and saves
// it: `swift run custom-layers-demo --save model.keras` (any extension Strata saves). The Keras checker
// (Benchmarks/keras_check.py) loads the result in Keras.
import CustomLayers
import Foundation
import Strata

do {
  let arguments = CommandLine.arguments
  guard let flag = arguments.firstIndex(of: "--save"), flag + 1 < arguments.count else {
    print("usage: custom-layers-demo --save FILE")
    exit(2)
  }
  try register(CustomLayersPlugin.self)
  let model = try Sequential(seed: 4)
  try model.add("Dense", ["units": 16, "input_shape": [8]])
  try model.add("LeakyReLU")
  try model.add("Dense", ["units": 8])
  try model.add("PReLU", ["alpha_initializer": "glorot_uniform"])
  try model.add("Dense", ["units": 3, "activation": "softmax"])
  var generator = SeededGenerator(seed: 5)
  let x = try Tensor(shape: [64, 8], scalars: (0..<512).map { _ in Float.random(in: -1...1, using: &generator) })
  let y = try Tensor(shape: [64], scalars: (0..<64).map { Float($0 % 3) })
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  try model.fit(x, y, batchSize: 16, epochs: 2, verbose: 0)
  try model.save(arguments[flag + 1])
  print("Saved \(model.name) (\(model.parameterCount) parameters) to \(arguments[flag + 1])")
} catch {
  print("error: \(error)")
  exit(1)
}
