import ArgumentParser
import Foundation
import Strata
import StrataData

extension Train {
  /// `strata train --base BASE --images DIR`: TensorFlow's transfer-learning tutorial. A classifier
  /// on the frozen base (``Model/classifier(on:classes:preprocessing:dropout:name:)``) trains on the
  /// images (Adam, learning rate 1e-4 unless given); with `--fine-tune-at N` the base's layers from
  /// N on are unfrozen and trained on with a tenth of the learning rate.
  func transferLearn(base path: String, images directory: String, _ communicator: any Communicator)
    throws
  {
    let base = try loadModel(from: URL(fileURLWithPath: path))
    guard let shape = base.modelInputShapes?.first, shape.count == 3 else {
      throw StrataError.invalidArgument(
        owner: "strata", argument: "--base",
        value:
          "'\(path)' taking \(base.modelInputShapes?.first.map { kerasShape($0) } ?? "no fixed shape")",
        expected: "a model whose input is images (height, width, channels)")
    }
    let url = URL(fileURLWithPath: directory)
    let split = noValidation ? 0 : (validationSplit ?? 0.2)
    func folder(_ subset: ImageFolder.Subset?, binary: Bool) throws -> ImageFolderDataset {
      try ImageFolderDataset(
        directory: url, imageSize: (shape[0], shape[1]),
        colorMode: shape[2] == 1 ? .grayscale : .rgb,
        labelMode: binary ? .binary : .int, rescale: 1, seed: seed,
        validationSplit: subset == nil ? nil : split, subset: subset)
    }
    let classes = try folder(nil, binary: false).classNames.count
    let binary = classes == 2
    let train = try folder(split > 0 ? .training : nil, binary: binary)
    let validation = split > 0 ? try folder(.validation, binary: binary) : nil
    Console.line(
      "Found \(train.count + (validation?.count ?? 0)) images of \(classes) classes \(train.classNames): \(train.count) for training, \(validation?.count ?? 0) for validation"
    )
    let model = try Model.classifier(
      on: base, classes: classes, preprocessing: ImagePreprocessing(rawValue: preprocess) ?? .tf)
    model.kernels = try Registries.shared.kernels.make(backend)
    model.communicator = communicator
    let rate = learningRate ?? 1e-4
    func compile(_ rate: Float) throws {
      try model.compile(
        optimizer: try Registries.shared.optimizers.make(
          optimizer ?? "adam", config: ["learning_rate": .double(Double(rate))]),
        loss: loss ?? (binary ? "binary_crossentropy" : "sparse_categorical_crossentropy"),
        metrics: ["accuracy"])
    }
    try compile(rate)
    model.summary()
    let verbosity = verbose.map { Verbosity(integerLiteral: $0) } ?? .auto
    let validationData = validation.flatMap { $0.count > 0 ? $0 : nil }
    let callbacks: [any Callback] = tensorboard.map { [TensorBoard($0)] } ?? []
    try model.fit(
      train, batchSize: batchSize ?? 32, epochs: epochs ?? 2, verbose: verbosity,
      validationData: validationData, callbacks: callbacks)
    if let fineTuneAt {
      try checkArgument(
        fineTuneAt < base.layers.count, owner: "strata", argument: "--fine-tune-at",
        value: "\(fineTuneAt)",
        expected: "a layer index below the base's \(base.layers.count) layers")
      base.trainable = true
      for layer in base.layers.prefix(fineTuneAt) { layer.trainable = false }
      try compile(rate / 10)
      Console.line(
        "Fine-tuning the base's layers \(fineTuneAt) to \(base.layers.count - 1): \(model.trainableParameters.reduce(0) { $0 + $1.count }) trainable parameters"
      )
      try model.fit(
        train, batchSize: batchSize ?? 32, epochs: fineTuneEpochs ?? epochs ?? 2,
        verbose: verbosity, validationData: validationData, callbacks: callbacks)
    }
    if let save, communicator.rank == 0 { try model.save(to: URL(fileURLWithPath: save)) }
  }
}
