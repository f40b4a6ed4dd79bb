import Foundation
import Strata
import StrataData

/// Image-folder rows: Fashion-MNIST's test images exported as PNG class folders, decoded by
/// `ImageFolderDataset` (images/s), and the tutorial CNN trained from the folder against the same
/// images from memory (the data pipeline's overhead per step).
func imageRows(_ options: Options) throws -> [Row] {
  guard options.wantsAny("images decode fashion png", "train cnn from png folder b32") else {
    return []
  }
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
  try decodeRow(
    "images decode fashion png", folder, shape: "\(count) 28x28 PNGs", options: options,
    note: "ms per image; decoded on \(ProcessInfo.processInfo.activeProcessorCount) threads",
    into: &rows)
  if options.wants("train cnn from png folder b32", backend: "all") {
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
    let streamed = try folderStepSeconds(model, folder)
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

/// 300x300 colour JPEGs (generated: smooth patterns and noise, like photographs to the codec):
/// decoding rate, and in the full run the horses-or-humans model trained from the folder.
func jpegRows(_ options: Options) throws -> [Row] {
  guard
    options.wantsAny("images decode 300x300 jpeg", "train horses-or-humans from jpeg folder b32")
  else { return [] }
  var rows: [Row] = []
  let count = options.quick ? 32 : 128
  var generator = SeededGenerator(seed: 3)
  var pixels = [UInt8](repeating: 0, count: count * 300 * 300 * 3)
  for image in 0..<count {
    let tone = image % 2 == 0 ? 90.0 : 160.0
    for y in 0..<300 {
      for x in 0..<300 {
        let base = tone + 40 * (sin(Double(x) / Double(20 + image % 7)) + cos(Double(y) / 15))
        for c in 0..<3 {
          let noise = Double(generator.nextUniform()) * 40 - 20
          pixels[((image * 300 + y) * 300 + x) * 3 + c] = UInt8(max(0, min(255, base + noise)))
        }
      }
    }
  }
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "strata-bench-jpeg-\(getpid())")
  defer { try? FileManager.default.removeItem(at: directory) }
  try ImageFolder.export(
    pixels: pixels, shape: [count, 300, 300, 3], labels: (0..<count).map { $0 % 2 },
    classNames: ["horses", "humans"], to: directory, jpegQuality: 90)
  let folder = try ImageFolderDataset(
    directory: directory, imageSize: (300, 300), labelMode: .binary, rescale: 1.0 / 255, seed: 1)
  try decodeRow(
    "images decode 300x300 jpeg", folder, shape: "\(count) JPEGs", options: options,
    note: "ms per image, resized to the model's 300x300 as Float32", into: &rows)
  if !options.quick, options.wants("train horses-or-humans from jpeg folder b32", backend: "all") {
    let model = try seedModel("horses-or-humans")
    try compileSeed(model, "horses-or-humans")
    let steps = count / 32, seconds = try folderStepSeconds(model, folder)
    rows.append(
      Row(
        name: "train horses-or-humans from jpeg folder b32", backend: "cpu",
        shape: "\(steps) steps",
        milliseconds: seconds * 1e3, rate: 32 / seconds, unit: "samples/s", ofPeak: nil,
        overDirect: nil, validated: nil,
        note: "300x300 JPEGs decoded while the previous batch trains"))
  }
  return rows
}

/// Seconds per step of one epoch of `model` trained from `folder` in batches of 32.
func folderStepSeconds(_ model: Model, _ folder: ImageFolderDataset) throws -> Double {
  try measure(runs: 1) {
    try model.fit(folder, batchSize: 32, epochs: 1, verbose: 0, shuffle: false)
  } / Double(folder.count / 32)
}

/// The row `name` (when asked for): the time to decode every image of `folder`, in batches of 32.
func decodeRow(
  _ name: String, _ folder: ImageFolderDataset, shape: String, options: Options, note: String,
  into rows: inout [Row]
) throws {
  guard options.wants(name, backend: "all") else { return }
  var batch = folder.makeBatch(capacity: 32)
  let count = folder.count
  let seconds = try measure(runs: options.quick ? 1 : 3) {
    for start in stride(from: 0, to: count, by: 32) {
      try folder.gather(start..<min(start + 32, count), into: &batch)
    }
  }
  rows.append(
    Row(
      name: name, backend: "cpu", shape: shape, milliseconds: seconds * 1e3 / Double(count),
      rate: Double(count) / seconds, unit: "images/s", ofPeak: nil, overDirect: nil,
      validated: nil, note: note))
}
