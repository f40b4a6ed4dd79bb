import Foundation
import StrataCore

/// Formats a Keras checkpoint path: `{epoch}` or `{epoch:02d}` (1-based), `{val_loss:.2f}` and any other
/// value of the logs, with Python's format specifiers for integers (`d`) and floats (`f`, `e`).
func formatCheckpointPath(_ pattern: String, epoch: Int, logs: Logs) throws -> String {
  var result = ""
  var rest = Substring(pattern)
  while let open = rest.firstIndex(of: "{") {
    result += rest[..<open]
    guard let close = rest[open...].firstIndex(of: "}") else {
      throw StrataError.invalidArgument(owner: "ModelCheckpoint", argument: "filepath", value: "'\(pattern)'", expected: "balanced { }")
    }
    let field = rest[rest.index(after: open)..<close]
    let parts = field.split(separator: ":", maxSplits: 1).map(String.init)
    let name = parts.first ?? ""
    let spec = parts.count > 1 ? parts[1] : ""
    let value: Double
    if name == "epoch" {
      value = Double(epoch + 1)
    } else if let logged = logs[name] {
      value = Double(logged)
    } else {
      throw StrataError.invalidArgument(
        owner: "ModelCheckpoint", argument: "filepath", value: "'\(pattern)'",
        expected: "fields among epoch, \(logs.keys.sorted().joined(separator: ", "))")
    }
    if spec.isEmpty {
      result += name == "epoch" ? String(Int(value)) : String(value)
    } else if spec.hasSuffix("d") {
      result += String(format: "%\(spec.dropLast())d", Int(value))
    } else {
      result += String(format: "%\(spec)", value)
    }
    rest = rest[rest.index(after: close)...]
  }
  return result + rest
}

/// Saves the model (or its weights) at the end of epochs. Keras: `ModelCheckpoint(filepath,
/// monitor="val_loss", save_best_only=False, save_weights_only=False, mode="auto")`.
///
/// `filepath` may hold `{epoch:02d}` and logged values such as `{val_loss:.2f}`. Every file is written
/// atomically: a crash leaves the previous checkpoint intact.
public final class ModelCheckpoint: Callback {
  public let filepath: String
  public let monitor: String
  public let saveBestOnly: Bool
  public let saveWeightsOnly: Bool
  public let mode: MonitorMode
  public let verbose: Int
  /// The best monitored value so far (with `saveBestOnly`).
  public private(set) var best: Float = .nan
  /// The files written, in order.
  public private(set) var saved: [String] = []

  public init(
    _ filepath: String, monitor: String = "val_loss", saveBestOnly: Bool = false, saveWeightsOnly: Bool = false,
    mode: MonitorMode = .auto, verbose: Int = 0
  ) {
    self.filepath = filepath
    self.monitor = monitor
    self.saveBestOnly = saveBestOnly
    self.saveWeightsOnly = saveWeightsOnly
    self.mode = mode.resolved(for: monitor)
    self.verbose = verbose
  }

  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Sequential) {
    if saveBestOnly {
      guard let current = logs[monitor] else {
        model.warn(missingMonitor("ModelCheckpoint", monitor, logs))
        return
      }
      let improved = best.isNaN || (mode == .max ? current > best : current < best)
      guard improved else { return }
      if verbose > 0 { print("Epoch \(epoch + 1): \(monitor) improved from \(best) to \(current), saving model") }
      best = current
    }
    do {
      let path = try formatCheckpointPath(filepath, epoch: epoch, logs: logs)
      let url = URL(fileURLWithPath: path)
      try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
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
  public let directory: URL
  public let deleteCheckpoint: Bool
  /// The epoch training was resumed from, if a backup was restored.
  public private(set) var restoredEpoch: Int?

  public init(_ backupDirectory: String, deleteCheckpoint: Bool = true) {
    directory = URL(fileURLWithPath: backupDirectory)
    self.deleteCheckpoint = deleteCheckpoint
  }

  /// The backup file.
  public var file: URL { directory.appendingPathComponent("backup.strata") }

  public func onTrainBegin(logs: Logs, model: Sequential) {
    restoredEpoch = nil
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

  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Sequential) {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
      let (header, tensors) = model.fileContents(weightsOnly: false, extra: ["backup": ["epoch": .int(epoch)]])
      try AtomicFile.write(try ModelFile.encode(header: header, tensors: tensors), to: file)
    } catch {
      model.warn("BackupAndRestore: could not back up to \(file.path): \(error)")
    }
  }

  public func onTrainEnd(logs: Logs, model: Sequential) {
    if deleteCheckpoint && model.completedTraining { try? FileManager.default.removeItem(at: file) }
  }
}
