import ArgumentParser
import Foundation
import Strata
import StrataData
import StrataKeras  // linked: it reads the .keras files

/// The Keras application families `bench` times when their `.keras` files are in the applications
/// directory (`Benchmarks/peers/applications_bench.py --write DIR` writes them with Keras).
let applicationFamilies = [
  "ResNet50", "DenseNet121", "InceptionV3", "VGG16", "MobileNetV2", "EfficientNetB0",
]

/// `bench --application-worker FAMILY:BATCH --applications DIR`, started by ``applicationRows(_:)``
/// in its own process so that the peak memory it reports is the row's own: loads `DIR/FAMILY.keras`,
/// predicts one batch as a warm-up, then prints the fastest of 3 passes over 2 batches (10 images at
/// batch 1) in ms per image and the process' peak resident memory in MB, as JSON.
func applicationWorker(_ argument: String, directory: String) throws {
  let parts = argument.split(separator: ":")
  guard parts.count == 2, let batch = Int(parts[1]), batch > 0 else {
    throw ValidationError("--application-worker takes FAMILY:BATCH, not \(argument)")
  }
  let family = String(parts[0])
  let model = try loadModel("\(directory)/\(family).keras")
  let sample = try NumPyArray.read(URL(fileURLWithPath: "\(directory)/\(family).npy"))
  let count = batch == 1 ? 10 : 2 * batch
  let rowSize = sample.count / sample.shape[0]
  var x = Tensor(shape: [count] + sample.shape.dropFirst())
  x.withUnsafeMutableBufferPointer { destination in
    sample.withUnsafeBufferPointer { source in
      for row in 0..<count {
        let from = (row % sample.shape[0]) * rowSize
        (destination.baseAddress! + row * rowSize).update(
          from: source.baseAddress! + from, count: rowSize)
      }
    }
  }
  _ = try model.predict(x.slice(rows: 0..<batch), batchSize: batch)
  let seconds = try measure(runs: 3, best: true) {
    _ = try model.predict(x, batchSize: batch)
  }
  let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
  let peakKB =
    status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
    .flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
  print("{\"ms\": \(seconds * 1e3 / Double(count)), \"peakMB\": \(peakKB / 1024)}")
}

/// Inference of the Keras application models at batch 1 and 32: ms per image and peak memory, each
/// row in a process of its own. Families whose file is missing are skipped (with a note once).
func applicationRows(_ options: Options) -> [Row] {
  let directory = options.applications
  var rows: [Row] = []
  var warned = false
  for family in applicationFamilies {
    for batch in [1, 32] where options.wantsAny("infer \(family) b\(batch)") {
      guard FileManager.default.fileExists(atPath: "\(directory)/\(family).keras") else {
        if !warned {
          FileHandle.standardError.write(
            Data(
              "note: no application models in \(directory): write them with Benchmarks/peers/applications_bench.py --write \(directory)\n"
                .utf8))
          warned = true
        }
        continue
      }
      let process = Process()
      process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
      process.arguments = [
        "--application-worker", "\(family):\(batch)", "--applications", directory,
      ]
      let pipe = Pipe()
      process.standardOutput = pipe
      guard (try? process.run()) != nil else { continue }
      let output = pipe.fileHandleForReading.readDataToEndOfFile()
      process.waitUntilExit()
      guard process.terminationStatus == 0,
        let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last,
        let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Double],
        let ms = record["ms"], let peak = record["peakMB"]
      else {
        FileHandle.standardError.write(Data("infer \(family) b\(batch): the worker failed\n".utf8))
        continue
      }
      rows.append(
        Row(
          name: "infer \(family) b\(batch)", backend: "cpu",
          shape: "224x224" + (family == "InceptionV3" ? " (299)" : ""),
          milliseconds: ms, rate: 1e3 / ms, unit: "images/s", ofPeak: nil, overDirect: nil,
          validated: nil, note: String(format: "ms per image, peak %.0f MB", peak)))
    }
  }
  return rows
}
