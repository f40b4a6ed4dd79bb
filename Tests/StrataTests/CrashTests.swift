import Foundation
import Strata
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The `strata` command built beside this test bundle (`swift build --build-tests` builds it).
func strataBinary() -> URL {
  URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
    "strata")
}

/// Starts `strata`; its standard output goes to `output` when given.
func launch(_ arguments: [String], environment: [String: String] = [:], output: URL? = nil) throws
  -> Process
{
  let process = Process()
  process.executableURL = strataBinary()
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  if let output {
    _ = FileManager.default.createFile(atPath: output.path, contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: output)
  } else {
    process.standardOutput = FileHandle.nullDevice
  }
  process.standardError = FileHandle.nullDevice
  try process.run()
  return process
}

/// Waits until `condition` holds (polling), for at most `seconds`.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
  let deadline = Date().addingTimeInterval(seconds)
  while Date() < deadline {
    if condition() { return true }
    usleep(10_000)
  }
  return condition()
}

/// `strata train --checkpoint-dir` killed with SIGKILL at every point where it writes or deletes a file
/// (halfway through each epoch checkpoint, each backup and the final model, and just before the backup
/// is deleted), then run again with the same command: no epoch checkpoint is lost, the rerun goes on
/// after the last finished epoch (never from scratch), no temporary file is left, and every file ends
/// bit-identical to an uninterrupted run's. The process waits at the chosen point (``CrashTestHook``),
/// so the kill does not depend on the machine's speed.
@Test(.timeLimit(.minutes(10)))
func killedAtEveryWriteTheRunLosesNothing() throws {
  let binary = strataBinary()
  try #require(
    FileManager.default.isExecutableFile(atPath: binary.path),
    "build the strata command first: swift build --build-tests")
  let root = temporaryURL("crash").deletingLastPathComponent()
  let epochs = 3
  func arguments(_ name: String) -> [String] {
    [
      "train", "--limit", "1000", "--epochs", "\(epochs)", "--seed", "11", "--verbose", "0",
      "--no-validation",
      "--checkpoint-dir", root.appendingPathComponent(name).path, "--save",
      root.appendingPathComponent("\(name).strata").path,
    ]
  }
  func checkpoints(_ name: String) -> [String: Data] {
    let directory = root.appendingPathComponent(name)
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
      .filter { $0.hasPrefix("epoch-") }
    return Dictionary(
      uniqueKeysWithValues: names.map {
        ($0, (try? Data(contentsOf: directory.appendingPathComponent($0))) ?? Data())
      })
  }
  let reference = try launch(arguments("reference"))
  reference.waitUntilExit()
  try #require(reference.terminationStatus == 0)
  let expectedModel = try Data(contentsOf: root.appendingPathComponent("reference.strata"))
  let expectedCheckpoints = checkpoints("reference")
  #expect(expectedCheckpoints.count == epochs)

  // Points, in order: per epoch the checkpoint then the backup; then the final model; then the deletion.
  let points = 2 * epochs + 2
  var kills = 0, resumedRuns = 0
  for point in 1...points {
    let name = "killed-at-\(point)"
    let marker = root.appendingPathComponent("\(name).marker")
    let killed = try launch(
      arguments(name),
      environment: [CrashTestHook.pauseAtKey: "\(point)", CrashTestHook.markerKey: marker.path])
    #expect(
      waitUntil(seconds: 300) { FileManager.default.fileExists(atPath: marker.path) },
      "point \(point) never reached")
    kill(killed.processIdentifier, SIGKILL)
    killed.waitUntilExit()
    #expect(killed.terminationReason == .uncaughtSignal)
    kills += 1
    let what = (try? String(contentsOf: marker, encoding: .utf8)) ?? ""
    // Epochs whose backup was complete before the kill: the rerun must not train them again.
    let finishedEpochs = min((point - 1) / 2, epochs)
    let log = root.appendingPathComponent("\(name).log")
    let rerun = try launch(arguments(name), output: log)
    rerun.waitUntilExit()
    #expect(rerun.terminationStatus == 0, "rerun after a kill at point \(point) (\(what))")
    let printed = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
    if finishedEpochs == epochs {
      #expect(
        printed.contains("all \(epochs) epochs had finished"),
        "point \(point) (\(what)): \(printed)")
    } else if finishedEpochs > 0 {
      #expect(
        printed.contains("at epoch \(finishedEpochs + 1)"), "point \(point) (\(what)): \(printed)")
    }
    if finishedEpochs > 0 { resumedRuns += 1 }
    #expect(
      try Data(contentsOf: root.appendingPathComponent("\(name).strata")) == expectedModel,
      "final model after point \(point) (\(what))")
    #expect(
      checkpoints(name) == expectedCheckpoints, "epoch checkpoints after point \(point) (\(what))")
    let directory = root.appendingPathComponent(name)
    let leftovers = ((try? FileManager.default.subpathsOfDirectory(atPath: directory.path)) ?? [])
      .filter { $0.hasSuffix(".tmp") }
    #expect(leftovers.isEmpty, "temporary files left after point \(point): \(leftovers)")
    #expect(
      !FileManager.default.fileExists(
        atPath: directory.appendingPathComponent("backup/backup.strata").path))
  }
  print(
    "Kill test: \(kills) kills at \(points) points, \(kills) reruns completed, \(resumedRuns) resumed from a backup"
  )
}
