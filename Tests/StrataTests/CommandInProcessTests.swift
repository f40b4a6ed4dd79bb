import Foundation
import Strata
import StrataCommandLine
import StrataData
import StrataTesting
import Testing

/// Runs the `strata` command in this process: what it prints, what it reports as errors, its exit code.
func runCommand(_ arguments: [String]) -> (output: String, errors: String, exitCode: Int32) {
  let output = PrintedText(), errors = PrintedText()
  var exitCode: Int32 = 0
  Console.$sink.withValue({ output.append($0) }) {
    Console.$errorSink.withValue({ errors.append($0) }) {
      do {
        var command = try StrataCommand.parseAsRoot(arguments)
        try command.run()
      } catch {
        exitCode = StrataCommand.exitCode(for: error).rawValue
        let message = StrataCommand.message(for: error)
        if !message.isEmpty { errors.append(message + "\n") }
      }
    }
  }
  return (output.value, errors.value, exitCode)
}

/// The numbers after `name: ` in printed text, in order.
func printedValues(_ name: String, in text: String) -> [Float] {
  text.components(separatedBy: "\(name): ").dropFirst().compactMap {
    Float($0.prefix { "0123456789.-e".contains($0) })
  }
}

/// The main job end to end: train with --save and --plot, train further with --resume, then evaluate
/// and predict the saved model; every printed number checked against the library's own results.
@Test func trainSaveResumeEvaluatePredict() throws {
  let directory = temporaryURL("cli").deletingLastPathComponent()
  let saved = directory.appendingPathComponent("mlp.strata").path,
    plot = directory.appendingPathComponent("curves.svg").path
  let first = runCommand([
    "train", "--limit", "300", "--epochs", "2", "--verbose", "2", "--save", saved, "--plot", plot,
    "--seed", "3",
  ])
  #expect(first.exitCode == 0, "\(first.errors)")
  #expect(first.output.contains("Model: \"sequential\"") && first.output.contains("Epoch 2/2"))
  #expect(first.output.contains("Saved the model to \(saved)"))
  let model = try Sequential.load(from: URL(fileURLWithPath: saved))
  // 270 of 300 images (30 validate), batch 32: 9 steps an epoch.
  #expect(model.optimizer?.iterations == 2 * 9)
  // The test-set line is evaluate's.
  let (_, test) = try FashionMNIST.load()
  let logs = try model.evaluate(test.normalizedImages(), test.labelTensor(), verbose: 0)
  #expect(
    printedValues("Test accuracy", in: first.output) == [
      Float(String(format: "%.4f", logs["accuracy"]!))!
    ])
  // The curves: an SVG and a CSV with a row per epoch.
  let csv = try String(
    contentsOfFile: directory.appendingPathComponent("curves.csv").path, encoding: .utf8)
  #expect(csv.split(separator: "\n").count == 3, "\(csv)")
  #expect(try String(contentsOfFile: plot, encoding: .utf8).hasPrefix("<svg"))
  // Five sample predictions, each the model's argmax.
  let predictions = try model.predict(test.prefix(5).normalizedImages())
  for i in 0..<5 {
    let row = (0..<10).map { predictions[i, $0] }
    let guess = row.indices.max { row[$0] < row[$1] }!
    #expect(
      first.output.contains(
        "Test image \(i): predicted \(FashionMNIST.classNames[guess]), actually \(FashionMNIST.classNames[Int(test.labels[i])])"
      ))
  }

  let resumed = runCommand([
    "train", "--resume", saved, "--limit", "300", "--epochs", "1", "--verbose", "0", "--save",
    saved,
  ])
  #expect(resumed.exitCode == 0, "\(resumed.errors)")
  // 18 + 9 steps.
  #expect(try Sequential.load(from: URL(fileURLWithPath: saved)).optimizer?.iterations == 27)

  let evaluation = runCommand(["evaluate", saved])
  #expect(evaluation.exitCode == 0, "\(evaluation.errors)")
  let again = try Sequential.load(from: URL(fileURLWithPath: saved))
  let expected = try again.evaluate(test.normalizedImages(), test.labelTensor(), verbose: 0)
  #expect(
    printedValues("accuracy", in: evaluation.output).last == Float(
      String(format: "%.4f", expected["accuracy"]!))!)
  #expect(
    printedValues("loss", in: evaluation.output).last == Float(
      String(format: "%.4f", expected["loss"]!))!)

  let prediction = runCommand(["predict", saved, "--count", "3"])
  #expect(prediction.exitCode == 0, "\(prediction.errors)")
  #expect(
    prediction.output.split(separator: "\n").count == 4 && prediction.output.contains("/3 correct"))
}

