import Foundation
import StrataCore

/// A table read from a CSV file with a header row: numbers for the features, and a label column of
/// numbers or of class names (`strata train --csv data.csv --label species`).
///
/// Fields are separated by commas; a field may be quoted (`"a, b"`, `""` for a quote inside). Empty
/// lines are skipped. Every feature must be a number; a label column of names becomes class indices,
/// the names sorted.
public struct CSVTable: Sendable {
  /// The column names, from the header row.
  public let header: [String]
  /// The fields of each row after the header.
  public let rows: [[String]]

  /// The largest CSV file read: 1 GiB.
  public static let maximumBytes = 1 << 30

  /// Reads `url`.
  /// - Throws: for a missing, non-UTF-8 or oversized file, a row whose field count differs from the
  ///   header's (naming the line), or an unterminated quote.
  public init(contentsOf url: URL) throws {
    let data = try readUntrustedFile(url, kind: "a CSV file")
    guard data.count <= CSVTable.maximumBytes else {
      throw StrataError.file(path: url.path, reason: "is over \(CSVTable.maximumBytes) bytes")
    }
    guard let text = String(validating: data, as: UTF8.self) else {
      throw StrataError.file(path: url.path, reason: "is not UTF-8 text")
    }
    try self.init(text: text, path: url.path)
  }

  /// Parses CSV text; `path` names it in errors.
  public init(text: String, path: String = "CSV text") throws {
    var lines: [(number: Int, fields: [String])] = []
    // "\r\n" is one Character, a newline as "\n" is.
    for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
      .enumerated()
    {
      if line.allSatisfy(\.isWhitespace) { continue }
      lines.append((index + 1, try CSVTable.fields(of: line, line: index + 1, path: path)))
    }
    guard let first = lines.first else {
      throw StrataError.file(path: path, reason: "holds no header row")
    }
    for line in lines.dropFirst() where line.fields.count != first.fields.count {
      throw StrataError.file(
        path: path,
        reason:
          "line \(line.number) has \(line.fields.count) fields, the header \(first.fields.count)")
    }
    header = first.fields
    rows = lines.dropFirst().map(\.fields)
  }

  /// The fields of one line.
  static func fields(of line: Substring, line number: Int, path: String) throws -> [String] {
    var fields: [String] = [], field = "", quoted = false, wasQuoted = false
    var characters = line.makeIterator()
    while let character = characters.next() {
      if quoted {
        if character == "\"" {
          // `""` inside quotes is one quote; a lone one ends the quoted part.
          var lookahead = characters
          if lookahead.next() == "\"" {
            field.append("\"")
            characters = lookahead
          } else {
            quoted = false
          }
        } else {
          field.append(character)
        }
      } else if character == "\"" && field.isEmpty && !wasQuoted {
        quoted = true
        wasQuoted = true
      } else if character == "," {
        fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
        (field, wasQuoted) = ("", false)
      } else {
        field.append(character)
      }
    }
    guard !quoted else {
      throw StrataError.file(path: path, reason: "line \(number) has an unterminated quote")
    }
    fields.append(wasQuoted ? field : field.trimmingCharacters(in: .whitespaces))
    return fields
  }

  /// The features (every column but `label`, or `features` when given) as `(rows, features)`, and
  /// the labels `(rows)`: numbers as they are, or class indices when the column holds names.
  /// - Throws: naming an unknown column (with the closest names), or a feature that is not a number
  ///   (with its line and column).
  public func columns(label: String, features: [String]? = nil) throws -> (
    x: Tensor, y: Tensor, classNames: [String]?
  ) {
    func index(_ name: String) throws -> Int {
      guard let index = header.firstIndex(of: name) else {
        throw StrataError.invalidArgument(
          owner: "CSV", argument: "column", value: "'\(name)'",
          expected:
            "a column of the header (\(closestNames(to: name, in: header).joined(separator: ", ")))"
        )
      }
      return index
    }
    let labelIndex = try index(label)
    let featureIndices = try (features ?? header.filter { $0 != label }).map(index)
    try checkArgument(
      !featureIndices.isEmpty && !rows.isEmpty, owner: "CSV", argument: "columns",
      value: "\(featureIndices.count) features, \(rows.count) rows",
      expected: "at least one feature column and one row")
    var values: [Float] = []
    values.reserveCapacity(rows.count * featureIndices.count)
    for (row, fields) in rows.enumerated() {
      for column in featureIndices {
        guard let value = Float(fields[column]), value.isFinite else {
          throw StrataError.invalidArgument(
            owner: "CSV", argument: header[column],
            value: "'\(fields[column].prefix(40))' on row \(row + 1)",
            expected: "a finite number")
        }
        values.append(value)
      }
    }
    let labels = rows.map { $0[labelIndex] }
    var classNames: [String]?
    var y: [Float]
    if labels.allSatisfy({ Float($0)?.isFinite == true }) {
      y = labels.map { Float($0)! }
    } else {
      let names = Array(Set(labels)).sorted()
      let position = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
      y = labels.map { Float(position[$0]!) }
      classNames = names
    }
    return (
      try Tensor(shape: [rows.count, featureIndices.count], scalars: values),
      try Tensor(shape: [rows.count], scalars: y), classNames
    )
  }
}
