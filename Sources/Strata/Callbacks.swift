import Foundation
import StrataCore

/// What a callback receives: Keras' `logs`, metric names to values (`"loss"`, `"val_accuracy"`).
public typealias Logs = [String: Float]

/// Hooks into `fit`, as Keras' `keras.callbacks.Callback`. Every method has an empty default, so a
/// callback implements only what it needs. Set `model.stopTraining = true` to end training after the
/// current batch (or epoch).
///
/// ```swift
/// final class StopAt99: Callback {
///   func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
///     if logs["accuracy", default: 0] > 0.99 { model.stopTraining = true }
///   }
/// }
/// ```
public protocol Callback: AnyObject {
  func onTrainBegin(logs: Logs, model: Model)
  func onTrainEnd(logs: Logs, model: Model)
  /// `epoch` counts from 0, as in Keras.
  func onEpochBegin(_ epoch: Int, logs: Logs, model: Model)
  /// `logs` holds the epoch's training metrics and, with validation data, the `val_` ones.
  func onEpochEnd(_ epoch: Int, logs: Logs, model: Model)
  func onTrainBatchBegin(_ batch: Int, logs: Logs, model: Model)
  /// `logs` holds the running means of the epoch so far, as Keras' progress bar shows them.
  func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model)
  /// Whether the epoch's logs (and so `History`) carry the optimizer's `learning_rate`, as Keras 3's
  /// `LearningRateScheduler` and `ReduceLROnPlateau` add it. `false` by default.
  var logsLearningRate: Bool { get }
  /// Whether, in a distributed `fit`, the callback runs on rank 0 only: those that write files
  /// (checkpoints, backups, logs). Others run on every rank, where they see the same epoch logs and
  /// so decide alike (`EarlyStopping`). `false` by default.
  var runsOnRankZeroOnly: Bool { get }
}

extension Callback {
  /// The logs are left as they are.
  public var logsLearningRate: Bool { false }
  /// Every rank runs the callback.
  public var runsOnRankZeroOnly: Bool { false }
  /// Does nothing unless a callback implements it.
  public func onTrainBegin(logs: Logs, model: Model) {}
  /// Does nothing unless a callback implements it.
  public func onTrainEnd(logs: Logs, model: Model) {}
  /// Does nothing unless a callback implements it.
  public func onEpochBegin(_ epoch: Int, logs: Logs, model: Model) {}
  /// Does nothing unless a callback implements it.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {}
  /// Does nothing unless a callback implements it.
  public func onTrainBatchBegin(_ batch: Int, logs: Logs, model: Model) {}
  /// Does nothing unless a callback implements it.
  public func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {}
}

/// A callback made of closures. Keras: `LambdaCallback(on_epoch_end=…)`.
public final class LambdaCallback: Callback {
  /// A closure called with an epoch (or batch) index, the logs and the model.
  public typealias EpochHook = (_ epoch: Int, _ logs: Logs, _ model: Model) -> Void
  /// A closure called with the logs and the model.
  public typealias TrainHook = (_ logs: Logs, _ model: Model) -> Void
  let epochBegin, epochEnd, batchBegin, batchEnd: EpochHook?
  let trainBegin, trainEnd: TrainHook?

  /// A callback of the given closures; the others do nothing.
  public init(
    onEpochBegin: EpochHook? = nil, onEpochEnd: EpochHook? = nil, onBatchBegin: EpochHook? = nil,
    onBatchEnd: EpochHook? = nil, onTrainBegin: TrainHook? = nil, onTrainEnd: TrainHook? = nil
  ) {
    epochBegin = onEpochBegin
    epochEnd = onEpochEnd
    batchBegin = onBatchBegin
    batchEnd = onBatchEnd
    trainBegin = onTrainBegin
    trainEnd = onTrainEnd
  }

