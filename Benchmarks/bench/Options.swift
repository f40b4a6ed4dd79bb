import Foundation

/// `bench [filter] [--backend B] [--threads N] [--json] [--quick]`.
struct Options {
  var filter: String?
  var backend = "all"
  var threads: Int?
  var json = false
  var quick = false
  var firstStep = false

  static let usage = """
    usage: swift run -c release bench [FILTER] [--backend reference|simd|openblas|onednn|all] [--threads N] [--json] [--quick]
      FILTER      only rows whose name contains it (e.g. gemm, conv, relu, adam, train)
      --backend   only rows of that backend (default: all)
      --threads   OpenBLAS threads for large products (oneDNN follows OMP_NUM_THREADS)
      --json      one JSON record per row instead of the table
      --quick     fewer shapes and repetitions (CI)
    """

  init(_ arguments: [String]) throws {
    var rest = arguments.makeIterator()
    while let argument = rest.next() {
      switch argument {
      case "--backend":
        guard let value = rest.next(), ["reference", "simd", "openblas", "onednn", "all"].contains(value) else {
          throw BenchError.usage("--backend takes reference, simd, openblas, onednn or all")
        }
        backend = value
      case "--threads":
        guard let value = rest.next().flatMap(Int.init), value > 0 else { throw BenchError.usage("--threads takes a positive number") }
        threads = value
      case "--json": json = true
      case "--quick": quick = true
      case "--first-step": firstStep = true
      case "-h", "--help": throw BenchError.usage(nil)
      default:
        guard !argument.hasPrefix("-"), filter == nil else { throw BenchError.usage("unknown argument \(argument)") }
        filter = argument
      }
    }
  }

  func wants(_ name: String, backend rowBackend: String) -> Bool {
    (filter.map { name.contains($0) } ?? true) && (backend == "all" || backend == rowBackend)
  }
}

enum BenchError: Error {
  case usage(String?)
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

/// The median of `runs` timings of `body`, after one warm-up run, in seconds.
func measure(runs: Int, _ body: () throws -> Void) rethrows -> Double {
  try body()
  var times: [Double] = []
  for _ in 0..<max(1, runs) {
    let start = ContinuousClock.now
    try body()
    let elapsed = ContinuousClock.now - start
    times.append(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
  }
  return times.sorted()[times.count / 2]
}

func randomArray(_ count: Int, seed: UInt64) -> [Float] {
  var generator = SeededGenerator(seed: seed)
  return (0..<count).map { _ in Float(generator.nextNormal()) }
}

import StrataCore