/// The tutorial CNN (a channel axis added to the images), a model from a JSON file, and the reference
/// backend, each for one short epoch; then checkpoints and the resume message.
@Test func otherModelsBackendsAndCheckpoints() throws {
  let directory = temporaryURL("cli-models").deletingLastPathComponent()
  let cnn = runCommand([
    "train", "--model", "cnn", "--limit", "64", "--epochs", "1", "--verbose", "0",
    "--no-validation",
  ])
  #expect(cnn.exitCode == 0, "\(cnn.errors)")
  #expect(cnn.output.contains("conv2d (Conv2D)") && cnn.output.contains("Training: "))
  let json = directory.appendingPathComponent("model.json")
  try Data(
    #"[{"class_name": "Flatten", "config": {"input_shape": [28, 28]}}, {"class_name": "Dense", "config": {"units": 10, "activation": "softmax"}}]"#
      .utf8
  )
  .write(to: json)
  let fromJSON = runCommand([
    "train", "--model", json.path, "--limit", "64", "--epochs", "1", "--verbose", "0", "--backend",
    "reference", "--no-validation",
  ])
  #expect(fromJSON.exitCode == 0, "\(fromJSON.errors)")
  #expect(fromJSON.output.contains("Total params: 7,850"))
  let checkpoints = directory.appendingPathComponent("ck").path
  let arguments = [
    "train", "--limit", "64", "--epochs", "2", "--verbose", "0", "--no-validation",
    "--checkpoint-dir", checkpoints,
  ]
  #expect(runCommand(arguments).exitCode == 0)
  #expect(
    FileManager.default.fileExists(atPath: checkpoints + "/epoch-01.strata")
      && FileManager.default.fileExists(atPath: checkpoints + "/epoch-02.strata"))
  #expect(!FileManager.default.fileExists(atPath: checkpoints + "/backup/backup.strata"))
  // A backup left by a run that stopped after epoch 1 of 2: the next run says where it goes on from.
  let model = try Sequential.load(from: URL(fileURLWithPath: checkpoints + "/epoch-01.strata"))
  let backup = BackupAndRestore(checkpoints + "/backup")
  backup.onEpochEnd(0, logs: [:], model: model)
  let rerun = runCommand(arguments)
  #expect(
    rerun.output.contains("Resumed from the backup in \(checkpoints)/backup at epoch 2"),
    "\(rerun.output)")
}

/// `--images`: class folders of generated PNGs, binary labels for a one-unit model, a held-out fifth.
@Test func trainsOnImageFoldersFromTheCommandLine() throws {
  let root = temporaryURL("cli-images").deletingLastPathComponent().appendingPathComponent(
    "folders")
  for (name, value) in [("dark", 30), ("light", 220)] {
    let folder = root.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    for i in 0..<5 {
      try pngData(width: 8, height: 8, channels: 1) { _, _ in [UInt8(value + i)] }.write(
        to: folder.appendingPathComponent("\(i).png"))
    }
  }
  let json = root.deletingLastPathComponent().appendingPathComponent("binary.json")
  try Data(
    #"[{"class_name": "Flatten", "config": {"input_shape": [8, 8, 3]}}, {"class_name": "Dense", "config": {"units": 1, "activation": "sigmoid"}}]"#
      .utf8
  )
  .write(to: json)
  let saved = root.deletingLastPathComponent().appendingPathComponent("binary.strata").path
  let run = runCommand([
    "train", "--images", root.path, "--model", json.path, "--epochs", "2", "--verbose", "0",
    "--save", saved, "--plot", saved + ".svg",
  ])
  #expect(run.exitCode == 0, "\(run.errors)")
  let plot = try String(contentsOfFile: saved + ".svg", encoding: .utf8)
  #expect(plot.hasPrefix("<svg") && plot.contains("folders"), "\(plot.prefix(200))")
  #expect(
    run.output.contains(
      "Found 10 images of 2 classes [\"dark\", \"light\"]: 8 for training, 2 for validation"),
    "\(run.output)")
  #expect(
    try Sequential.load(from: URL(fileURLWithPath: saved)).loss?.identifier == "binary_crossentropy"
  )
  // A model whose input is not images is refused, naming --images.
  let flat = runCommand(["train", "--images", root.path, "--epochs", "1"])
  #expect(
    flat.exitCode == 1
      && flat.errors.contains("strata: invalid --images with a model taking (None, 28, 28)"),
    "\(flat.errors)")
}

