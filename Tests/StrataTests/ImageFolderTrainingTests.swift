import Foundation
import Strata
import StrataData
import StrataTesting
import Testing

// Models trained from image folders, and the errors a model's fit gives for bad folders and images.
// The readers on their own are tested in StrataDataTests, which links StrataData and not this
// umbrella.

@Suite struct ImageFolderDatasetTraining {
  @Test("fit and evaluate on the streaming dataset give the in-memory results")
  func trainsAsInMemory() throws {
    let root = try makeVariedImageFolder(classes: 2, perClass: 20)
    func model() throws -> Sequential {
      try Sequential(
        [
          Flatten(inputShape: [8, 6, 3]), Dense(8, activation: "relu"),
          Dense(2, activation: "softmax"),
        ],
        seed: 9)
    }
    let loaded = try ImageFolder.load(from: root, imageSize: (8, 6), rescale: 1 / 255, seed: 1)
    let streaming = try ImageFolderDataset(
      directory: root, imageSize: (8, 6), rescale: 1 / 255, seed: 1)
    let a = try model(), b = try model()
    for m in [a, b] {
      try m.compile(
        optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    }
    let historyA = try a.fit(loaded.images, loaded.labels, batchSize: 8, epochs: 3, verbose: 0)
    let historyB = try b.fit(streaming, batchSize: 8, epochs: 3, verbose: 0)
    #expect(a.weights == b.weights)
    #expect(historyA == historyB)
    #expect(
      try a.evaluate(loaded.images, loaded.labels, verbose: 0) == b.evaluate(streaming, verbose: 0))
    #expect(try b.predict(streaming).scalars == a.predict(loaded.images).scalars)
    // Never more than one batch decoded ahead.
    #expect(streaming.largestPrefetch <= 8)
  }

  @Test("a corrupt image is reported by name when its batch is read")
  func corruptImageIsNamed() throws {
    let root = try makeVariedImageFolder(classes: 2, perClass: 4)
    let bad = root.appendingPathComponent("class1").appendingPathComponent("broken.png")
    try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]).write(to: bad)
    let dataset = try ImageFolderDataset(directory: root, imageSize: (4, 4), shuffle: false)
    let index = try #require(dataset.files.firstIndex(of: bad))
    var batch = dataset.makeBatch(capacity: 2)
    dataset.prefetch([index])
    #expect {
      try dataset.gather([index], into: &batch)
    } throws: { error in
      guard case StrataError.file(let path, _) = error else { return false }
      return path == bad.path
    }
    let model = try Sequential([Flatten(inputShape: [4, 4, 3]), Dense(2, activation: "softmax")])
    try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy")
    #expect(throws: StrataError.self) {
      try model.fit(dataset, batchSize: 3, epochs: 1, verbose: 0)
    }
  }
}

@Suite struct ImageFolderTraining {
  /// The horses-or-humans workflow on generated images: class folders, binary labels, Rescaling, a small
  /// CNN with a sigmoid output trained with binary cross-entropy.
  @Test func trainsACNNOnImageFolders() throws {
    var generator = SeededGenerator(seed: 12)
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "stripes-\(UUID().uuidString)")
    for (name, vertical) in [("horizontal", false), ("vertical", true)] {
      let directory = root.appendingPathComponent(name)
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      for i in 0..<12 {
        let phase = Int(generator.next() % 4)
        try pngData(width: 16, height: 16, channels: 3) { x, y in
          let on = ((vertical ? x : y) + phase) % 4 < 2
          return on ? [230, 230, 230] : [20, 20, 20]
        }.write(to: directory.appendingPathComponent("\(i).png"))
      }
    }
    let data = try ImageFolder.load(from: root, imageSize: (12, 12), labelMode: .binary, seed: 1)
    let model = try Sequential(
      [
        Rescaling(1.0 / 255, inputShape: [12, 12, 3]),
        Conv2D(4, kernelSize: 3, activation: "relu"),
        MaxPooling2D(poolSize: 2),
        Flatten(),
        Dense(1, activation: "sigmoid"),
      ], seed: 3)
    try model.compile(
      optimizer: try Adam(learningRate: 0.02), loss: "binary_crossentropy", metrics: ["accuracy"])
    let history = try model.fit(data.images, data.labels, batchSize: 8, epochs: 25, verbose: 0)
    #expect(history["accuracy"]!.last! == 1, "\(history["accuracy"]!)")
    #expect(history["loss"]!.last! < history["loss"]!.first!)
  }
}
