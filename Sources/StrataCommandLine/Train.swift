import ArgumentParser
import Foundation
import Strata
import StrataData
import StrataMPI
import StrataSeedModels

/// `strata train` (the default): build or load a model, train it, evaluate it.
public struct Train: ParsableCommand {
  /// A new instance, with nothing cached yet.
  public init() {}
  /// The command's name and help text.
  public static let configuration = CommandConfiguration(
    abstract: "Build a model from string identifiers, train it, and evaluate it on the test set.")

  @Option(
    help:
      "A tutorial model (mlp, cnn, deep-mnist, horses-or-humans, resnet-small, sequential-mnist: an LSTM over Fashion-MNIST's rows, word-language: the language of a word from Debian's word lists, word-transformer: the same with a Transformer block), a model file (.strata, Keras' .keras or legacy .h5) or a JSON file of Keras layer records or a Keras functional config."
  )
  var model = "mlp"

  @Option(
    help:
      "Epochs to train (mlp: 5, cnn: 2, deep-mnist: 1, sequential-mnist: 2, word-language and word-transformer: 8)."
  )
  var epochs: Int?

  @Option(
    name: .customLong("batch-size"),
    help: "Samples per training step (mlp and cnn: 32, deep-mnist: 50).")
  var batchSize: Int?

  @Option(help: "An optimizer identifier (adam, sgd, rmsprop, …).")
  var optimizer: String?

  @Option(
    name: .customLong("learning-rate"),
    help: "The optimizer's learning rate (deep-mnist: 1e-4, else its Keras default).")
  var learningRate: Float?

  @Option(help: "The loss identifier (the tutorial's when not given).")
  var loss: String?

  @Option(
    help:
      "The compute backend, one of the registered kernels backends: \(Registries.shared.kernels.identifiers.joined(separator: ", ")) (cpu: OpenBLAS, oneDNN and SIMD)."
  )
  var backend = "cpu"

  @Option(help: "Seed for initial weights, dropout and shuffling.")
  var seed: UInt64 = 42

  @Option(help: "The directory holding the Fashion-MNIST IDX files.")
  var data = FashionMNIST.defaultDirectory.path

  @Option(
    help:
      "For word-language: the directory of Debian's word lists (american-english, ngerman, french, spanish, italian)."
  )
  var words = WordLanguages.defaultDirectory.path

  @Option(
    help:
      "Train on images from class folders (one subdirectory per class, PNG or JPEG) instead of Fashion-MNIST; 20% are held out for validation."
  )
  var images: String?

  @Option(
    help:
      "Transfer learning: a base model file (a Keras application saved with include_top=False, or any model with one image input) to train a new classifier on, frozen, with --images."
  )
  var base: String?

  @Option(
    help:
      "With --base: how pixels are scaled before the base: tf (to [-1, 1]: MobileNet, Xception, Inception, NASNet, ResNetV2), torch (DenseNet) or none (EfficientNet, ConvNeXt)."
  )
  var preprocess = "tf"

  @Option(
    name: .customLong("fine-tune-at"),
    help:
      "With --base: after training the classifier, unfreeze the base's layers from this index on and fine-tune them with a tenth of the learning rate."
  )
  var fineTuneAt: Int?

  @Option(
    name: .customLong("fine-tune-epochs"),
    help: "With --fine-tune-at: epochs of fine-tuning (as many as --epochs when not given).")
  var fineTuneEpochs: Int?

  @Option(
    help:
      "Train on your own arrays: a NumPy .npy file of inputs, batch first (token ids, sequences, rows), with --y."
  )
  var x: String?

  @Option(help: "With --x: a NumPy .npy file of labels or targets, one per sample.")
  var y: String?

  @Option(
    name: .customLong("validation-x"), help: "With --x: inputs to validate on after each epoch.")
  var validationX: String?

  @Option(name: .customLong("validation-y"), help: "With --validation-x: their labels or targets.")
  var validationY: String?

  @Option(
    help:
      "Train on the columns of a CSV file with a header row: the features numbers, the label column (--label) numbers or class names."
  )
  var csv: String?

  @Option(help: "With --csv: the label column (the last one when not given).")
  var label: String?

  @Option(
    help: "With --csv: the feature columns, comma-separated (all but the label when not given).")
  var features: String?

  @Option(
    name: .customLong("validation-csv"),
    help: "With --csv: a CSV file of the same columns to validate on.")
  var validationCSV: String?

  @Option(help: "Train on the first N training images only (all when not given).")
  var limit: Int?

