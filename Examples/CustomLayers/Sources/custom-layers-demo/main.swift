// A small program using the plugin's LeakyReLU and PReLU layers, which the `strata` tool does not
// register. The Keras checker (Benchmarks/keras_check.py) runs it:
//   custom-layers-demo --save model.keras                 train on generated data and save
//   custom-layers-demo --predict MODEL --input X.npy --output Y.npy
//   custom-layers-demo --convert IN OUT                   as `strata convert`
import CustomLayers
import Foundation
import Strata
import StrataKeras  // Keras files: linked, it reads and writes them
import StrataData

/// The value after `flag` on the command line.
func option(_ flag: String) -> String? {
  let arguments = CommandLine.arguments
  guard let index = arguments.firstIndex(of: flag), index + 1 < arguments.count else { return nil }
  return arguments[index + 1]
}

do {
  try register(CustomLayersPlugin.self)
  if let path = option("--save") {
    let model = try Sequential(seed: 4)
    try model.add("Dense", ["units": 16, "input_shape": [8]])
    try model.add("LeakyReLU")
    try model.add("Dense", ["units": 8])
    try model.add("PReLU", ["alpha_initializer": "glorot_uniform"])
    try model.add("Dense", ["units": 3, "activation": "softmax"])
    var generator = SeededGenerator(seed: 5)
    let x = try Tensor(
      shape: [64, 8], scalars: (0..<512).map { _ in Float.random(in: -1...1, using: &generator) })
    let y = try Tensor(shape: [64], scalars: (0..<64).map { Float($0 % 3) })
    try model.compile(
      optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    try model.fit(x, y, batchSize: 16, epochs: 2, verbose: 0)
    try model.save(path)
    print("Saved \(model.name) (\(model.parameterCount) parameters) to \(path)")
  } else if let path = option("--predict"), let input = option("--input"),
    let output = option("--output")
  {
    let model = try loadModel(path)
    let x = try NumPyArray.read(URL(fileURLWithPath: input))
    try NumPyArray.write(try model.predict(x), to: URL(fileURLWithPath: output))
  } else if let input = option("--convert"), CommandLine.arguments.count == 4 {
    let model = try loadModel(input)
    let output = CommandLine.arguments[3]
    if output.hasSuffix(".h5") { try model.saveWeights(output) } else { try model.save(output) }
  } else {
    print(
      "usage: custom-layers-demo --save FILE | --predict MODEL --input X.npy --output Y.npy | --convert IN OUT"
    )
    exit(2)
  }
} catch {
  print("error: \(error)")
  exit(1)
}
