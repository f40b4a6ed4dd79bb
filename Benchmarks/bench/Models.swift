import Foundation
import Strata
import StrataData
import StrataSeedModels

func seedModel(_ name: String) throws -> Model { try SeedModel(rawValue: name)!.make(seed: 1) }

func compileSeed(_ model: Model, _ name: String) throws {
  try SeedModel(rawValue: name)!.compile(model)
}

func modelRows(_ options: Options, runs: Int) throws -> [Row] {
  var rows: [Row] = []
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(options.quick ? 3_200 : 12_800)
  let images = data.normalizedImages(), labels = data.labelTensor()
  for (name, batch) in [("mlp", 32), ("cnn", 32), ("deep-mnist", 50), ("resnet-small", 32)] {
    let model = try seedModel(name)
    let x = name == "mlp" ? images : try images.reshaped(to: [images.shape[0], 28, 28, 1])
    if options.wantsAny("train \(name) b\(batch)") {
      try compileSeed(model, name)
      let steps =
        options.quick
        ? (name == "deep-mnist" || name == "resnet-small" ? 20 : 50)
        : (name == "deep-mnist" ? 120 : name == "cnn" ? 300 : name == "resnet-small" ? 150 : 400)
      rows.append(
        try trainingRow(
          "train \(name) b\(batch)", model, x: x.slice(rows: 0..<(steps * batch)),
          y: labels.slice(rows: 0..<(steps * batch)), batch: batch, steps: steps))
    }
    for inferenceBatch in [1, 32, 1024]
    where options.wantsAny("predict \(name) b\(inferenceBatch)") {
      let count = inferenceBatch == 1 ? (options.quick ? 100 : 1000) : (options.quick ? 1024 : 4096)
      let sample = x.slice(rows: 0..<count)
      let seconds = try measure(runs: runs) {
        _ = try model.predict(sample, batchSize: inferenceBatch)
      }
      rows.append(
        Row(
          name: "predict \(name) b\(inferenceBatch)", backend: "cpu", shape: "\(count) samples",
          milliseconds: seconds * 1e3 / Double(count) * Double(inferenceBatch),
          rate: Double(count) / seconds, unit: "samples/s", ofPeak: nil, overDirect: nil,
          validated: nil, note: "ms per batch"))
    }
  }
  return rows
}

/// A training row: the fastest of 3 epochs of `steps` steps of `model` (compiled) on `x`, `y`.
func trainingRow(
  _ name: String, _ model: Model, x: Tensor, y: Tensor, batch: Int, steps: Int, note: String = ""
) throws -> Row {
  let seconds =
    try measure(runs: 3, best: true) {
      try model.fit(x, y, batchSize: batch, epochs: 1, verbose: 0, shuffle: false)
    } / Double(steps)
  return Row(
    name: name, backend: "cpu", shape: "\(steps) steps", milliseconds: seconds * 1e3,
    rate: Double(batch) / seconds, unit: "samples/s", ofPeak: nil, overDirect: nil,
    validated: nil, note: String(format: "%.0f steps/s", 1 / seconds) + note)
}

/// Seconds since this process started, from the kernel's record of its start time.
func secondsSinceProcessStart() -> Double? {
  guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
    let uptimeText = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
    let uptime = Double(uptimeText.split(separator: " ").first ?? "")
  else { return nil }
  // Field 22 (after the command name in parentheses) is the start time in clock ticks since boot.
  let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
  guard fields.count > 19, let ticks = Double(fields[19]) else { return nil }
  return uptime - ticks / Double(sysconf(Int32(_SC_CLK_TCK)))
}

/// `bench --first-step`: load the data, build the MLP, run one training step, print the seconds since start.
func firstStep() throws {
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(32)
  let model = try seedModel("mlp")
  try compileSeed(model, "mlp")
  try model.fit(data.normalizedImages(), data.labelTensor(), batchSize: 32, epochs: 1, verbose: 0)
  print(secondsSinceProcessStart() ?? -1)
}

/// Runs `bench --first-step` in a child process: the time from process start to a finished step.
func firstStepRow() -> Row? {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
  process.arguments = ["--first-step"]
  let pipe = Pipe()
  process.standardOutput = pipe
  guard (try? process.run()) != nil else { return nil }
  process.waitUntilExit()
  let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
  guard let seconds = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), seconds > 0
  else { return nil }
  return Row(
    name: "first training step mlp", backend: "cpu", shape: "process start",
    milliseconds: seconds * 1e3, rate: seconds, unit: "s",
    ofPeak: nil, overDirect: nil, validated: nil,
    note: "loads Fashion-MNIST (60k gzipped images) first")
}
