import ArgumentParser
import Foundation
import Strata
import StrataData

/// `strata summary MODEL`: the summary table of any model file.
public struct Summary: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    abstract: "Print the summary of a model file (Strata's, Keras' .keras or legacy .h5).")

  @Argument(help: "A model file.")
  var modelFile: String

  /// Runs the command, printing errors as one line.
  public func run() throws {
    try reportingErrors {
      let model = try loadModel(from: URL(fileURLWithPath: modelFile))
      model.summary()
      if let optimizer = model.optimizer {
        Console.line(
          "Compiled: optimizer \(optimizer.identifier) (\(optimizer.iterations) steps taken), loss \(model.loss?.identifier ?? "per output")"
        )
      }
    }
  }
}