/// Bad options and files, in-process: the same messages as the command prints.
@Test func badCommandLinesInProcess() throws {
  for (arguments, message) in [
    (["train", "--limit=-5"], "--limit must be at least 1, not -5."),
    (
      ["train", "--verbose", "99"],
      "--verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), not 99."
    ),
    (["predict", "x", "--count", "0"], "--count must be at least 1, not 0."),
    (
      ["train", "--model", "/nonexistent.json"],
      "strata: invalid --model '/nonexistent.json'; expected mlp, cnn, deep-mnist, horses-or-humans, resnet-small, sequential-mnist, word-language, word-transformer, a model file or an existing JSON file."
    ),
    (["evaluate", "/nonexistent.strata"], "/nonexistent.strata: no such file"),
    (
      ["train", "--data", "/nonexistent-dir", "--epochs", "1"],
      "/nonexistent-dir/train-images-idx3-ubyte.gz: not found."
    ),
    (
      ["train", "--optimizer", "adamm", "--limit", "10", "--epochs", "1"],
      "Unknown optimizer identifier 'adamm'. Did you mean 'adam', 'adamw'?"
    ),
    (
      ["train", "--x", "x.npy", "--y", "y.npy", "--validation-x", "vx.npy"],
      "--validation-x and --validation-y go together, with --x and --y."
    ),
    (
      ["train", "--x", "x.npy", "--y", "y.npy", "--images", "folder"],
      "--x trains on arrays and --images on a folder: give one of them."
    ),
    (["train", "--fine-tune-at", "3"], "--fine-tune-at and --fine-tune-epochs need --base."),
    (
      ["train", "--base", "base.keras", "--images", "folder", "--fine-tune-at=-2"],
      "--fine-tune-at must be a layer index ≥ 0, not -2."
    ),
    (
      ["train", "--validation-split", "1.5"],
      "--validation-split must be a fraction from 0 (no validation) up to 1, not 1.5."
    ),
  ] {
    let run = runCommand(arguments)
    #expect(run.exitCode != 0, "\(arguments)")
    #expect(run.errors.contains(message), "\(arguments): \(run.errors)")
  }
}

/// A model whose input does not fit what the command feeds it is refused, naming the option and
/// the model's input: Fashion-MNIST's 28x28 images, an image folder, a transfer-learning base.
@Test func commandsRefuseModelsOfTheWrongInput() throws {
  let directory = temporaryURL("wrong-input").deletingLastPathComponent()
  let tabular = try Sequential([Input(shape: [10]), Dense(2, activation: "softmax")])
  try tabular.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
  let saved = directory.appendingPathComponent("tabular.strata")
  try tabular.save(to: saved)
  let folder = try makeImageFolder(["a": [10, 10, 10], "b": [200, 200, 200]], perClass: 2)
  for (arguments, message) in [
    (["evaluate", saved.path], "strata: invalid model with input (None, 10)"),
    (
      ["evaluate", saved.path, "--images", folder.path],
      "strata: invalid --images with a model taking (None, 10)"
    ),
    (
      ["train", "--base", saved.path, "--images", folder.path, "--epochs", "1"],
      "strata: invalid --base '\(saved.path)' taking (None, 10)"
    ),
  ] {
    let run = runCommand(arguments)
    #expect(run.exitCode != 0, "\(arguments)")
    #expect(run.errors.contains(message), "\(arguments): \(run.errors)")
  }
}

