import Foundation
import Strata
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// The `strata` command built beside this test bundle (`swift build --build-tests` builds it).
func strataBinary() -> URL {
  URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("strata")
}

func launch(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
  let process = Process()
  process.executableURL = strataBinary()
  process.arguments = arguments
  process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
  process.standardOutput = FileHandle.nullDevice
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

/// A real crash: a training run with a backup directory is killed with SIGKILL in the middle of an epoch,
/// and again in the middle of writing its backup; started again with the same command, it resumes and
/// ends with exactly the weights of an uninterrupted run.
@Test(.timeLimit(.minutes(5)))
func killedTrainingResumesWithTheSameWeights() throws {
  let binary = strataBinary()
  try #require(FileManager.default.isExecutableFile(atPath: binary.path), "build the strata command first: swift build --build-tests")
  let root = temporaryURL("crash").deletingLastPathComponent()
  func arguments(_ name: String) -> [String] {
    [
      "train", "--limit", "3000", "--epochs", "5", "--seed", "11", "--verbose", "0", "--no-validation",
      "--checkpoint-dir", root.appendingPathComponent(name).path, "--save", root.appendingPathComponent("\(name).strata").path,
    ]
  }
  // The uninterrupted run.
  let reference = try launch(arguments("reference"))
  reference.waitUntilExit()
  #expect(reference.terminationStatus == 0)
  let expected = try Sequential.load(from: root.appendingPathComponent("reference.strata")).weights

  let backupDirectory = root.appendingPathComponent("crashed/backup")
  let backup = backupDirectory.appendingPathComponent("backup.strata")
  // 1. Killed in the middle of an epoch, after at least one epoch was backed up.
  let first = try launch(arguments("crashed"))
  #expect(waitUntil(seconds: 120) { FileManager.default.fileExists(atPath: backup.path) })
  usleep(150_000)
  kill(first.processIdentifier, SIGKILL)
  first.waitUntilExit()
  #expect(first.terminationReason == .uncaughtSignal)
  let afterFirstKill = try Sequential.load(from: backup)  // the last backup is whole

  // 2. Killed in the middle of writing the next backup (the writer pauses halfway, a testing aid).
  let second = try launch(arguments("crashed"), environment: [AtomicFile.pauseEnvironmentKey: "1500"])
  let sawPartialWrite = waitUntil(seconds: 120) {
    ((try? FileManager.default.contentsOfDirectory(atPath: backupDirectory.path)) ?? []).contains { $0.hasSuffix(".tmp") }
  }
  #expect(sawPartialWrite)
  usleep(200_000)
  kill(second.processIdentifier, SIGKILL)
  second.waitUntilExit()
  #expect(second.terminationReason == .uncaughtSignal)
  // The backup file is the previous one, whole; the torn temporary file is beside it, ignored.
  let survivor = try Sequential.load(from: backup)
  #expect(survivor.weights.count == afterFirstKill.weights.count)

  // 3. The same command again runs to the end.
  let third = try launch(arguments("crashed"))
  third.waitUntilExit()
  #expect(third.terminationStatus == 0)
  let resumed = try Sequential.load(from: root.appendingPathComponent("crashed.strata")).weights
  #expect(resumed == expected)
  #expect(!FileManager.default.fileExists(atPath: backup.path))  // deleted once training finished
}
