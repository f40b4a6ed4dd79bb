import ArgumentParser
import Foundation
import Strata

/// `bench [filter] [--backend B] [--threads N] [--json] [--quick]`, parsed by swift-argument-parser.
/// Backend names are the kernels registry's (`reference`, `simd`, `blas`, `dnnl`, `cpu`).
struct Options: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench",
    abstract: "Kernel and model throughput against the machine's measured limits.")

  @Argument(help: "Only rows whose name contains it (e.g. gemm, conv, relu, adam, train).")
  var filter: String?

  @Option(
    help: ArgumentHelp(
      "Only rows of that backend: one of the registered kernels backends, or all.",
      valueName: "backend"))
  var backend = "all"

  @Option(help: "OpenBLAS threads for large products (oneDNN follows OMP_NUM_THREADS).")
  var threads: Int?

  @Flag(help: "One JSON record per row instead of the table.")
  var json = false

  @Flag(help: "Fewer shapes and repetitions (CI).")
  var quick = false

  @Flag(
    name: .customLong("first-step"),
    help: "Time the first training step from process start, then stop.")
  var firstStep = false

  @Option(
    name: .customLong("mpi-worker"),
    help: ArgumentHelp(
      "Run as one rank of a distributed row (started by bench itself).", visibility: .hidden))
  var mpiWorker: String?

  @Option(
    help: ArgumentHelp(
      "Where the Keras application models for the 'infer' rows are (written by Benchmarks/peers/applications_bench.py --write DIR).",
      valueName: "dir"))
  var applications = "Benchmarks/applications"

  @Option(
    name: .customLong("application-worker"),
    help: ArgumentHelp("Run one 'infer' row (started by bench itself).", visibility: .hidden))
  var applicationWorker: String?

  @Option(help: ArgumentHelp("Steps for --mpi-worker.", visibility: .hidden))
  var steps = 20

  func validate() throws {
    let known = Registries.shared.kernels.identifiers
    guard backend == "all" || known.contains(backend) else {
      throw ValidationError(
        "--backend takes \((known + ["all"]).joined(separator: ", ")), not \(backend).")
    }
    if let threads, threads < 1 {
      throw ValidationError("--threads takes a positive number, not \(threads).")
    }
  }

  func wants(_ name: String, backend rowBackend: String) -> Bool {
    (filter.map { name.contains($0) } ?? true) && (backend == "all" || backend == rowBackend)
  }

  /// Whether any of the rows `names`, which measure the whole library (the default backend), are to
  /// run: only without `--backend`.
  func wantsAny(_ names: String...) -> Bool {
    backend == "all" && names.contains { wants($0, backend: "all") }
  }
}

/// One line of the table (or one JSON record).
struct Row: Encodable {
  var name: String
  var backend: String
  var shape: String
  var milliseconds: Double
  var rate: Double
  var unit: String
  /// The rate as a fraction of the machine's measured peak (FLOP/s or memory bandwidth).
  var ofPeak: Double?
  /// Strata's time over calling the library directly on the same shape (1.00 = no overhead).
  var overDirect: Double?
  /// Whether the result matched the reference backend.
  var validated: Bool?
  var note: String?
}

/// The median of `runs` timings of `body` (the fastest with `best`, as the peers' scripts take for
/// model rows: on a shared machine noise only ever adds time), after one warm-up run, in seconds.
func measure(runs: Int, best: Bool = false, _ body: () throws -> Void) rethrows -> Double {
  try body()
  var times: [Double] = []
  for _ in 0..<max(1, runs) {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    times.append(
      Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
  }
  return best ? times.min()! : times.sorted()[times.count / 2]
}

func randomArray(_ count: Int, seed: UInt64) -> [Float] {
  var generator = SeededGenerator(seed: seed)
  return (0..<count).map { _ in Float(generator.nextNormal()) }
}

import StrataCore