/// The commands on an image folder: train with --images and --validation-split, then evaluate and
/// predict the saved model on the folder.
@Test func commandsOnImageFolders() throws {
  let root = temporaryURL("folders").deletingLastPathComponent().appendingPathComponent("images")
  var generator = SeededGenerator(seed: 8)
  // Two classes told apart by brightness, 28x28 gray, 40 images each.
  let count = 80
  var pixels: [UInt8] = []
  var labels: [Int] = []
  for i in 0..<count {
    let label = i % 2
    labels.append(label)
    pixels += (0..<784).map { _ in
      UInt8(clamping: (label == 0 ? 60 : 190) + Int.random(in: -40...40, using: &generator))
    }
  }
  try ImageFolder.export(
    pixels: pixels, shape: [count, 28, 28, 1], labels: labels, classNames: ["dark", "light"],
    to: root)
  let model = temporaryURL("folder-model.strata").path
  let trained = runCommand([
    "train", "--model", "cnn", "--images", root.path, "--epochs", "12", "--batch-size", "8",
    "--validation-split", "0.25",
    "--verbose", "2", "--save", model, "--seed", "2",
  ])
  #expect(trained.exitCode == 0, "\(trained.errors)")
  #expect(
    trained.output.contains(
      "Found 80 images of 2 classes [\"dark\", \"light\"]: 60 for training, 20 for validation"),
    "\(trained.output)")
  #expect(trained.output.contains("val_accuracy"))
  let evaluated = runCommand(["evaluate", model, "--images", root.path])
  #expect(evaluated.exitCode == 0, "\(evaluated.errors)")
  let accuracy = printedValues("accuracy", in: evaluated.output).last ?? 0
  #expect(accuracy > 0.9, "\(evaluated.output)")
  let predicted = runCommand(["predict", model, "--images", root.path])
  #expect(predicted.exitCode == 0, "\(predicted.errors)")
  #expect(predicted.output.contains("light/") && predicted.output.contains("Accuracy: "))
  #expect(
    predicted.output.contains(String(format: "Accuracy: %.4f", accuracy)), "\(predicted.output)")
  // A corrupt image is reported by name.
  let broken = root.appendingPathComponent("dark").appendingPathComponent("broken.png")
  try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0]).write(to: broken)
  let failed = runCommand(["evaluate", model, "--images", root.path])
  #expect(failed.exitCode != 0 && failed.errors.contains("broken.png"), "\(failed.errors)")
}

/// `strata export-images DIR --data D`: each image of a small Fashion-MNIST-shaped set becomes a PNG
/// in its class folder, and the folders read back hold the same pixels and labels.
@Test func exportImagesWritesClassFoldersThatReadBack() throws {
  let data = temporaryURL("idx").deletingLastPathComponent()
  func idx(_ shape: [Int], _ bytes: [UInt8]) -> Data {
    Data(
      [0, 0, 8, UInt8(shape.count)]
        + shape.flatMap { withUnsafeBytes(of: UInt32($0).bigEndian, Array.init) } + bytes)
  }
  let pixels = (0..<(3 * 28 * 28)).map { UInt8($0 % 251) }
  for prefix in ["train", "t10k"] {
    try idx([3, 28, 28], pixels).write(
      to: data.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
    try idx([3], [9, 0, 9]).write(to: data.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
  }
  let target = temporaryURL("png").deletingLastPathComponent()
  let result = runCommand(["export-images", target.path, "--data", data.path])
  #expect(result.exitCode == 0, "\(result.errors)")
  #expect(result.output.contains("Wrote 6 PNG images"), "\(result.output)")
  let folder = try ImageFolder.load(
    from: target.appendingPathComponent("train"), imageSize: (28, 28), colorMode: .grayscale,
    shuffle: false)
  // Every class has its folder, named as Fashion-MNIST names it ('/' made '-'), sorted as Keras sorts.
  #expect(
    folder.classNames == [
      "Ankle boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker", "T-shirt-top",
      "Trouser",
    ])
  #expect(folder.count == 3)
  // Labels 9, 0, 9 are "Ankle boot" (0 in sorted order) twice and "T-shirt-top" (8) once.
  #expect(folder.labels.scalars.sorted() == [0, 0, 8])
  // Every image's pixels come back exactly (PNG is lossless), whatever the files' order.
  let images = folder.images.scalars
  for image in 0..<3 {
    let row = Array(images[(image * 784)..<((image + 1) * 784)])
    #expect(
      row == pixels[0..<784].map(Float.init) || row == pixels[784..<1568].map(Float.init)
        || row == pixels[1568...].map(Float.init))
  }
  // A missing data directory is an error naming it.
  let missing = runCommand(["export-images", target.path, "--data", "/nonexistent"])
  #expect(missing.exitCode != 0 && missing.errors.contains("/nonexistent"))
}