  /// Calls the `onTrainBegin` closure, if given.
  public func onTrainBegin(logs: Logs, model: Model) { trainBegin?(logs, model) }
  /// Calls the `onTrainEnd` closure, if given.
  public func onTrainEnd(logs: Logs, model: Model) { trainEnd?(logs, model) }
  /// Calls the closure given for it, if any.
  public func onEpochBegin(_ epoch: Int, logs: Logs, model: Model) {
    epochBegin?(epoch, logs, model)
  }
  /// Calls the closure given for it, if any.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    epochEnd?(epoch, logs, model)
  }
  /// Calls the closure given for it, if any.
  public func onTrainBatchBegin(_ batch: Int, logs: Logs, model: Model) {
    batchBegin?(batch, logs, model)
  }
  /// Calls the closure given for it, if any.
  public func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {
    batchEnd?(batch, logs, model)
  }
}

/// Whether a monitored quantity improves by going down or up.
public enum MonitorMode: String, Sendable {
  case auto, min, max

  /// Keras' `auto`: up for accuracies and AUC-like names, down for everything else.
  func resolved(for monitor: String) -> MonitorMode {
    guard self == .auto else { return self }
    let name = monitor.hasPrefix("val_") ? String(monitor.dropFirst(4)) : monitor
    return name.contains("acc") || name.hasPrefix("auc") || name.hasSuffix("accuracy") ? .max : .min
  }
}

func missingMonitor(_ owner: String, _ monitor: String, _ logs: Logs) -> String {
  "\(owner): the metric '\(monitor)' is not in the logs; available: \(logs.keys.sorted().joined(separator: ", "))"
}

/// Stops training when `monitor` has stopped improving for `patience` epochs. Keras:
/// `EarlyStopping(monitor="val_loss", min_delta=0, patience=0, mode="auto", baseline=None,
/// restore_best_weights=False, start_from_epoch=0)`.
public final class EarlyStopping: Callback {
  /// The logged value watched (`"val_loss"`, `"accuracy"`, …).
  public let monitor: String
  /// The smallest change that counts as an improvement.
  public let minDelta: Float
  /// Epochs without improvement before training stops.
  public let patience: Int
  /// Whether smaller (`.min`) or larger (`.max`) is better; `.auto` decides from `monitor`.
  public let mode: MonitorMode
  /// A value to beat: training stops if `monitor` does not pass it within `patience` epochs.
  public let baseline: Float?
  /// Whether the weights of the best epoch are restored when training stops.
  public let restoreBestWeights: Bool
  /// Epochs of warm-up before improvements are watched.
  public let startFromEpoch: Int
  /// 1 prints a line when training stops.
  public let verbose: Int
  /// The epoch after which training stopped, 0 if it did not stop early.
  public private(set) var stoppedEpoch = 0
  /// The epoch of the best value seen.
  public private(set) var bestEpoch = 0
  /// The best value of `monitor` so far (NaN before the first epoch).
  public private(set) var best: Float = .nan
  private var wait = 0
  private var bestWeights: [Tensor]?

  /// Keras' arguments and defaults.
  /// - Throws: `StrataError.invalidArgument` for a negative `patience`.
  public init(
    monitor: String = "val_loss", minDelta: Float = 0, patience: Int = 0, mode: MonitorMode = .auto,
    baseline: Float? = nil, restoreBestWeights: Bool = false, startFromEpoch: Int = 0,
    verbose: Int = 0
  ) throws {
    try checkArgument(
      patience >= 0,
      owner: "EarlyStopping", argument: "patience", value: "\(patience)", expected: "a number ≥ 0")
    self.monitor = monitor
    self.minDelta = abs(minDelta)
    self.patience = patience
    self.mode = mode.resolved(for: monitor)
    self.baseline = baseline
    self.restoreBestWeights = restoreBestWeights
    self.startFromEpoch = startFromEpoch
    self.verbose = verbose
  }

  private func improves(_ value: Float, over reference: Float) -> Bool {
    if reference.isNaN { return true }
    return mode == .max ? value - minDelta > reference : value + minDelta < reference
  }

  /// Starts with no best value and no patience used.
  public func onTrainBegin(logs: Logs, model: Model) {
    wait = 0
    stoppedEpoch = 0
    best = .nan
    bestWeights = nil
    bestEpoch = 0
  }

