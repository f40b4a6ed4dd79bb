import ArgumentParser
import Foundation
import Strata
import StrataData

/// `strata evaluate FILE`: loss and metrics of a saved model on the test set.
public struct Evaluate: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    abstract:
      "Evaluate a saved model on the Fashion-MNIST test set, or on images from class folders.")

  @Argument(help: "A model file written by `strata train --save`.")
  var modelFile: String

  @Option(help: "The directory holding the Fashion-MNIST IDX files.")
  var data = FashionMNIST.defaultDirectory.path

  @Option(
    help:
      "Evaluate on the images in these class folders (sizes from the model's input, pixels scaled by 1/255) instead of Fashion-MNIST."
  )
  var images: String?

  /// Runs the command, printing errors as one line.
  public func run() throws {
    try reportingErrors {
      let model = try loadModel(from: URL(fileURLWithPath: modelFile))
      if let images {
        let folder = try imageFolder(images, for: model)
        if model.loss == nil {
          try model.compile(
            optimizer: "adam",
            loss: folder.labelMode == .binary
              ? "binary_crossentropy" : "sparse_categorical_crossentropy",
            metrics: ["accuracy"])
        }
        Console.line(
          "Found \(folder.count) images of \(folder.classNames.count) classes \(folder.classNames)")
        let logs = try model.evaluate(folder, verbose: 2)
        Console.line(
          logs.keys.sorted().map { "\($0): \(String(format: "%.4f", logs[$0]!))" }.joined(
            separator: "  "))
        return
      }
      if model.loss == nil {
        try model.compile(
          optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
      }
      let (x, y, _) = try testSet(for: model, directory: data)
      let logs = try model.evaluate(x, y, verbose: 2)
      Console.line(
        logs.keys.sorted().map { "\($0): \(String(format: "%.4f", logs[$0]!))" }.joined(
          separator: "  "))
    }
  }
}
