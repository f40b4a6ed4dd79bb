import Foundation
import Strata
import StrataCore
import StrataData

extension Train {
  /// Trains any model on a user's own `.npy` arrays (`--x`, `--y`, optionally `--validation-x` and
  /// `--validation-y`): token ids for a text model, sequences, tables. The loss, when not given,
  /// follows the model's output and the labels: one sigmoid unit and 0/1 labels get
  /// `binary_crossentropy`, several units and whole-number labels one per sample
  /// `sparse_categorical_crossentropy` (both with accuracy), anything else `mse`.
  func trainOnArrays(x xPath: String, y yPath: String, _ communicator: any Communicator) throws {
    let x = try NumPyArray.read(URL(fileURLWithPath: xPath))
    let y = try NumPyArray.read(URL(fileURLWithPath: yPath))
    try checkArgument(
      x.rank >= 1 && y.rank >= 1 && x.shape[0] == y.shape[0], owner: "strata",
      argument: "--y", value: "\(y.shape[0]) samples for the \(x.shape[0]) of --x",
      expected: "one label (row) per sample of --x")
    var validation: (Tensor, Tensor)?
    if let validationX, let validationY {
      let vx = try NumPyArray.read(URL(fileURLWithPath: validationX))
      let vy = try NumPyArray.read(URL(fileURLWithPath: validationY))
      try checkArgument(
        vx.rank >= 1 && vy.rank >= 1 && vx.shape[0] == vy.shape[0], owner: "strata",
        argument: "--validation-y",
        value: "\(vy.shape[0]) samples for the \(vx.shape[0]) of --validation-x",
        expected: "one label (row) per sample of --validation-x")
      validation = (vx, vy)
    }
    try fitArrays(
      x, y, validation: validation, source: URL(fileURLWithPath: xPath).lastPathComponent,
      communicator)
  }

  /// Trains on CSV columns (`--csv`, `--label`, optionally `--features` and `--validation-csv`):
  /// the features as numbers, the label column as numbers or class names.
  func trainOnCSV(_ path: String, _ communicator: any Communicator) throws {
    let table = try CSVTable(contentsOf: URL(fileURLWithPath: path))
    let label = self.label ?? table.header.last ?? ""
    let features = self.features.map { $0.split(separator: ",").map(String.init) }
    let (x, y, classNames) = try table.columns(label: label, features: features)
    var validation: (Tensor, Tensor)?
    if let validationCSV {
      let other = try CSVTable(contentsOf: URL(fileURLWithPath: validationCSV))
      try checkArgument(
        other.header == table.header, owner: "strata", argument: "--validation-csv",
        value: "columns \(other.header)", expected: "the columns of --csv, \(table.header)")
      let (vx, vy, names) = try other.columns(label: label, features: features)
      if let classNames, names.map({ Set($0).isSubset(of: classNames) }) != true {
        throw StrataError.invalidArgument(
          owner: "strata", argument: "--validation-csv", value: "labels \(names ?? [])",
          expected: "the classes of --csv, \(classNames)")
      }
      // Class names index the same way in both files.
      let remapped = try names.map { names in
        try Tensor(
          shape: vy.shape,
          scalars: vy.scalars.map { Float(classNames!.firstIndex(of: names[Int($0)])!) })
      }
      validation = (vx, remapped ?? vy)
    }
    Console.line(
      "Read \(x.shape[0]) rows of \(x.shape[1]) features from \(path); label '\(label)'"
        + (classNames.map { ": \($0.count) classes \($0)" } ?? ""))
    try fitArrays(
      x, y, validation: validation, source: URL(fileURLWithPath: path).lastPathComponent,
      communicator)
  }

  /// Builds, compiles (unless resumed) and fits the model on arrays, then saves and plots.
  func fitArrays(
    _ x: Tensor, _ y: Tensor, validation: (Tensor, Tensor)?, source: String,
    _ communicator: any Communicator
  ) throws {
    let network =
      try resume.map { try loadModel(from: URL(fileURLWithPath: $0)) } ?? makeModel()
    network.kernels = try Registries.shared.kernels.make(backend)
    network.communicator = communicator
    try network.build(inputShape: Array(x.shape.dropFirst()))
    network.summary()
    if resume == nil || network.optimizer == nil {
      let output = network.modelOutputShapes?.first ?? []
      let wholeNumbers = y.scalars.allSatisfy { $0 == $0.rounded() && $0 >= 0 }
      let labels = y.rank == 1 || (y.rank == 2 && y.shape[1] == 1)
      let guess: (loss: String, metrics: [String]) =
        output == [1] && labels && y.scalars.allSatisfy({ $0 == 0 || $0 == 1 })
        ? ("binary_crossentropy", ["accuracy"])
        : output.count == 1 && output[0] > 1 && labels && wholeNumbers
          ? ("sparse_categorical_crossentropy", ["accuracy"]) : ("mse", [])
      try network.compile(
        optimizer: try Registries.shared.optimizers.make(
          optimizer ?? "adam",
          config: learningRate.map { ["learning_rate": .double(Double($0))] } ?? [:]),
        loss: loss ?? guess.loss, metrics: loss == nil ? guess.metrics : [])
    }
    let verbosity = verbose.map { Verbosity(integerLiteral: $0) } ?? .auto
    let history = try network.fit(
      x, y, batchSize: batchSize ?? 32, epochs: epochs ?? 1, verbose: verbosity,
      validationData: noValidation ? nil : validation,
      validationSplit: noValidation || validation != nil ? 0 : (validationSplit ?? 0),
      callbacks: tensorboard.map { [TensorBoard($0)] } ?? [])
    let finals = history.history.keys.sorted().compactMap { key in
      history[key]?.last.map { "\(key) " + String(format: "%.4f", $0) }
    }
    Console.line(
      "Trained \(history.epochs.count) epochs on \(x.shape[0]) samples: "
        + finals.joined(separator: ", "))
    let isRankZero = communicator.rank == 0
    if let save, isRankZero {
      try network.save(to: URL(fileURLWithPath: save))
      Console.line("Saved the model to \(save)")
    }
    if let plot, isRankZero {
      try history.writeSVG(
        to: URL(fileURLWithPath: plot),
        title: "\(model) on \(source)")
    }
  }
}
