import Foundation
import StrataCore

/// Texts from a folder of class folders (`reviews/pos/*.txt`, `reviews/neg/*.txt`): Keras'
/// `text_dataset_from_directory`, read whole into memory.
public struct TextDataset: Sendable {
  /// Each file's text.
  public let texts: [String]
  /// Each text's label: `(n)` class indices, `(n, classes)` one-hot, or `(n, 1)`.
  public let labels: Tensor
  /// The class folders' names, sorted: label `i` is `classNames[i]`.
  public let classNames: [String]
  /// Each text's file.
  public let files: [URL]
}

/// The largest text file read: 64 MiB (a corpus of many small files is the expected case).
public let maximumTextFileBytes = 64 << 20

/// Reads the `.txt` files of `directory`'s class folders (sorted; shuffled with `seed`; split by
/// `validationSplit` and `subset` as ``ImageFolder`` splits images), Keras'
/// `text_dataset_from_directory(directory, labels="inferred", label_mode="int", max_length=None,
/// shuffle=True, seed=None, validation_split=None, subset=None)`.
/// - Parameter maxLength: keeps each text's first `maxLength` characters.
/// - Throws: for a file that is not UTF-8 (naming it and the byte offset), larger than
///   ``maximumTextFileBytes``, or a folder with no class folders of `.txt` files.
public func textDatasetFromDirectory(
  _ directory: URL, labelMode: ImageFolder.LabelMode = .int, maxLength: Int? = nil,
  shuffle: Bool = true, seed: UInt64 = 0, validationSplit: Float? = nil,
  subset: ImageFolder.Subset? = nil
) throws -> TextDataset {
  if let maxLength {
    try checkArgument(
      maxLength > 0, owner: "textDatasetFromDirectory", argument: "maxLength",
      value: "\(maxLength)", expected: "a positive number of characters")
  }
  let (classNames, files) = try ImageFolder.listing(
    directory, labelMode: labelMode, shuffle: shuffle, seed: seed,
    validationSplit: validationSplit, subset: subset, extensions: ["txt"],
    owner: "textDatasetFromDirectory", kind: ".txt files")
  let texts = try files.map { url, _ -> String in
    let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
    guard size <= maximumTextFileBytes else {
      throw StrataError.file(
        path: url.path, reason: "is \(size) bytes, over the \(maximumTextFileBytes) a text may have"
      )
    }
    let data = try Data(contentsOf: url)
    guard let text = String(validating: data, as: UTF8.self) else {
      let offset = firstInvalidUTF8Offset(data)
      throw StrataError.file(
        path: url.path, reason: "is not UTF-8 text (an invalid byte at offset \(offset))")
    }
    return maxLength.map { String(text.prefix($0)) } ?? text
  }
  return TextDataset(
    texts: texts,
    labels: ImageFolder.labels(files.map(\.1), classes: classNames.count, mode: labelMode),
    classNames: classNames, files: files.map(\.0))
}

/// The offset of the first byte of `data` that does not start or continue valid UTF-8.
private func firstInvalidUTF8Offset(_ data: Data) -> Int {
  var iterator = data.makeIterator()
  var decoder = UTF8()
  var offset = 0
  while case .scalarValue(let scalar) = decoder.decode(&iterator) { offset += UTF8.width(scalar) }
  return offset
}

/// Pads or cuts sequences to one length, as Keras' `pad_sequences(sequences, maxlen=None,
/// padding="pre", truncating="pre", value=0.0)`: a `(sequences, length)` tensor, the length
/// `maxLength` or the longest sequence's. `"pre"` pads (or cuts) at the start, `"post"` at the end.
public func padSequences(
  _ sequences: [[Float]], maxLength: Int? = nil, padding: String = "pre",
  truncating: String = "pre", value: Float = 0
) throws -> Tensor {
  let owner = "padSequences"
  for (argument, given) in [("padding", padding), ("truncating", truncating)]
  where given != "pre" && given != "post" {
    throw StrataError.invalidArgument(
      owner: owner, argument: argument, value: given, expected: "\"pre\" or \"post\"")
  }
  if let maxLength {
    try checkArgument(
      maxLength >= 0, owner: owner, argument: "maxLength", value: "\(maxLength)",
      expected: "a length of 0 or more")
  }
  let length = maxLength ?? sequences.map(\.count).max() ?? 0
  var values = [Float](repeating: value, count: try checkedCount(sequences.count, length, owner))
  for (row, sequence) in sequences.enumerated() {
    let kept = truncating == "pre" ? sequence.suffix(length) : sequence.prefix(length)
    let start = row * length + (padding == "pre" ? length - kept.count : 0)
    for (offset, element) in kept.enumerated() { values[start + offset] = element }
  }
  return try Tensor(shape: [sequences.count, length], scalars: values)
}

