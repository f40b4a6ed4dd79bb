import Foundation
import Strata
import StrataData

/// Image-folder rows: Fashion-MNIST's test images exported as PNG class folders, decoded by
/// `ImageFolderDataset` (images/s), and the tutorial CNN trained from the folder against the same
/// images from memory (the data pipeline's overhead per step).
func imageRows(_ options: Options) throws -> [Row] {
  guard options.backend == "all",
    options.wants("images decode", backend: "all")
      || options.wants("train cnn from png", backend: "all")
  else { return [] }
  var rows: [Row] = []
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "strata-bench-images-\(getpid())")
  defer { try? FileManager.default.removeItem(at: directory) }
  let (_, test) = try FashionMNIST.load()
  let count = options.quick ? 2_000 : test.count
  let part = test.prefix(count)
  try ImageFolder.export(
    pixels: part.images.bytes, shape: [count, 28, 28, 1], labels: part.labels.map(Int.init),
    classNames: FashionMNIST.classNames, to: directory)
  let folder = try ImageFolderDataset(
    directory: directory, imageSize: (28, 28), colorMode: .grayscale, rescale: 1.0 / 255, seed: 1)
  if options.wants("images decode", backend: "all") {
    var batch = folder.makeBatch(capacity: 32)
    let seconds = try measure(runs: options.quick ? 1 : 3) {
      var start = 0
      while start < count {
        let end = min(start + 32, count)
        try folder.gather(start..<end, into: &batch)
        start = end
      }
    }
    rows.append(
      Row(
        name: "images decode fashion png", backend: "cpu", shape: "\(count) 28x28 PNGs",
        milliseconds: seconds * 1e3 / Double(count), rate: Double(count) / seconds,
        unit: "images/s", ofPeak: nil, overDirect: nil, validated: nil,
        note: "ms per image; decoded on \(ProcessInfo.processInfo.activeProcessorCount) threads"))
  }
  if options.wants("train cnn from png", backend: "all") {
    let steps = count / 32
    let model = try seedModel("cnn")
    try compileSeed(model, "cnn")
    let loaded = try ImageFolder.load(
      from: directory, imageSize: (28, 28), colorMode: .grayscale, rescale: 1.0 / 255, seed: 1)
    let memory =
      try measure(runs: 1) {
        try model.fit(
          loaded.images, loaded.labels, batchSize: 32, epochs: 1, verbose: 0, shuffle: false)
      } / Double(steps)
    let streamed =
      try measure(runs: 1) {
        try model.fit(folder, batchSize: 32, epochs: 1, verbose: 0, shuffle: false)
      } / Double(steps)
    rows.append(
      Row(
        name: "train cnn from png folder b32", backend: "cpu", shape: "\(steps) steps",
        milliseconds: streamed * 1e3, rate: 32 / streamed, unit: "samples/s", ofPeak: nil,
        overDirect: nil, validated: nil,
        note: String(
          format: "%.2f ms/step from memory: %+.0f%% for decoding on the fly", memory * 1e3,
          (streamed / memory - 1) * 100)))
  }
  return rows
}