  /// Compares `monitor` with the best so far; stops training once `patience` epochs passed without improvement.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    guard let current = logs[monitor] else {
      model.warn(missingMonitor("EarlyStopping", monitor, logs))
      return
    }
    guard epoch >= startFromEpoch else { return }
    if restoreBestWeights && bestWeights == nil { bestWeights = model.weights }
    wait += 1
    if improves(current, over: best) {
      best = current
      bestEpoch = epoch
      if restoreBestWeights { bestWeights = model.weights }
      if baseline == nil || improves(current, over: baseline!) { wait = 0 }
      return
    }
    if wait >= patience && epoch > 0 {
      stoppedEpoch = epoch
      model.stopTraining = true
    }
  }

  /// Reports the stop and, with `restoreBestWeights`, puts the best epoch's weights back.
  public func onTrainEnd(logs: Logs, model: Model) {
    if stoppedEpoch > 0 && verbose > 0 { Console.line("Epoch \(stoppedEpoch + 1): early stopping") }
    if restoreBestWeights, let bestWeights {
      if verbose > 0 {
        Console.line("Restoring model weights from the end of the best epoch: \(bestEpoch + 1).")
      }
      try? model.setWeights(bestWeights)
    }
  }
}

/// Stops training as soon as a batch's loss is NaN or infinite. Keras: `TerminateOnNaN()`.
public final class TerminateOnNaN: Callback {
  /// The batch whose loss was not finite, if training was stopped.
  public private(set) var terminatedAtBatch: Int?
  /// A new instance, with nothing cached yet.
  public init() {}
  /// Stops training when the batch's loss is NaN or infinite.
  public func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {
    if let loss = logs["loss"], !loss.isFinite {
      Console.line("Batch \(batch): Invalid loss, terminating training")
      terminatedAtBatch = batch
      model.stopTraining = true
    }
  }
}

/// Multiplies the learning rate by `factor` when `monitor` has stopped improving for `patience` epochs.
/// Keras: `ReduceLROnPlateau(monitor="val_loss", factor=0.1, patience=10, mode="auto", min_delta=1e-4,
/// cooldown=0, min_lr=0.0)`.
public final class ReduceLROnPlateau: Callback {
  /// The epoch's logs carry `learning_rate` (the rate before any reduction), as in Keras 3.
  public var logsLearningRate: Bool { true }
  /// The logged value watched.
  public let monitor: String
  /// What the learning rate is multiplied by when `monitor` stops improving.
  public let factor: Float
  /// Epochs without improvement before the rate is reduced.
  public let patience: Int
  /// Whether smaller (`.min`) or larger (`.max`) is better; `.auto` decides from `monitor`.
  public let mode: MonitorMode
  /// The smallest change that counts as an improvement.
  public let minDelta: Float
  /// Epochs to wait after a reduction before watching again.
  public let cooldown: Int
  /// The rate is never reduced below this (Keras' `min_lr`).
  public let minLearningRate: Float
  /// 1 prints a line at each reduction.
  public let verbose: Int
  private var best: Float = .nan
  private var wait = 0
  private var cooldownCounter = 0

  /// Keras' arguments and defaults.
  /// - Throws: `StrataError.invalidArgument` for a `factor` not in (0, 1).
  public init(
    monitor: String = "val_loss", factor: Float = 0.1, patience: Int = 10,
    mode: MonitorMode = .auto,
    minDelta: Float = 1e-4, cooldown: Int = 0, minLearningRate: Float = 0, verbose: Int = 0
  ) throws {
    try checkArgument(
      factor < 1 && factor > 0,
      owner: "ReduceLROnPlateau", argument: "factor", value: "\(factor)",
      expected: "a number in (0, 1)")
    self.monitor = monitor
    self.factor = factor
    self.patience = patience
    self.mode = mode.resolved(for: monitor)
    self.minDelta = minDelta
    self.cooldown = cooldown
    self.minLearningRate = minLearningRate
    self.verbose = verbose
  }

  /// Starts with no best value, no patience used and no cooldown.
  public func onTrainBegin(logs: Logs, model: Model) {
    best = .nan
    wait = 0
    cooldownCounter = 0
  }

