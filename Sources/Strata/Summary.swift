import StrataCore

extension Sequential {
  /// The classic Keras table: each layer's name and type, output shape and parameter count, then the
  /// totals. Unbuilt layers show `?` as their shape, as Keras shows `(unbuilt)`.
  ///
  /// ```
  /// Model: "sequential"
  /// _________________________________________________________________
  /// Layer (type)                Output Shape              Param #
  /// =================================================================
  /// flatten (Flatten)           (None, 784)               0
  /// ```
  /// The classic table with Keras' column stops.
  func sequentialSummary(lineLength: Int) -> String {
    let rows = layers.indices.map { index -> [String] in
      let shape = index < outputShapes.count ? kerasShape(outputShapes[index]) : "?"
      let type = layers[index].identifier.split(separator: ">").last.map(String.init) ?? ""
      return ["\(layerNames[index]) (\(type))", shape, "\(layers[index].parameterCount)"]
    }
    // Keras' column stops (0.45, 0.85, 1.0 of the line), widened rather than cutting a long name.
    let firstWidth = max(Int(Double(lineLength) * 0.45), (rows.map { $0[0].count }.max() ?? 0) + 2)
    let secondWidth = max(Int(Double(lineLength) * 0.40), (rows.map { $0[1].count }.max() ?? 0) + 2)
    let width = max(lineLength, firstWidth + secondWidth + 10)
    func row(_ fields: [String]) -> String {
      fields[0].padding(toLength: firstWidth, withPad: " ", startingAt: 0)
        + fields[1].padding(toLength: secondWidth, withPad: " ", startingAt: 0) + fields[2]
    }
    let thin = String(repeating: "_", count: width), thick = String(repeating: "=", count: width)
    var lines = [
      "Model: \"\(name)\"", thin, row(["Layer (type)", "Output Shape", "Param #"]), thick,
    ]
    for (i, fields) in rows.enumerated() {
      lines.append(row(fields))
      lines.append(i == rows.count - 1 ? thick : thin)
    }
    if rows.isEmpty { lines.append(thick) }
    lines += totals(of: parameters) + [thin]
    return lines.joined(separator: "\n")
  }
}

/// The summary's last lines: total, trainable and non-trainable parameter counts.
func totals(of parameters: [Parameter]) -> [String] {
  let total = parameters.reduce(0) { $0 + $1.count }
  let trainable = parameters.filter(\.isTrainable).reduce(0) { $0 + $1.count }
  return [
    "Total params: \(grouped(total))", "Trainable params: \(grouped(trainable))",
    "Non-trainable params: \(grouped(total - trainable))",
  ]
}

/// `101770` → `"101,770"`.
func grouped(_ value: Int) -> String {
  let digits = Array(String(value))
  var result = ""
  for (i, digit) in digits.enumerated() {
    if i > 0 && (digits.count - i) % 3 == 0 { result.append(",") }
    result.append(digit)
  }
  return result
}

import Foundation