  @Option(help: "0: silent, 1: progress bar, 2: one line per epoch (default: a bar on a terminal).")
  var verbose: Int?

  @Flag(name: .customLong("no-validation"), help: "Do not validate after each epoch.")
  var noValidation = false

  @Option(
    name: .customLong("validation-split"),
    help:
      "The fraction of the training data held out to validate on after each epoch (Fashion-MNIST: 0.1, the last samples, as Keras' validation_split; --images: 0.2, as image_dataset_from_directory). The test set is evaluated once, at the end."
  )
  var validationSplit: Float?

  @Option(help: "Save the trained model to this file (architecture, weights, optimizer state).")
  var save: String?

  @Option(
    name: .customLong("checkpoint-dir"),
    help:
      "Back up the run after every epoch and save epoch-NN.strata checkpoints here; a run started again with the same command resumes after the last finished epoch."
  )
  var checkpointDir: String?

  @Option(
    help:
      "Go on training a model saved with --save (its optimizer state included), instead of a new one."
  )
  var resume: String?

  @Option(help: "Draw the learning curves to this SVG file (and write them as CSV beside it).")
  var plot: String?

  @Option(help: "Write TensorBoard logs (train/ and validation/ runs) into this directory.")
  var tensorboard: String?

  /// Refuses options out of range before anything runs.
  public func validate() throws {
    try requireAtLeastOne(epochs, "--epochs")
    try requireAtLeastOne(batchSize, "--batch-size")
    try requireAtLeastOne(limit, "--limit")
    try requireAtLeastOne(fineTuneEpochs, "--fine-tune-epochs")
    if base != nil && images == nil {
      throw ValidationError("--base trains a classifier on images: give --images DIR too.")
    }
    if (x == nil) != (y == nil) {
      throw ValidationError(
        "--x and --y go together: inputs and their labels, as NumPy .npy files.")
    }
    if (validationX == nil) != (validationY == nil) || (validationX != nil && x == nil) {
      throw ValidationError("--validation-x and --validation-y go together, with --x and --y.")
    }
    if x != nil && images != nil {
      throw ValidationError("--x trains on arrays and --images on a folder: give one of them.")
    }
    if base == nil && (fineTuneAt != nil || fineTuneEpochs != nil) {
      throw ValidationError("--fine-tune-at and --fine-tune-epochs need --base.")
    }
    if ImagePreprocessing(rawValue: preprocess) == nil {
      throw ValidationError(
        "--preprocess must be one of \(ImagePreprocessing.allCases.map(\.rawValue).joined(separator: ", ")), not '\(preprocess)'."
      )
    }
    if let fineTuneAt, fineTuneAt < 0 {
      throw ValidationError("--fine-tune-at must be a layer index ≥ 0, not \(fineTuneAt).")
    }
    if let verbose, !(0...2).contains(verbose) {
      throw ValidationError(
        "--verbose must be 0 (silent), 1 (progress bar) or 2 (one line per epoch), not \(verbose).")
    }
    if let learningRate, !(learningRate.isFinite && learningRate > 0) {
      throw ValidationError("--learning-rate must be a finite number above 0, not \(learningRate).")
    }
    if let validationSplit, !(validationSplit >= 0 && validationSplit < 1) {
      throw ValidationError(
        "--validation-split must be a fraction from 0 (no validation) up to 1, not \(validationSplit)."
      )
    }
  }

  func makeModel() throws -> Model {
    if let seedModel = SeedModel(rawValue: model) { return try seedModel.make(seed: seed) }
    let url = URL(fileURLWithPath: model)
    try checkArgument(
      FileManager.default.fileExists(atPath: url.path),
      owner: "strata", argument: "--model", value: "'\(model)'",
      expected:
        SeedModel.allCases.map(\.rawValue).joined(separator: ", ")
        + ", a model file or an existing JSON file"
    )
    let data = try readUntrustedFile(url, kind: "a model file or a JSON model config")
    if ModelFileFormat(bytes: data.prefix(8)) != nil { return try loadModel(from: url) }
    return try Model.make(json: data, seed: seed)
  }

  /// Runs the command, printing errors as one line. Started by `mpirun`, every rank trains its share
  /// of each batch (Docs/Distributed.md); rank 0 alone prints and writes files.
  public func run() throws {
    let communicator: any Communicator =
      MPICommunicator.isLaunchedByMPIRun ? try MPICommunicator() : SingleProcess()
    try reportingErrors(on: communicator) {
      // A rank is a process: the others' standard output is off for good (not a task-local sink,
      // whose push crashed optimized builds on every rank but the first).
      if communicator.rank != 0 { Console.isSilenced = true }
      try train(communicator)
    }
  }

