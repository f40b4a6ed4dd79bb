import Foundation
import StrataCore

/// Formats a Keras checkpoint path: `{epoch}` or `{epoch:02d}` (1-based), `{val_loss:.2f}` and any other
/// value of the logs, with Python's format specifications `[0][width][.precision][type]` for the types
/// `d` (integers), `f`, `e` and `g` (floats). The specification is parsed here, never handed to a
/// C formatter, and widths and precisions are bounded.
func formatCheckpointPath(_ pattern: String, epoch: Int, logs: Logs) throws -> String {
  func refuse(_ expected: String) -> StrataError {
    .invalidArgument(
      owner: "ModelCheckpoint", argument: "filepath", value: "'\(pattern.prefix(200))'",
      expected: expected)
  }
  var result = ""
  var rest = Substring(pattern)
  while let open = rest.firstIndex(of: "{") {
    result += rest[..<open]
    guard let close = rest[open...].firstIndex(of: "}") else { throw refuse("balanced { }") }
    let field = rest[rest.index(after: open)..<close]
    let parts = field.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(
      String.init)
    let name = parts.first ?? ""
    let value: Double
    if name == "epoch" {
      value = Double(epoch + 1)
    } else if let logged = logs[name] {
      value = Double(logged)
    } else {
      throw refuse("fields among epoch, \(logs.keys.sorted().joined(separator: ", "))")
    }
    result += try formatField(
      value, spec: parts.count > 1 ? parts[1] : nil, isEpoch: name == "epoch", refuse: refuse)
    rest = rest[rest.index(after: close)...]
  }
  return result + rest
}

/// One `{name:spec}` field, Python's way, for the subset checkpoint names use.
private func formatField(
  _ value: Double, spec: String?, isEpoch: Bool, refuse: (String) -> StrataError
) throws -> String {
  guard let spec, !spec.isEmpty else { return isEpoch ? String(Int(value)) : String(value) }
  var characters = Substring(spec)
  let type = characters.last.flatMap { "dfeg".contains($0) ? $0 : nil }
  if type != nil { characters = characters.dropLast() }
  let zeroPad = characters.first == "0"
  if zeroPad { characters = characters.dropFirst() }
  let widthAndPrecision = characters.split(
    separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
  let expected =
    "format specifications like {epoch:02d} or {val_loss:.2f} ([0][width][.precision] then d, f, e or g; width and precision at most 64)"
  guard widthAndPrecision.count <= 2 else { throw refuse(expected) }
  let widthText = widthAndPrecision.first ?? ""
  let width = widthText.isEmpty ? 0 : Int(widthText)
  let precisionText: Substring? = widthAndPrecision.count == 2 ? widthAndPrecision[1] : nil
  let precision = precisionText.map { Int($0) }
  guard let width, (0...64).contains(width),
    precision.map({ $0.map { (0...64).contains($0) } ?? false }) ?? true
  else {
    throw refuse(expected)
  }
  let body: String
  switch type {
  case "d":
    guard precision == nil, value.isFinite, abs(value) < 1e18 else { throw refuse(expected) }
    body = String(Int(value))
  case "e":
    body = String(format: "%.\(precision.flatMap { $0 } ?? 6)e", value)
  case "f":
    body = String(format: "%.\(precision.flatMap { $0 } ?? 6)f", value)
  default:  // "g", or no type: Python's "{:.2}" is its general format
    guard type == "g" || precision != nil else { throw refuse(expected) }
    body = String(format: "%.\(precision.flatMap { $0 } ?? 6)g", value)
  }
  guard body.count < width else { return body }
  let padding = String(repeating: zeroPad ? "0" : " ", count: width - body.count)
  if zeroPad, body.hasPrefix("-") { return "-" + padding + body.dropFirst() }
  return padding + body
}

/// Saves the model (or its weights) at the end of epochs. Keras: `ModelCheckpoint(filepath,
/// monitor="val_loss", save_best_only=False, save_weights_only=False, mode="auto")`.
///
/// `filepath` may hold `{epoch:02d}` and logged values such as `{val_loss:.2f}`. Every file is written
/// atomically: a crash leaves the previous checkpoint intact.
public final class ModelCheckpoint: Callback {
  /// It writes files: rank 0's job in a distributed `fit` (which then broadcasts what it restored).
  public var runsOnRankZeroOnly: Bool { true }
  /// The path pattern, with `{epoch}` and logged values.
  public let filepath: String
  /// The logged value that decides the best epoch (with `saveBestOnly`).
  public let monitor: String
  /// Whether only improvements of `monitor` are saved.
  public let saveBestOnly: Bool
  /// Whether only the weights are saved (`saveWeights(to:)`), not the whole model.
  public let saveWeightsOnly: Bool
  /// Whether smaller (`.min`) or larger (`.max`) is better; `.auto` decides from `monitor`.
  public let mode: MonitorMode
  /// 1 prints a line for each file saved.
  public let verbose: Int
  /// The best monitored value so far (with `saveBestOnly`).
  public private(set) var best: Float = .nan
  /// The files written, in order.
  public private(set) var saved: [String] = []

  /// Keras' arguments and defaults; `filepath` is checked when the first file is written.
  public init(
    _ filepath: String, monitor: String = "val_loss", saveBestOnly: Bool = false,
    saveWeightsOnly: Bool = false,
    mode: MonitorMode = .auto, verbose: Int = 0
  ) {
    self.filepath = filepath
    self.monitor = monitor
    self.saveBestOnly = saveBestOnly
    self.saveWeightsOnly = saveWeightsOnly
    self.mode = mode.resolved(for: monitor)
    self.verbose = verbose
  }

  /// Saves the model (or its weights) to the epoch's path; with `saveBestOnly`, only when `monitor` improved.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    if saveBestOnly {
      guard let current = logs[monitor] else {
        model.warn(missingMonitor("ModelCheckpoint", monitor, logs))
        return
      }
      let improved = best.isNaN || (mode == .max ? current > best : current < best)
      guard improved else { return }
      if verbose > 0 {
        Console.line(
          "Epoch \(epoch + 1): \(monitor) improved from \(best) to \(current), saving model")
      }
      best = current
    }
    do {
      let path = try formatCheckpointPath(filepath, epoch: epoch, logs: logs)
      let url = URL(fileURLWithPath: path)
      try FileManager.default.createDirectory(
        at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
      if saveWeightsOnly { try model.saveWeights(to: url) } else { try model.save(to: url) }
      saved.append(path)
    } catch {
      model.warn("ModelCheckpoint: \(error)")
    }
  }
}

