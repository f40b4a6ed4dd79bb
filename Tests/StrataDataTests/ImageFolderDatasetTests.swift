import Foundation
import Strata
import StrataCore
import StrataData
import Testing

/// A class-folder tree of images whose pixels depend on the class, the image and the position, in
/// sizes that need resizing.
func makeVariedImageFolder(classes: Int, perClass: Int) throws -> URL {
  let root = FileManager.default.temporaryDirectory.appendingPathComponent(
    "varied-\(UUID().uuidString)")
  for c in 0..<classes {
    let directory = root.appendingPathComponent("class\(c)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    for i in 0..<perClass {
      let (width, height) = (9 + (i % 4), 7 + (i % 3))
      try pngData(width: width, height: height, channels: 3) { x, y in
        [UInt8((x * 20 + c * 60) % 256), UInt8((y * 30 + i * 7) % 256), UInt8((x * y + c) % 256)]
      }.write(to: directory.appendingPathComponent("\(i).png"))
    }
  }
  return root
}

@Suite("Streaming image folders")
struct ImageFolderDatasetTests {
  @Test("batches are those of loading everything at once, prefetched or not")
  func matchesInMemoryLoading() throws {
    let root = try makeVariedImageFolder(classes: 3, perClass: 7)
    for labelMode in [ImageFolder.LabelMode.int, .categorical] {
      let loaded = try ImageFolder.load(
        from: root, imageSize: (8, 6), labelMode: labelMode, rescale: 1 / 255, seed: 5,
        validationSplit: 0.25, subset: .training)
      let streaming = try ImageFolderDataset(
        directory: root, imageSize: (8, 6), labelMode: labelMode, rescale: 1 / 255, seed: 5,
        validationSplit: 0.25, subset: .training)
      #expect(streaming.count == loaded.count && streaming.files == loaded.files)
      #expect(streaming.classNames == loaded.classNames)
      var batch = streaming.makeBatch(capacity: 4)
      let orders: [[Int]] = [[0, 1, 2, 3], [7, 2, 9], [15, 14, 13, 12], [5]]
      for (step, indices) in orders.enumerated() {
        try streaming.gather(indices, into: &batch)
        if step + 1 < orders.count { streaming.prefetch(orders[step + 1]) }
        let rows = indices.map { $0 }
        let sampleSize = 8 * 6 * 3
        let expected = rows.flatMap {
          Array(loaded.images.scalars[($0 * sampleSize)..<(($0 + 1) * sampleSize)])
        }
        #expect(batch.x[0].shape == [indices.count, 8, 6, 3])
        #expect(batch.x[0].scalars == expected, "step \(step)")
        let width = labelMode == .int ? 1 : 3
        let labels = rows.flatMap {
          Array(loaded.labels.scalars[($0 * width)..<(($0 + 1) * width)])
        }
        #expect(batch.y[0].scalars == labels)
      }
    }
  }

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

extension ImageFolderDatasetTests {
  @Test("exported PNG class folders read back as the same pixels and labels")
  func exportRoundTrips() throws {
    var generator = SeededGenerator(seed: 4)
    for channels in [1, 3] {
      let shape = [12, 5, 7, channels]
      let pixels = (0..<shape.reduce(1, *)).map { _ in UInt8.random(in: 0...255, using: &generator)
      }
      let labels = (0..<12).map { $0 % 3 }
      let root = FileManager.default.temporaryDirectory.appendingPathComponent(
        "export-\(UUID().uuidString)")
      let written = try ImageFolder.export(
        pixels: pixels, shape: shape, labels: labels, classNames: ["a/b", "c", "d"], to: root)
      #expect(written == 12)
      let loaded = try ImageFolder.load(
        from: root, imageSize: (5, 7), colorMode: channels == 1 ? .grayscale : .rgb, shuffle: false)
      #expect(loaded.classNames == ["a-b", "c", "d"])
      // Files sort by class, then by index: image i of class c is the i-th of that class.
      let order = (0..<12).sorted { (labels[$0], $0) < (labels[$1], $1) }
      let size = 5 * 7 * channels
      var expectedPixels: [Float] = []
      for i in order {
        for value in pixels[(i * size)..<((i + 1) * size)] { expectedPixels.append(Float(value)) }
      }
      let expectedLabels: [Float] = order.map { Float(labels[$0]) }
      #expect(loaded.images.scalars == expectedPixels)
      #expect(loaded.labels.scalars == expectedLabels)
    }
    #expect(throws: StrataError.self) {
      try ImageFolder.export(
        pixels: [1, 2, 3], shape: [1, 1, 1, 3], labels: [5], classNames: ["a"],
        to: URL(fileURLWithPath: "/tmp"))
    }
  }
}

extension ImageFolderDatasetTests {
  @Test("JPEG export reads back within JPEG's loss")
  func jpegExport() throws {
    // A smooth gradient: what JPEG keeps well.
    var pixels: [UInt8] = []
    for image in 0..<4 {
      for y in 0..<16 {
        for x in 0..<16 {
          pixels += [UInt8(x * 8 + image * 20), UInt8(y * 8), UInt8(128)]
        }
      }
    }
    let root = FileManager.default.temporaryDirectory.appendingPathComponent(
      "jpeg-\(UUID().uuidString)")
    try ImageFolder.export(
      pixels: pixels, shape: [4, 16, 16, 3], labels: [0, 1, 0, 1], classNames: ["a", "b"], to: root,
      jpegQuality: 95)
    let loaded = try ImageFolder.load(from: root, imageSize: (16, 16), shuffle: false)
    #expect(loaded.files.allSatisfy { $0.pathExtension == "jpg" })
    let order = [0, 2, 1, 3]  // class a's images, then class b's
    let size = 16 * 16 * 3
    var worst: Float = 0
    for (position, image) in order.enumerated() {
      for i in 0..<size {
        worst = max(
          worst, abs(loaded.images.scalars[position * size + i] - Float(pixels[image * size + i])))
      }
    }
    #expect(worst < 12, "largest difference \(worst)")
    #expect(throws: StrataError.self) {
      try ImageFolder.export(
        pixels: pixels, shape: [4, 16, 16, 3], labels: [0, 1, 0, 1], classNames: ["a", "b"],
        to: root,
        jpegQuality: 0)
    }
  }
}
