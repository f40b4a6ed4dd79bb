import ArgumentParser
import Foundation
import Strata
import StrataData

/// `strata predict FILE`: classify test images with a saved model.
public struct Predict: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    abstract:
      "Run a saved model on NumPy arrays (--input, --output), or classify Fashion-MNIST test images with it."
  )

  @Argument(help: "A model file: Strata's, Keras' .keras or legacy .h5.")
  var modelFile: String

  @Option(
    help:
      "A NumPy .npy array of inputs, batch first (float32, float64, uint8, int32 or int64), or for a text input a UTF-8 text file of one text per line; once per model input, in order."
  )
  var input: [String] = []

  @Option(help: "Where to write the predictions as a float32 .npy array; once per model output.")
  var output: [String] = []

  @Option(
    help:
      "Classify the images in these class folders: each file's class and probability, then the accuracy against the folders."
  )
  var images: String?

  @Option(help: "How many test images to classify, from the first.")
  var count = 10

  /// Refuses options out of range before anything runs.
  public func validate() throws { try requireAtLeastOne(count, "--count") }

  @Option(help: "The directory holding the Fashion-MNIST IDX files.")
  var data = FashionMNIST.defaultDirectory.path

  /// Runs the command, printing errors as one line.
  public func run() throws {
    try reportingErrors {
      let model = try loadModel(from: URL(fileURLWithPath: modelFile))
      if !input.isEmpty || !output.isEmpty { return try predictArrays(model) }
      if let images { return try predictImages(model, images) }
      let (x, _, labels) = try testSet(for: model, directory: data)
      let n = min(count, x.shape[0])
      let predictions = try model.predict(x.slice(rows: 0..<n))
      var correct = 0
      for i in 0..<n {
        let guess = predictedClass(predictions, row: i)
        if guess == Int(labels[i]) { correct += 1 }
        Console.line("\(i): \(className(guess)) (actually \(className(Int(labels[i]))))")
      }
      Console.line("\(correct)/\(n) correct")
    }
  }

  /// Classifies every image of the class folders: file, predicted class and its probability, then
  /// the accuracy against the folders' classes.
  func predictImages(_ model: Model, _ directory: String) throws {
    let folder = try imageFolder(directory, for: model)
    let predictions = try model.predict(folder)
    var correct = 0
    for index in 0..<folder.count {
      let guess = predictedClass(predictions, row: index)
      let width = predictions.count / max(folder.count, 1)
      let row = Array(predictions.scalars[(index * width)..<((index + 1) * width)])
      // A model ending in logits (the tutorial CNN) gets its softmax (or sigmoid) taken here.
      let isProbability =
        row.allSatisfy { (0...1).contains($0) } && (width == 1 || abs(row.reduce(0, +) - 1) < 1e-3)
      let probabilities: [Float]
      if isProbability {
        probabilities = row
      } else if width == 1 {
        probabilities = [1 / (1 + exp(-row[0]))]
      } else {
        let top = row.max() ?? 0
        let exps = row.map { exp($0 - top) }
        let total = exps.reduce(0, +)
        probabilities = exps.map { $0 / total }
      }
      let probability =
        width == 1 ? (guess == 1 ? probabilities[0] : 1 - probabilities[0]) : probabilities[guess]
      if guess == folder.labels[index] { correct += 1 }
      let name =
        folder.classNames.indices.contains(guess) ? folder.classNames[guess] : "class \(guess)"
      Console.line(
        "\(folder.files[index].path): \(name) (\(String(format: "%.3f", probability)))")
    }
    Console.line(
      String(
        format: "Accuracy: %.4f (%d of %d images, against their folders)",
        Double(correct) / Double(max(folder.count, 1)), correct, folder.count))
  }

  /// Runs the model on the `--input` arrays and writes the `--output` arrays.
  func predictArrays(_ model: Model) throws {
    let inputCount = model.modelInputShapes?.count ?? 1
    let outputCount = model.modelOutputShapes?.count ?? 1
    try checkArgument(
      input.count == inputCount,
      owner: "strata predict", argument: "--input", value: "given \(input.count) times",
      expected: "one .npy file per model input (\(inputCount))")
    try checkArgument(
      output.count == outputCount,
      owner: "strata predict", argument: "--output", value: "given \(output.count) times",
      expected: "one .npy file per model output (\(outputCount))")
    // A text input (a Keras model whose Input is dtype="string") reads a text file, one text a line.
    let arrays = try input.enumerated().map { position, path in
      let url = URL(fileURLWithPath: path)
      guard model.textInputs[position] != nil, url.pathExtension.lowercased() != "npy" else {
        return try NumPyArray.read(url)
      }
      return try model.vectorize(try readTextLines(url), input: position)
    }
    let predictions = try model.predict(arrays)
    for (tensor, path) in zip(predictions, output) {
      try NumPyArray.write(tensor, to: URL(fileURLWithPath: path))
      reportWritten(
        "Wrote predictions of shape \(kerasShape(Array(tensor.shape.dropFirst()))) for \(tensor.shape[0]) samples to \(path)",
        to: path)
    }
  }
}