  /// Trains on an image folder: sizes from the model's input, binary labels for one output unit.
  func trainOnImages(_ directory: String, _ communicator: any Communicator) throws {
    let network =
      try resume.map { try loadModel(from: URL(fileURLWithPath: $0)) } ?? makeModel()
    network.kernels = try Registries.shared.kernels.make(backend)
    network.communicator = communicator
    let isRankZero = communicator.rank == 0
    guard let shape = network.modelInputShapes?.first, shape.count == 3 else {
      throw StrataError.invalidArgument(
        owner: "strata", argument: "--images",
        value:
          "with a model taking \(network.modelInputShapes?.first.map { kerasShape($0) } ?? "no fixed shape")",
        expected: "a model whose input is images (height, width, channels)")
    }
    try network.build(inputShape: shape)
    let binary = network.modelOutputShapes?.first == [1]
    let url = URL(fileURLWithPath: directory)
    let color: ImageFolder.ColorMode = shape[2] == 1 ? .grayscale : .rgb
    // Streamed: files listed once, batches decoded in the background while the previous one trains.
    let split = noValidation ? 0 : (validationSplit ?? 0.2)
    func folder(_ subset: ImageFolder.Subset?) throws -> ImageFolderDataset {
      try ImageFolderDataset(
        directory: url, imageSize: (shape[0], shape[1]), colorMode: color,
        labelMode: binary ? .binary : .int, rescale: 1.0 / 255, seed: seed,
        validationSplit: subset == nil ? nil : split, subset: subset)
    }
    let train = try folder(split > 0 ? .training : nil)
    let validation = split > 0 ? try folder(.validation) : nil
    Console.line(
      "Found \(train.count + (validation?.count ?? 0)) images of \(train.classNames.count) classes \(train.classNames): \(train.count) for training, \(validation?.count ?? 0) for validation"
    )
    network.summary()
    if resume == nil || network.optimizer == nil, let tutorial = SeedModel(rawValue: model) {
      // A tutorial model keeps its own loss (the CNN's logits, horses-or-humans' sigmoid).
      try tutorial.compile(
        network, optimizer: optimizer ?? (tutorial == .horsesOrHumans ? "rmsprop" : "adam"),
        learningRate: learningRate, loss: loss)
    } else if resume == nil || network.optimizer == nil {
      try network.compile(
        optimizer: try Registries.shared.optimizers.make(
          optimizer ?? (binary ? "rmsprop" : "adam"),
          config: learningRate.map { ["learning_rate": .double(Double($0))] } ?? [:]),
        loss: loss ?? (binary ? "binary_crossentropy" : "sparse_categorical_crossentropy"),
        metrics: ["accuracy"])
    }
    let verbosity = verbose.map { Verbosity(integerLiteral: $0) } ?? .auto
    let history = try network.fit(
      train, batchSize: batchSize ?? 32, epochs: epochs ?? SeedModel.horsesOrHumans.epochs,
      verbose: verbosity, validationData: validation.flatMap { $0.count > 0 ? $0 : nil },
      callbacks: tensorboard.map { [TensorBoard($0)] } ?? [])
    if let save, isRankZero { try network.save(to: URL(fileURLWithPath: save)) }
    if let plot, isRankZero {
      try history.writeSVG(
        to: URL(fileURLWithPath: plot), title: "\(model) on \(url.lastPathComponent)")
    }
  }

