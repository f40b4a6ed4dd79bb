import ArgumentParser
import Foundation
import Strata
import StrataData

/// `strata export-images DIR`: Fashion-MNIST as PNG class folders.
public struct ExportImages: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    commandName: "export-images",
    abstract:
      "Write Fashion-MNIST's 70,000 images as PNG class folders (DIR/train/<class>/, DIR/test/<class>/), to train on with --images."
  )

  @Argument(help: "The directory to write train/ and test/ into.")
  var directory: String

  @Option(help: "The directory holding the Fashion-MNIST IDX files.")
  var data = FashionMNIST.defaultDirectory.path

  /// Runs the command, printing errors as one line.
  public func run() throws {
    try reportingErrors {
      let start = ContinuousClock.now
      let written = try FashionMNIST.exportImages(
        from: URL(fileURLWithPath: data), to: URL(fileURLWithPath: directory))
      let elapsed = ContinuousClock.now - start
      Console.line(
        "Wrote \(written) PNG images to \(directory)/train and \(directory)/test in \(elapsed.components.seconds) s"
      )
    }
  }
}
