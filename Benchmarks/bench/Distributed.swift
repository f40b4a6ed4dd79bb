import Foundation
import Strata
import StrataData
import StrataMPI

/// `bench --mpi-worker NAME --steps N`, started by ``distributedRows(_:)`` under `mpirun`: trains the
/// seed model NAME for N steps of its global batch (after a short warm-up) and, on rank 0, prints the
/// seconds per step.
func mpiWorker(_ name: String, steps: Int) throws {
  let communicator = try MPICommunicator()
  let batch = name == "deep-mnist" ? 50 : 32
  let warmUp = 3
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix((steps + warmUp) * batch)
  let images = data.normalizedImages(), labels = data.labelTensor()
  let x = try images.reshaped(to: [images.shape[0], 28, 28, 1])
  let model = try seedModel(name)
  try compileSeed(model, name)
  model.communicator = communicator
  let warm = 0..<(warmUp * batch), timed = (warmUp * batch)..<((warmUp + steps) * batch)
  try model.fit(x.slice(rows: warm), labels.slice(rows: warm), batchSize: batch, verbose: 0)
  try communicator.barrier()
  let start = ContinuousClock.now
  try model.fit(
    x.slice(rows: timed), labels.slice(rows: timed), batchSize: batch, verbose: 0, shuffle: false)
  try communicator.barrier()
  let elapsed = ContinuousClock.now - start
  let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
  if communicator.rank == 0 { print(seconds / Double(steps)) }
}

/// Open MPI's launcher, if installed.
let mpirunPath = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

/// Seconds per step of `name` trained by `processes` ranks of one compute thread each, or `nil`
/// when mpirun is missing or fails.
func secondsPerStep(_ name: String, processes: Int, steps: Int) -> Double? {
  guard let mpirun = mpirunPath else { return nil }
  let process = Process()
  process.executableURL = URL(fileURLWithPath: mpirun)
  process.arguments =
    (getuid() == 0 ? ["--allow-run-as-root"] : []) + [
      "--bind-to", "none", "-np", "\(processes)", "-x", "OMP_NUM_THREADS=1", "-x",
      "OPENBLAS_NUM_THREADS=1", CommandLine.arguments[0], "--mpi-worker", name, "--steps",
      "\(steps)",
    ]
  let pipe = Pipe()
  process.standardOutput = pipe
  guard (try? process.run()) != nil else { return nil }
  let output = pipe.fileHandleForReading.readDataToEndOfFile()
  process.waitUntilExit()
  guard process.terminationStatus == 0 else { return nil }
  return Double(
    String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
}

/// Data-parallel training throughput: the CNN and the Deep MNIST CNN on 1 process x 1 thread and
/// 2 processes x 1 thread (`mpirun`), at the same global batch, and the scaling efficiency.
func distributedRows(_ options: Options) -> [Row] {
  var rows: [Row] = []
  for (name, batch) in [("cnn", 32), ("deep-mnist", 50)]
  where options.wantsAny("distributed \(name)") {
    let steps = options.quick ? 20 : (name == "cnn" ? 300 : 60)
    var rates: [Int: Double] = [:]
    for processes in [1, 2] {
      guard let seconds = secondsPerStep(name, processes: processes, steps: steps) else {
        FileHandle.standardError.write(
          Data("warning: mpirun (Open MPI) missing or failed: no distributed rows\n".utf8))
        return rows
      }
      rates[processes] = Double(batch) / seconds
      rows.append(
        Row(
          name: "distributed \(name) b\(batch) \(processes)x1", backend: "cpu",
          shape: "\(steps) steps", milliseconds: seconds * 1e3, rate: Double(batch) / seconds,
          unit: "samples/s", ofPeak: nil, overDirect: nil, validated: nil,
          note:
            "\(processes) process\(processes == 1 ? "" : "es") x 1 thread, global batch \(batch)"))
    }
    let speedup = rates[2]! / rates[1]!
    rows.append(
      Row(
        name: "distributed \(name) scaling 2x1", backend: "cpu", shape: "2 vs 1 process",
        milliseconds: 1e3 * Double(batch) / rates[2]!, rate: speedup, unit: "x", ofPeak: nil,
        overDirect: nil, validated: nil,
        note: String(
          format: "efficiency %.0f%% (2 processes ≥ 1.8x is the target)", speedup / 2 * 100)))
  }
  return rows
}