/// `strata train --model JSON --x ids.npy --y labels.npy`: a sequence model trains from the command
/// line on the user's own arrays, validates on a second pair, and saves with its integer input.
@Test func trainOnArraysFromTheCommandLine() throws {
  let directory = temporaryURL("arrays")
  try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
  defer { try? FileManager.default.removeItem(at: directory) }
  var generator = SeededGenerator(seed: 4)
  func arrays(_ count: Int) throws -> (Tensor, Tensor) {
    var ids: [Float] = [], labels: [Float] = []
    for _ in 0..<count {
      let row = (0..<8).map { _ in Float(1 + Int(generator.nextUniform() * 9) % 9) }
      ids += row
      labels.append(row.contains(5) ? 1 : 0)
    }
    return (
      try Tensor(shape: [count, 8], scalars: ids), try Tensor(shape: [count], scalars: labels)
    )
  }
  let (x, y) = try arrays(96), (vx, vy) = try arrays(32)
  for (name, tensor) in [("x", x), ("y", y), ("vx", vx), ("vy", vy)] {
    try NumPyArray.write(tensor, to: directory.appendingPathComponent("\(name).npy"))
  }
  let model = directory.appendingPathComponent("model.json")
  try Data(
    """
    [{"class_name": "InputLayer", "config": {"batch_shape": [null, 8], "dtype": "int32"}},
     {"class_name": "Embedding", "config": {"input_dim": 10, "output_dim": 6}},
     {"class_name": "GRU", "config": {"units": 8}},
     {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]
    """.utf8
  ).write(to: model)
  let saved = directory.appendingPathComponent("text.keras")
  func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
  let run = runCommand([
    "train", "--model", model.path, "--x", path("x.npy"), "--y", path("y.npy"),
    "--validation-x", path("vx.npy"), "--validation-y", path("vy.npy"), "--epochs", "3",
    "--verbose", "0", "--save", saved.path, "--plot", path("history.svg"),
  ])
  #expect(run.exitCode == 0, "\(run)")
  let plot = try String(contentsOfFile: path("history.svg"), encoding: .utf8)
  #expect(plot.hasPrefix("<svg") && plot.contains("x.npy"), "\(plot.prefix(200))")
  #expect(run.output.contains("Trained 3 epochs on 96 samples"), "\(run.output)")
  #expect(run.output.contains("val_accuracy") && run.output.contains("loss"), "\(run.output)")
  let loaded = try loadModel(from: saved)
  #expect((loaded as? Sequential)?.inputDType == "int32")
  #expect(try loaded.predict(vx).shape == [32, 2])
  // One of the pair alone is refused before anything runs.
  let alone = runCommand(["train", "--x", path("x.npy")])
  #expect(alone.exitCode != 0 && alone.errors.contains("--y"), "\(alone)")
  let mismatched = runCommand([
    "train", "--model", model.path, "--x", path("x.npy"), "--y", path("vy.npy"), "--verbose", "0",
  ])
  #expect(mismatched.exitCode != 0 && mismatched.errors.contains("32 samples"), "\(mismatched)")
}