  func train(_ communicator: any Communicator = SingleProcess()) throws {
    if let images, let base { return try transferLearn(base: base, images: images, communicator) }
    if let images { return try trainOnImages(images, communicator) }
    if let x, let y { return try trainOnArrays(x: x, y: y, communicator) }
    if let csv { return try trainOnCSV(csv, communicator) }
    if [SeedModel.wordLanguage, .wordTransformer].contains(SeedModel(rawValue: model)) {
      return try trainOnWords(communicator)
    }
    // The model and the options first: a bad one is reported before the data set is read.
    let network =
      try resume.map { try loadModel(from: URL(fileURLWithPath: $0)) } ?? makeModel()
    network.kernels = try Registries.shared.kernels.make(backend)
    network.communicator = communicator
    // Distributed, rank 0 alone writes files (fit runs the file-writing callbacks on rank 0 only).
    let isRankZero = communicator.rank == 0
    if communicator.size > 1 {
      Console.line(
        "Training on \(communicator.size) processes: global batch \(batchSize ?? (SeedModel(rawValue: model) ?? .mlp).batchSize), shared among them"
      )
    }
    if let checkpointDir {
      try BackupAndRestore(
        URL(fileURLWithPath: checkpointDir).appendingPathComponent("backup").path
      ).checkParent()
    }
    let (trainSet, testSet) = try FashionMNIST.load(from: URL(fileURLWithPath: data))
    let training = limit.map { trainSet.prefix($0) } ?? trainSet
    // The images stay bytes, converted batch by batch (a quarter of Float32's memory); gray images
    // get the channel axis a CNN expects, as the tutorials' `x[..., None]`.
    let sampleShape = network.modelInputShapes?.first == [28, 28, 1] ? [28, 28, 1] : [28, 28]
    let all = try ByteImages(training, sampleShape: sampleShape)
    let testData = try ByteImages(testSet, sampleShape: sampleShape)
    // Validation on the last samples of the training data, as Keras' validation_split; the test set
    // is evaluated once, at the end.
    let held = Int(Float(all.count) * (noValidation ? 0 : (validationSplit ?? 0.1)))
    let trainData = all.rows(0..<(all.count - held))
    let validation = held > 0 ? all.rows((all.count - held)..<all.count) : nil
    try network.build(inputShape: sampleShape)
    network.summary()
    let tutorial = SeedModel(rawValue: model) ?? .mlp
    let epochs = self.epochs ?? tutorial.epochs, batchSize = self.batchSize ?? tutorial.batchSize
    if resume == nil || network.optimizer == nil {
      try tutorial.compile(
        network, optimizer: optimizer ?? "adam", learningRate: learningRate, loss: loss)
    }
    var callbacks: [any Callback] = []
    var backup: BackupAndRestore?
    if let checkpointDir {
      // The backup outlives fit: it is deleted once the final model and plots are written, so a run
      // killed before then resumes instead of training again from the first epoch.
      let directory = URL(fileURLWithPath: checkpointDir)
      let backupCallback = BackupAndRestore(
        directory.appendingPathComponent("backup").path, deleteCheckpoint: false)
      try backupCallback.checkDirectory()
      backup = backupCallback
      callbacks += [
        ModelCheckpoint(directory.appendingPathComponent("epoch-{epoch:02d}.strata").path),
        backupCallback,
      ]
    }
    if let tensorboard { callbacks.append(TensorBoard(tensorboard)) }
    let verbosity = verbose.map { Verbosity(integerLiteral: $0) } ?? .auto
    let start = ContinuousClock.now
    let history = try network.fit(
      trainData, batchSize: batchSize, epochs: epochs, verbose: verbosity,
      validationData: validation, callbacks: callbacks)
    if let backup, let epoch = backup.restoredEpoch {
      Console.line(
        epoch < epochs
          ? "Resumed from the backup in \(backup.directory.path) at epoch \(epoch + 1)"
          : "Restored the backup in \(backup.directory.path): all \(epochs) epochs had finished")
    }
    let elapsed = ContinuousClock.now - start
    let logs = try network.evaluate(testData, verbose: verbosity)
    let trainedEpochs = history.epochs.count
    let steps = trainedEpochs * ((trainData.count + batchSize - 1) / batchSize)
    let seconds =
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    Console.line(
      String(
        format: "Test accuracy: %.4f  Test loss: %.4f", logs["accuracy"] ?? 0, logs["loss"] ?? 0))
    if let save, isRankZero {
      try network.save(to: URL(fileURLWithPath: save))
      Console.line("Saved the model to \(save)")
    }
    if let plot, isRankZero {
      let url = URL(fileURLWithPath: plot)
      try history.writeSVG(to: url, title: "\(model) on Fashion-MNIST")
      try history.writeCSV(to: url.deletingPathExtension().appendingPathExtension("csv"))
      Console.line(
        "Wrote the learning curves to \(plot) and \(url.deletingPathExtension().appendingPathExtension("csv").path)"
      )
    }
    if isRankZero { try backup?.deleteBackup() }
    let sample = min(5, testData.count)
    let predictions = try network.predict(testData.rows(0..<sample))
    for i in 0..<sample {
      let guess = predictedClass(predictions, row: i)
      Console.line(
        "Test image \(i): predicted \(className(guess)), actually \(className(Int(testSet.labels[i])))"
      )
    }
    if trainedEpochs > 0 {
      Console.line(
        String(
          format: "Training: %.1f s for %d epochs, %.2f s/epoch, %.3f ms/step", seconds,
          trainedEpochs,
          seconds / Double(trainedEpochs), seconds * 1000 / Double(max(steps, 1)))
          + (validation == nil ? "" : " (validation included)"))
    }
  }
}
