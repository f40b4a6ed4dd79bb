import ArgumentParser
import Foundation
import Strata
import StrataData
import StrataMPI

/// Loads the Fashion-MNIST test set shaped for `model` (a channel axis for CNNs).
func testSet(for model: Model, directory: String) throws -> (
  x: Tensor, y: Tensor, labels: [UInt8]
) {
  let (_, test) = try FashionMNIST.load(from: URL(fileURLWithPath: directory))
  var x = test.normalizedImages()
  if let shape = model.modelInputShapes?.first, shape != [28, 28] {
    try checkArgument(
      shape.reduce(1, *) == 784,
      owner: "strata", argument: "model", value: "with input \(kerasShape(shape))",
      expected: "a model for 28x28 Fashion-MNIST images, like (None, 28, 28) or (None, 28, 28, 1)")
    x = try x.reshaped(to: [x.shape[0]] + shape)
  }
  return (x, test.labelTensor(), test.labels)
}

/// The class a row of predictions picks: the largest output, or for one sigmoid output, 1 above 0.5.
func predictedClass(_ predictions: Tensor, row: Int) -> Int {
  let width = predictions.count / max(1, predictions.shape[0])
  let values = predictions.scalars[(row * width)..<((row + 1) * width)]
  if width == 1 { return values.first! > 0.5 ? 1 : 0 }
  return values.indices.max { values[$0] < values[$1] }.map { $0 - row * width } ?? 0
}

/// Says what was written to `path`: on standard output, unless `path` is standard output itself
/// (`/dev/stdout`, a pipe), where the line would corrupt the file; then on standard error.
func reportWritten(_ line: String, to path: String) {
  var target = stat(), standardOutput = stat()
  let isStandardOutput =
    stat(path, &target) == 0 && fstat(STDOUT_FILENO, &standardOutput) == 0
    && target.st_dev == standardOutput.st_dev && target.st_ino == standardOutput.st_ino
  if isStandardOutput { Console.errorLine(line) } else { Console.line(line) }
}

/// Fashion-MNIST's name of a class, or its number for a class it does not have.
func className(_ index: Int) -> String {
  FashionMNIST.classNames.indices.contains(index)
    ? FashionMNIST.classNames[index] : "class \(index)"
}

/// Refuses an option below 1.
func requireAtLeastOne(_ value: Int?, _ option: String) throws {
  if let value, value < 1 { throw ValidationError("\(option) must be at least 1, not \(value).") }
}

/// Runs `body`, printing any error as one line (no backtrace) and exiting with a failure. Distributed,
/// the error then ends every rank (``Communicator/abort(message:)``), so none waits forever.
func reportingErrors(
  on communicator: any Communicator = SingleProcess(), _ body: () throws -> Void
) throws {
  do {
    try body()
  } catch let error as ExitCode {
    throw error
  } catch {
    Console.errorLine("error: \(error.localizedDescription)")
    if communicator.size > 1 { communicator.abort(message: error.localizedDescription) }
    throw ExitCode.failure
  }
}

/// The class folders at `directory` as a streaming dataset shaped for `model`'s input, in file order:
/// binary labels for one sigmoid output, class indices otherwise; pixels scaled by 1/255, as `train
/// --images` scales them.
func imageFolder(_ directory: String, for model: Model) throws -> ImageFolderDataset {
  guard let shape = model.modelInputShapes?.first, shape.count == 3, [1, 3].contains(shape[2])
  else {
    throw StrataError.invalidArgument(
      owner: "strata", argument: "--images",
      value:
        "with a model taking \(model.modelInputShapes?.first.map { kerasShape($0) } ?? "no fixed shape")",
      expected: "a model whose input is images (height, width, 1 or 3 channels)")
  }
  return try ImageFolderDataset(
    directory: URL(fileURLWithPath: directory), imageSize: (shape[0], shape[1]),
    colorMode: shape[2] == 1 ? .grayscale : .rgb,
    labelMode: model.modelOutputShapes?.first == [1] ? .binary : .int, rescale: 1.0 / 255,
    shuffle: false)
}
