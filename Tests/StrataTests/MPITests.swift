import Foundation
import Strata
import Testing

/// Open MPI's launcher, when installed (`setup.sh` installs it).
let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first {
  FileManager.default.isExecutableFile(atPath: $0)
}

/// Runs `strata arguments` on `ranks` processes of this machine, one compute thread each.
func runMPI(ranks: Int, _ arguments: [String]) throws -> (status: Int32, output: String) {
  let process = Process()
  process.executableURL = URL(fileURLWithPath: mpirun!)
  process.arguments =
    (getuid() == 0 ? ["--allow-run-as-root"] : []) + [
      "--bind-to", "none", "--oversubscribe", "-np", "\(ranks)", "-x", "OMP_NUM_THREADS=1", "-x",
      "OPENBLAS_NUM_THREADS=1", strataBinary().path,
    ] + arguments
  let output = temporaryURL("mpi-output")
  _ = FileManager.default.createFile(atPath: output.path, contents: nil)
  process.standardOutput = try FileHandle(forWritingTo: output)
  process.standardError = process.standardOutput
  try process.run()
  process.waitUntilExit()
  return (process.terminationStatus, try String(contentsOf: output, encoding: .utf8))
}

@Suite("mpirun", .enabled(if: mpirun != nil, "Open MPI's mpirun is not installed"))
struct MPITests {
  @Test("mpirun -np 2 strata trains the beginner MLP as one process does, and reruns bit for bit")
  func twoProcessesTrainLikeOne() throws {
    let directory = temporaryURL("mpi").deletingLastPathComponent()
    // Sums in another order differ by ~1e-7; Adam's normalized steps can amplify that on a gradient
    // that nearly cancels (seed 11 on these 3,000 images ends 0.03 apart, SGD 1.5e-8: Docs/Distributed.md).
    func arguments(_ file: String) -> [String] {
      [
        "train", "--limit", "3000", "--epochs", "1", "--no-validation", "--verbose", "2", "--seed",
        "12", "--save", directory.appendingPathComponent(file).path,
      ]
    }
    let first = try runMPI(ranks: 2, arguments("two.strata"))
    #expect(first.status == 0, "\(first.output)")
    #expect(first.output.contains("Training on 2 processes: global batch 32"), "\(first.output)")
    // Rank 0 alone prints: one summary, one epoch line.
    #expect(first.output.components(separatedBy: "Epoch 1/1").count == 2, "\(first.output)")
    let second = try runMPI(ranks: 2, arguments("again.strata"))
    #expect(second.status == 0, "\(second.output)")
    let single = try runStrata(arguments("one.strata"))
    #expect(single.status == 0, "\(single.error)")
    let two = try Sequential.load(from: directory.appendingPathComponent("two.strata"))
    let again = try Sequential.load(from: directory.appendingPathComponent("again.strata"))
    let one = try Sequential.load(from: directory.appendingPathComponent("one.strata"))
    #expect(two.weights == again.weights)
    var worst: Float = 0
    for (a, b) in zip(two.weights, one.weights) {
      for (u, v) in zip(a.scalars, b.scalars) { worst = max(worst, abs(u - v)) }
    }
    print(
      "mpirun -np 2 vs one process, beginner MLP, 3,000 images, 1 epoch: max |difference| \(worst)")
    #expect(worst < 1e-5)
    #expect(two.optimizer?.iterations == one.optimizer?.iterations)
  }

  @Test("an error on one rank ends both, with its message")
  func errorEndsEveryRank() throws {
    let result = try runMPI(ranks: 2, ["train", "--data", "/nonexistent", "--epochs", "1"])
    #expect(result.status != 0)
    #expect(result.output.contains("/nonexistent"), "\(result.output)")
  }
}
