import ArgumentParser
import Foundation
import Strata
import StrataData

/// `strata convert IN OUT`: between Strata's format, Keras' `.keras` and `.weights.h5`.
public struct Convert: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    abstract:
      "Convert a model file: OUT's extension picks the format (.keras, .weights.h5 or .h5 for weights only, anything else Strata's)."
  )

  @Argument(help: "A model file: Strata's, Keras' .keras or legacy .h5.")
  var inputFile: String

  @Argument(help: "The file to write.")
  var outputFile: String

  /// Runs the command, printing errors as one line.
  public func run() throws {
    try reportingErrors {
      let model = try loadModel(from: URL(fileURLWithPath: inputFile))
      let url = URL(fileURLWithPath: outputFile)
      if url.pathExtension.lowercased() == "h5" {
        try model.saveWeights(to: url)
      } else {
        try model.save(to: url)
      }
      reportWritten(
        "Wrote \(model.name) (\(model.parameterCount) parameters) to \(outputFile)", to: outputFile)
    }
  }
}
