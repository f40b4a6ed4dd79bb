import ArgumentParser
import Foundation
import Strata
import StrataData
import StrataKeras  // linked, it reads and writes Keras files for every command
import StrataMPI
import StrataSeedModels

/// The command-line tool: trains the tutorial models on Fashion-MNIST (or on image folders), and
/// evaluates and runs saved models. `Sources/strata/main.swift` calls ``main()``; tests call
/// `parseAsRoot(_:)` and `run()` in-process, reading what it prints through ``Console/sink``.
public struct StrataCommand: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    commandName: "strata",
    abstract: "Train Keras-style models on Fashion-MNIST with Strata.",
    subcommands: [
      Train.self, Evaluate.self, Predict.self, Convert.self, Summary.self, ExportImages.self,
    ],
    defaultSubcommand: Train.self)
}

extension SeedModel: ExpressibleByArgument {}
