import Foundation
@testable import Strata
import StrataData
import Testing

/// Runs `strata` to the end; returns its exit status, standard output and standard error.
func runStrata(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
  let process = Process()
  process.executableURL = strataBinary()
  process.arguments = arguments
  let output = temporaryURL("stdout"), error = temporaryURL("stderr")
  _ = FileManager.default.createFile(atPath: output.path, contents: nil)
  _ = FileManager.default.createFile(atPath: error.path, contents: nil)
  process.standardOutput = try FileHandle(forWritingTo: output)
  process.standardError = try FileHandle(forWritingTo: error)
  try process.run()
  process.waitUntilExit()
  return (
    process.terminationStatus, try String(contentsOf: output, encoding: .utf8),
    try String(contentsOf: error, encoding: .utf8)
  )
}

/// Each bad command line the audit found trapping or silently wrong: now a clear message on standard
/// error, a non-zero exit, and no backtrace.
@Test(arguments: [
  (["train", "--limit=-5"], "--limit must be at least 1, not -5."),
  (["train", "--epochs", "0"], "--epochs must be at least 1, not 0."),
  (["train", "--batch-size", "0"], "--batch-size must be at least 1, not 0."),
  (
    ["train", "--verbose", "99"],
    "--verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), not 99."
  ),
  (
    ["train", "--learning-rate", "nan"], "--learning-rate must be a finite number above 0, not nan."
  ),
  (["predict", "missing.strata", "--count=-3"], "--count must be at least 1, not -3."),
])
func badOptionsAreClearErrors(arguments: [String], message: String) throws {
  try #require(FileManager.default.isExecutableFile(atPath: strataBinary().path))
  let (status, _, error) = try runStrata(arguments)
  #expect(status != 0)
  #expect(error.contains(message), "\(error)")
  #expect(!error.contains("Fatal error") && !error.contains("Backtrace"))
}

@Test func badFilesOnTheCommandLineAreClearErrors() throws {
  try #require(FileManager.default.isExecutableFile(atPath: strataBinary().path))
  let directory = temporaryURL("cli").deletingLastPathComponent()
  // --model naming a directory.
  var (status, _, error) = try runStrata(["train", "--model", directory.path])
  #expect(
    status == 1
      && error
        == "error: \(directory.path): is a directory, not a model file or a JSON model config\n",
    "\(error)")
  // --checkpoint-dir naming a file: refused before training.
  let file = directory.appendingPathComponent("not-a-directory")
  try Data("x".utf8).write(to: file)
  (status, _, error) = try runStrata([
    "train", "--limit", "100", "--epochs", "1", "--checkpoint-dir", file.path,
  ])
  #expect(
    status == 1 && error == "error: \(file.path): is a file; --checkpoint-dir needs a directory\n",
    "\(error)")
  // An IDX header whose dimensions overflow.
  let data = directory.appendingPathComponent("idx")
  try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
  let images: [UInt8] = [
    0, 0, 8, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 2, 1, 2,
  ]
  for name in ["train-images-idx3-ubyte", "t10k-images-idx3-ubyte"] {
    try Data(images).write(to: data.appendingPathComponent(name))
  }
  for name in ["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"] {
    try Data([0, 0, 8, 1, 0, 0, 0, 1, 3]).write(to: data.appendingPathComponent(name))
  }
  (status, _, error) = try runStrata(["train", "--data", data.path])
  #expect(
    status == 1 && error.contains("has impossible dimensions [4294967295, 4294967295, 2]"),
    "\(error)")
  // A model file that is not one.
  (status, _, error) = try runStrata(["evaluate", file.path])
  #expect(
    status == 1
      && error == "error: \(file.path): is too short to be a model file (1 bytes)\n",
    "\(error)")
}

/// `strata predict` with a model of 5 outputs (it trapped on any count but 10) picks among its 5 classes.
@Test func predictWorksForAnyNumberOfOutputs() throws {
  try #require(FileManager.default.isExecutableFile(atPath: strataBinary().path))
  let (x, y) = try fashionSlice(300)
  let labels = Tensor(y.scalars.map { Float(Int($0) % 5) })
  let model = try Sequential(
    [
      Flatten(inputShape: [28, 28]), Dense(16, activation: "relu"), Dense(5, activation: "softmax"),
    ], seed: 3)
  try model.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  try model.fit(x, labels, batchSize: 32, epochs: 1, verbose: 0)
  let url = temporaryURL("five.strata")
  try model.save(to: url)
  let (status, output, error) = try runStrata(["predict", url.path, "--count", "4"])
  #expect(status == 0, "\(error)")
  let lines = output.split(separator: "\n")
  #expect(lines.count == 5 && lines.last!.hasSuffix("/4 correct"), "\(output)")
  // Each guess is the model's own argmax among 5 classes, named by Fashion-MNIST's first 5 names.
  let predictions = try model.predict(try fashionTestSlice(4))
  for i in 0..<4 {
    let row = (0..<5).map { predictions[i, $0] }
    let guess = row.indices.max { row[$0] < row[$1] }!
    #expect(lines[i].hasPrefix("\(i): \(FashionMNIST.classNames[guess]) (actually "), "\(lines[i])")
  }
}

func fashionTestSlice(_ count: Int) throws -> Tensor {
  let (_, test) = try FashionMNIST.load()
  return test.prefix(count).normalizedImages()
}