  /// Compares `monitor` with the best so far; reduces the learning rate after `patience` epochs without improvement.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    guard let current = logs[monitor] else {
      model.warn(missingMonitor("ReduceLROnPlateau", monitor, logs))
      return
    }
    if cooldownCounter > 0 { cooldownCounter -= 1; wait = 0 }
    let better =
      best.isNaN || (mode == .max ? current > best + minDelta : current < best - minDelta)
    if better {
      best = current
      wait = 0
    } else if cooldownCounter <= 0 {
      wait += 1
      if wait >= patience, let optimizer = model.optimizer, optimizer.learningRate > minLearningRate
      {
        let reduced = max(optimizer.learningRate * factor, minLearningRate)
        optimizer.learningRate = reduced
        if verbose > 0 {
          Console.line(
            "Epoch \(epoch + 1): ReduceLROnPlateau reducing learning rate to \(reduced).")
        }
        cooldownCounter = cooldown
        wait = 0
      }
    }
  }
}

/// Writes each epoch's logs as a CSV row, header first. Keras: `CSVLogger(filename, separator=",",
/// append=False)`. Each row is flushed as soon as the epoch ends.
public final class CSVLogger: Callback {
  /// It writes a file: rank 0's job in a distributed `fit`.
  public var runsOnRankZeroOnly: Bool { true }
  /// The CSV file.
  public let url: URL
  /// The column separator.
  public let separator: String
  /// Whether a run adds rows to an existing file instead of starting it anew.
  public let append: Bool
  private var handle: FileHandle?
  private var keys: [String]?

  /// A logger writing `path`, one row per epoch.
  public init(_ path: String, separator: String = ",", append: Bool = false) {
    url = URL(fileURLWithPath: path)
    self.separator = separator
    self.append = append
  }

  /// Opens the file (appending with `append`) for the rows to come.
  public func onTrainBegin(logs: Logs, model: Model) {
    let exists = FileManager.default.fileExists(atPath: url.path)
    if !append || !exists { _ = FileManager.default.createFile(atPath: url.path, contents: nil) }
    handle = try? FileHandle(forWritingTo: url)
    _ = try? handle?.seekToEnd()
    keys = nil
    if append && exists, let text = try? String(contentsOf: url, encoding: .utf8),
      let header = text.split(separator: "\n").first
    {
      keys = Array(String(header).components(separatedBy: separator).dropFirst())
    }
    if handle == nil { model.warn("CSVLogger: cannot write \(url.path)") }
  }

  /// Writes the epoch's row.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    guard let handle else { return }
    if keys == nil {
      keys = logs.keys.sorted()
      handle.write(Data((["epoch"] + keys!).joined(separator: separator).appending("\n").utf8))
    }
    let row = ["\(epoch)"] + keys!.map { logs[$0].map { "\($0)" } ?? "" }
    handle.write(Data(row.joined(separator: separator).appending("\n").utf8))
    try? handle.synchronize()
  }

  /// Closes the file.
  public func onTrainEnd(logs: Logs, model: Model) {
    try? handle?.close()
    handle = nil
  }
}

/// Sets the learning rate at the start of each epoch from `schedule(epoch, currentRate)`. Keras:
/// `LearningRateScheduler(schedule)`; the epoch's logs carry `learning_rate`.
public final class LearningRateScheduler: Callback {
  /// The epoch (from 0) and the current rate → the rate for that epoch.
  public let schedule: (_ epoch: Int, _ learningRate: Float) -> Float
  /// The epoch's logs carry `learning_rate`.
  public var logsLearningRate: Bool { true }

  /// A callback calling `schedule` at every epoch's start.
  public init(_ schedule: @escaping (_ epoch: Int, _ learningRate: Float) -> Float) {
    self.schedule = schedule
  }

  /// Sets the optimizer's rate for `epoch` from the schedule; a non-finite or negative one is refused with a warning.
  public func onEpochBegin(_ epoch: Int, logs: Logs, model: Model) {
    guard let optimizer = model.optimizer else { return }
    let rate = schedule(epoch, optimizer.learningRate)
    if rate.isFinite && rate >= 0 {
      optimizer.learningRate = rate
    } else {
      FileHandle.standardError.write(
        Data(
          "Warning: LearningRateScheduler: the schedule gave \(rate) for epoch \(epoch + 1); the rate stays \(optimizer.learningRate).\n"
            .utf8))
    }
  }
}
