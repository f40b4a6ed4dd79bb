import Foundation
import StrataCore
import StrataData
import StrataTesting
import Testing

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