/// Backs up the whole training state at the end of each epoch, and when training starts again with a
/// backup present, restores it and goes on from the epoch after the last one finished. Keras:
/// `BackupAndRestore(backup_dir, delete_checkpoint=True)`.
///
/// The backup holds the weights, the optimizer's state and the random generators' states, so a run
/// killed at any moment and started again with the same seed ends with the same weights as an
/// uninterrupted run. It is written atomically and deleted when training finishes.
public final class BackupAndRestore: Callback {
  /// It writes files: rank 0's job in a distributed `fit` (which then broadcasts what it restored).
  public var runsOnRankZeroOnly: Bool { true }
  /// The folder that holds `backup.strata`.
  public let directory: URL
  /// Whether the backup is deleted when training completes.
  public let deleteCheckpoint: Bool
  /// The epoch training was resumed from, if a backup was restored.
  public private(set) var restoredEpoch: Int?

  /// Backs up into `backupDirectory/backup.strata`; `deleteCheckpoint`: delete it when training completes.
  public init(_ backupDirectory: String, deleteCheckpoint: Bool = true) {
    directory = URL(fileURLWithPath: backupDirectory)
    self.deleteCheckpoint = deleteCheckpoint
  }

  /// The backup file.
  public var file: URL { directory.appendingPathComponent("backup.strata") }

  /// Restores the backup, if there is one, and tells `fit` the epoch to go on from.
  public func onTrainBegin(logs: Logs, model: Model) {
    restoredEpoch = nil
    AtomicFile.removeStaleTemporaries(of: file)
    guard FileManager.default.fileExists(atPath: file.path) else { return }
    do {
      let (header, tensors) = try ModelFile.read(file)
      try model.restoreWeights(tensors, path: file.path)
      try model.restoreState(header: header, tensors: tensors, path: file.path)
      if let epoch = header["backup"]?.objectValue?["epoch"]?.intValue {
        restoredEpoch = epoch + 1
        model.resumeEpoch = epoch + 1
      }
    } catch {
      model.warn("BackupAndRestore: could not restore \(file.path), starting over: \(error)")
    }
  }

  /// Writes the whole training state, atomically, marking the epoch done.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      let (header, tensors) = model.fileContents(
        weightsOnly: false, extra: ["backup": ["epoch": .int(epoch)]])
      try AtomicFile.write(try ModelFile.encode(header: header, tensors: tensors), to: file)
    } catch {
      model.warn("BackupAndRestore: could not back up to \(file.path): \(error)")
    }
  }

  /// Deletes the backup once training has completed, unless told to keep it.
  public func onTrainEnd(logs: Logs, model: Model) {
    if deleteCheckpoint && model.completedTraining { try? deleteBackup() }
  }

  /// Deletes the backup. A program that writes outputs after `fit` (a final model, a plot) creates
  /// this callback with `deleteCheckpoint: false` and calls this once they are written, so that a run
  /// killed before then resumes from the backup instead of training again from the first epoch.
  public func deleteBackup() throws {
    guard FileManager.default.fileExists(atPath: file.path) else { return }
    CrashTestHook.point("deleting \(file.lastPathComponent)")
    do { try FileManager.default.removeItem(at: file) } catch {
      throw StrataError.file(
        path: file.path, reason: "cannot be deleted (\(error.localizedDescription))")
    }
  }

  /// Refuses a backup directory that cannot hold the backup: a path that exists and is no directory.
  /// - Throws: `StrataError.file(path:reason:)`.
  public func checkDirectory() throws {
    try Self.requireDirectoryOrNothing(directory, what: "the backup")
  }

  /// ``checkDirectory()`` for the backup directory's parent too (the `strata` command's
  /// `--checkpoint-dir`, which holds the backup directory and the epoch checkpoints).
  public func checkParent() throws {
    try Self.requireDirectoryOrNothing(
      directory.deletingLastPathComponent(), what: "--checkpoint-dir")
    try checkDirectory()
  }

  static func requireDirectoryOrNothing(_ url: URL, what: String) throws {
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory),
      !isDirectory.boolValue
    {
      throw StrataError.file(path: url.path, reason: "is a file; \(what) needs a directory")
    }
  }
}