/// ``padSequences(_:maxLength:padding:truncating:value:)`` for integer sequences (token ids).
public func padSequences(
  _ sequences: [[Int]], maxLength: Int? = nil, padding: String = "pre",
  truncating: String = "pre", value: Float = 0
) throws -> Tensor {
  try padSequences(
    sequences.map { $0.map(Float.init) }, maxLength: maxLength, padding: padding,
    truncating: truncating, value: value)
}

private func checkedCount(_ rows: Int, _ length: Int, _ owner: String) throws -> Int {
  let (count, overflow) = rows.multipliedReportingOverflow(by: length)
  guard !overflow, count <= Limits.maximumTensorElements else {
    throw StrataError.invalidArgument(
      owner: owner, argument: "maxLength", value: "\(length) for \(rows) sequences",
      expected: "at most \(Limits.maximumTensorElements) values in all")
  }
  return count
}

/// Sliding windows over a time series, as Keras' `timeseries_dataset_from_array(data, targets,
/// sequence_length, sequence_stride=1, sampling_rate=1, shuffle=False, seed=None, start_index=None,
/// end_index=None)`: window `i` holds rows `start + i·stride + j·rate` for `j < sequenceLength`
/// of `data` (`(rows, features…)`), and its target is row `start + i·stride` of `targets`: the
/// target of a window is the one of its first row, as Keras pairs them. Batching is `fit`'s.
/// - Returns: the windows `(windows, sequenceLength, features…)` and their targets (`nil`
///   without `targets`): `model.fit(windows.x, windows.y!)`.
public func timeseriesDatasetFromArray(
  _ data: Tensor, targets: Tensor?, sequenceLength: Int, sequenceStride: Int = 1,
  samplingRate: Int = 1, shuffle: Bool = false, seed: UInt64 = 0, startIndex: Int? = nil,
  endIndex: Int? = nil
) throws -> (x: Tensor, y: Tensor?) {
  let owner = "timeseriesDatasetFromArray"
  guard data.rank >= 1, data.shape[0] > 0 else {
    throw StrataError.shapeMismatch(
      layer: owner, received: "data of shape \(data.shape)", expected: "(rows, features…)")
  }
  for (argument, value) in [
    ("sequenceLength", sequenceLength), ("sequenceStride", sequenceStride),
    ("samplingRate", samplingRate),
  ] {
    try checkArgument(
      value > 0, owner: owner, argument: argument, value: "\(value)",
      expected: "a positive integer")
  }
  let rows = data.shape[0]
  let start = startIndex ?? 0, end = endIndex ?? rows
  try checkArgument(
    start >= 0 && start < end && end <= rows, owner: owner, argument: "startIndex, endIndex",
    value: "\(start), \(end)", expected: "0 ≤ startIndex < endIndex ≤ \(rows)")
  var windows = end - start - (sequenceLength - 1) * samplingRate
  if let targets {
    guard targets.rank >= 1, targets.shape[0] == rows else {
      throw StrataError.shapeMismatch(
        layer: owner, received: "targets of shape \(targets.shape)",
        expected: "one target per row of data (\(rows))")
    }
    windows = min(windows, targets.shape[0])
  }
  guard windows > 0 else {
    throw StrataError.invalidArgument(
      owner: owner, argument: "sequenceLength", value: "\(sequenceLength)",
      expected: "windows that fit in rows \(start)..<\(end) at sampling rate \(samplingRate)")
  }
  var positions = Array(stride(from: 0, to: windows, by: sequenceStride))
  if shuffle {
    var generator = SeededGenerator(seed: seed)
    positions.shuffle(using: &generator)
  }
  let rowSize = data.count / rows
  let sample = sequenceLength * rowSize
  var x = try Tensor(
    checkedShape: [positions.count, sequenceLength] + Array(data.shape.dropFirst()), owner: owner)
  data.withUnsafeBufferPointer { source in
    x.withUnsafeMutableBufferPointer { out in
      for (w, position) in positions.enumerated() {
        for j in 0..<sequenceLength {
          let row = start + position + j * samplingRate
          (out.baseAddress! + w * sample + j * rowSize).update(
            from: source.baseAddress! + row * rowSize, count: rowSize)
        }
      }
    }
  }
  guard let targets else { return (x, nil) }
  let order = try Tensor(
    shape: [positions.count], scalars: positions.map { Float(start + $0) })
  return (x, try Ops.take(targets, order, axis: 0))
}

/// The lines of the UTF-8 text file at `url`, one text each (`\n` or `\r\n` ends a line; the
/// newline after the last line is optional): texts for a model's text input.
/// - Throws: for a missing, oversized or non-UTF-8 file, naming it (and the first invalid byte).
public func readTextLines(_ url: URL) throws -> [String] {
  let data = try readUntrustedFile(url, kind: "a text file")
  guard let text = String(validating: data, as: UTF8.self) else {
    throw StrataError.file(
      path: url.path,
      reason: "is not UTF-8 text (an invalid byte at offset \(firstInvalidUTF8Offset(data)))")
  }
  // "\r\n" is one Character in Swift.
  var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    .map(String.init)
  if lines.last == "" { lines.removeLast() }
  return lines
}
