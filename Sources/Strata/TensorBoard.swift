import Foundation
import StrataCore

/// Writes the scalars of a run as TensorBoard event files, as Keras' `TensorBoard(log_dir)` does:
/// `LOGDIR/train` gets `epoch_loss`, `epoch_<metric>` and `epoch_learning_rate` at each epoch (step =
/// the epoch, from 0); `LOGDIR/validation` gets the `val_` values under the same tags, after
/// `evaluation_<metric>_vs_iterations` at the optimizer's step count. With `updateFrequency: .batches(N)`
/// the train run also gets `batch_loss` and `batch_<metric>` (the epoch's running means) every N-th
/// batch, counted over the whole run.
///
/// Open the directory with `tensorboard --logdir LOGDIR`. The files are TFRecord-framed `Event`
/// protocol buffers with masked CRC-32C checksums; ``TensorBoardReader`` reads them back.
public final class TensorBoard: Callback {
  /// It writes event files: rank 0's job in a distributed `fit`.
  public var runsOnRankZeroOnly: Bool { true }
  /// How often batch-level scalars are written.
  public enum UpdateFrequency: Sendable, Equatable {
    /// Only at the end of each epoch (Keras' default `"epoch"`).
    case epoch
    /// Also every `n` batches.
    case batches(Int)
  }

  /// The log directory; runs are its `train` and `validation` subdirectories.
  public let logDirectory: URL
  /// How often batch-level scalars are written.
  public let updateFrequency: UpdateFrequency
  private var train: EventWriter?
  private var validation: EventWriter?
  private var globalBatch = 0
  private static let counter = Counter()

  /// A callback writing into `logDirectory` (created if missing).
  public init(_ logDirectory: String, updateFrequency: UpdateFrequency = .epoch) {
    self.logDirectory = URL(fileURLWithPath: logDirectory)
    self.updateFrequency = updateFrequency
  }

  /// Counts batches from the optimizer's step count (a resumed run goes on from it).
  public func onTrainBegin(logs: Logs, model: Model) {
    globalBatch = model.optimizer?.iterations ?? 0
  }

  /// Writes the batch scalars every N-th batch with `updateFrequency: .batches(N)`.
  public func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {
    globalBatch += 1
    guard case .batches(let n) = updateFrequency, n > 0, globalBatch % n == 0 else { return }
    write(to: \.train, run: "train", step: globalBatch, values: ordered(logs, prefix: "batch_"))
  }

  /// Writes the epoch's scalars: training ones to `train`, `val_` ones to `validation`.
  public func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) {
    var trainLogs = logs.filter { !$0.key.hasPrefix("val_") && $0.key != "learning_rate" }
    var values = ordered(trainLogs, prefix: "epoch_")
    if let rate = model.optimizer?.learningRate { values.append(("epoch_learning_rate", rate)) }
    write(to: \.train, run: "train", step: epoch, values: values)
    trainLogs = [:]
    for (key, value) in logs where key.hasPrefix("val_") {
      trainLogs[String(key.dropFirst(4))] = value
    }
    if !trainLogs.isEmpty {
      let iterations = model.optimizer?.iterations ?? 0
      let evaluation = ordered(trainLogs, prefix: "").map {
        ("evaluation_\($0.0)_vs_iterations", $0.1)
      }
      write(to: \.validation, run: "validation", step: iterations, values: evaluation)
      write(
        to: \.validation, run: "validation", step: epoch,
        values: ordered(trainLogs, prefix: "epoch_"))
    }
  }

  /// Flushes and closes the event files.
  public func onTrainEnd(logs: Logs, model: Model) {
    train?.close()
    validation?.close()
    train = nil
    validation = nil
  }

  /// `loss` first, then the other values by name, as Keras writes them.
  private func ordered(_ logs: Logs, prefix: String) -> [(String, Float)] {
    let keys = logs.keys.sorted { a, b in a == "loss" ? b != "loss" : (b == "loss" ? false : a < b)
    }
    return keys.map { (prefix + $0, logs[$0]!) }
  }

  private func write(
    to writer: ReferenceWritableKeyPath<TensorBoard, EventWriter?>, run: String, step: Int,
    values: [(String, Float)]
  ) {
    do {
      if self[keyPath: writer] == nil {
        self[keyPath: writer] = try EventWriter(
          directory: logDirectory.appendingPathComponent(run), index: Self.counter.next())
      }
      for (tag, value) in values {
        try self[keyPath: writer]?.writeScalar(tag: tag, value: value, step: step)
      }
      try self[keyPath: writer]?.flush()
    } catch {
      FileHandle.standardError.write(
        Data("Warning: TensorBoard: could not write to \(logDirectory.path): \(error)\n".utf8))
    }
  }

  /// Numbers the event files this process writes, as TensorFlow's writers do.
  final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func next() -> Int {
      lock.lock()
      defer { lock.unlock() }
      value += 1
      return value - 1
    }
  }
}