/// word-language trains from the command line on a slice of the word lists and saves; the test
/// words it prints are predicted as the saved model predicts them (release-checks.sh trains it
/// longer, and sequential-mnist, with the release binary).
@Test func wordLanguageSeedTrains() throws {
  let saved = temporaryURL("words").appendingPathExtension("keras")
  let words = runCommand([
    "train", "--model", "word-language", "--limit", "600", "--epochs", "1", "--verbose", "0",
    "--seed", "2", "--save", saved.path,
  ])
  #expect(words.exitCode == 0, "\(words.errors)")
  #expect(words.output.contains("Found 30000 words of 5 languages"))
  #expect(words.output.contains("600 for training, 6000 for testing"))
  let accuracy = try #require(printedValues("Test accuracy", in: words.output).first)
  #expect(accuracy > 0.2 && accuracy < 1)
  // "Test word 'schlaffster': predicted german, actually german"
  let lines = words.output.split(separator: "\n").filter { $0.hasPrefix("Test word '") }
  #expect(lines.count == 5)
  let listed = lines.map { $0.split(separator: "'")[1] }.map(String.init)
  let (train, _) = try WordLanguages.load()
  let vectorize = try TextVectorization(
    maxTokens: 64, standardize: nil, split: "character", outputSequenceLength: 16)
  try vectorize.adapt(train.words)
  let probabilities = try loadModel(from: saved).predict(try vectorize(listed))
  for (row, line) in lines.enumerated() {
    let scores = (0..<5).map { probabilities[row, $0] }
    let guess = scores.indices.max { scores[$0] < scores[$1] }!
    #expect(line.contains("predicted \(WordLanguages.languages[guess].name),"), "\(line)")
  }
}

/// `strata train --csv` on a table of two numeric features and a named label (which side of a
/// line a point lies), validated on a second file: it learns the rule.
@Test func trainsOnCSVColumns() throws {
  let directory = temporaryURL("csv").deletingLastPathComponent()
  func table(_ rows: Int, seed: UInt64) -> String {
    var generator = SeededGenerator(seed: seed)
    var lines = ["x,y,side"]
    for _ in 0..<rows {
      let (a, b) = (generator.nextUniform() * 2 - 1, generator.nextUniform() * 2 - 1)
      lines.append("\(a),\(b),\(a + b > 0 ? "above" : "below")")
    }
    return lines.joined(separator: "\n")
  }
  let train = directory.appendingPathComponent("train.csv")
  let validation = directory.appendingPathComponent("validation.csv")
  try table(400, seed: 1).write(to: train, atomically: true, encoding: .utf8)
  try table(100, seed: 2).write(to: validation, atomically: true, encoding: .utf8)
  let model = directory.appendingPathComponent("model.json")
  try
    #"[{"class_name": "InputLayer", "config": {"batch_shape": [null, 2]}}, {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]"#
    .write(to: model, atomically: true, encoding: .utf8)
  let run = runCommand([
    "train", "--model", model.path, "--csv", train.path, "--label", "side", "--validation-csv",
    validation.path, "--epochs", "20", "--learning-rate", "0.05", "--verbose", "0",
  ])
  #expect(run.exitCode == 0, "\(run.errors)")
  #expect(run.output.contains("Read 400 rows of 2 features"))
  #expect(run.output.contains("label 'side': 2 classes [\"above\", \"below\"]"))
  // "Trained 20 epochs on 400 samples: accuracy 0.9750, …, val_accuracy 0.9700, val_loss …"
  let accuracy = try #require(
    run.output.components(separatedBy: "val_accuracy ").dropFirst().first.flatMap {
      Float($0.prefix { "0123456789.".contains($0) })
    })
  #expect(accuracy > 0.9, "\(run.output)")
  // A validation file with a class the training file does not have is refused, naming both.
  let unseen = directory.appendingPathComponent("unseen.csv")
  try "x,y,side\n0.5,0.5,above\n0.1,0.2,sideways\n".write(
    to: unseen, atomically: true, encoding: .utf8)
  let refused = runCommand([
    "train", "--model", model.path, "--csv", train.path, "--label", "side", "--validation-csv",
    unseen.path, "--epochs", "1", "--verbose", "0",
  ])
  #expect(refused.exitCode != 0)
  #expect(
    refused.errors.contains("invalid --validation-csv labels")
      && refused.errors.contains("sideways"),
    "\(refused.errors)")
}