/// One event file: `events.out.tfevents.<seconds>.<host>.<pid>.<index>.v2`, starting with the
/// `file_version` record.
final class EventWriter {
  let url: URL
  private let handle: FileHandle
  private var buffer: [UInt8] = []

  init(directory: URL, index: Int) throws {
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let seconds = Int(Date().timeIntervalSince1970)
    let host =
      ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
    url = directory.appendingPathComponent(
      "events.out.tfevents.\(seconds).\(host).\(ProcessInfo.processInfo.processIdentifier).\(index).v2"
    )
    guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
      throw StrataError.file(path: url.path, reason: "cannot be created")
    }
    handle = try FileHandle(forWritingTo: url)
    buffer += EventCoding.record(EventCoding.fileVersion(wallTime: Double(seconds)))
  }

  func writeScalar(tag: String, value: Float, step: Int) throws {
    let event = EventCoding.scalar(
      tag: tag, value: value, step: step, wallTime: Date().timeIntervalSince1970)
    buffer += EventCoding.record(event)
  }

  func flush() throws {
    guard !buffer.isEmpty else { return }
    try handle.write(contentsOf: buffer)
    buffer.removeAll(keepingCapacity: true)
  }

  func close() {
    try? flush()
    try? handle.close()
  }
}

/// The few protocol-buffer messages and the TFRecord framing TensorBoard reads.
public enum EventCoding {
  /// CRC-32C (Castagnoli) of `bytes`.
  public static func crc32c(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
    return ~crc
  }

  private static let table: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
    return crc
  }

  /// TFRecord's masked checksum: `((crc >> 15) | (crc << 17)) + 0xa282ead8`.
  public static func maskedCRC(_ bytes: some Sequence<UInt8>) -> UInt32 {
    let crc = crc32c(bytes)
    return ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
  }

  /// A TFRecord: length, its masked CRC, the data, its masked CRC.
  public static func record(_ data: [UInt8]) -> [UInt8] {
    let length = littleEndian(UInt64(data.count))
    return length + littleEndian(maskedCRC(length)) + data + littleEndian(maskedCRC(data))
  }

  static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
  }

  static func varint(_ value: UInt64) -> [UInt8] {
    var value = value
    var bytes: [UInt8] = []
    repeat {
      let low = UInt8(value & 0x7F)
      value >>= 7
      bytes.append(value == 0 ? low : low | 0x80)
    } while value != 0
    return bytes
  }

  static func field(_ number: Int, _ bytes: [UInt8]) -> [UInt8] {
    varint(UInt64(number << 3 | 2)) + varint(UInt64(bytes.count)) + bytes
  }

  static func wallTime(_ seconds: Double) -> [UInt8] { [0x09] + littleEndian(seconds.bitPattern) }

  /// The first record of every file: `file_version: "brain.Event:2"` and the writer's name.
  public static func fileVersion(wallTime seconds: Double) -> [UInt8] {
    wallTime(seconds) + field(3, Array("brain.Event:2".utf8))
      + field(10, field(1, Array("tensorflow.core.util.events_writer".utf8)))
  }

  /// A scalar summary as TF2 writes it: a DT_FLOAT scalar tensor, plugin `scalars`.
  public static func scalar(tag: String, value: Float, step: Int, wallTime seconds: Double)
    -> [UInt8]
  {
    let tensor = [0x08, 0x01] + field(2, []) + field(4, littleEndian(value.bitPattern))
    let metadata = field(1, field(1, Array("scalars".utf8)))
    let summaryValue = field(1, Array(tag.utf8)) + field(8, tensor) + field(9, metadata)
    let stepField = step == 0 ? [] : [0x10] + varint(UInt64(bitPattern: Int64(step)))
    return wallTime(seconds) + stepField + field(5, field(1, summaryValue))
  }
}
