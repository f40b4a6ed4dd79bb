import Foundation
import StrataCore

extension History {
  /// The metric names, training ones first, each followed by its `val_` counterpart.
  var orderedKeys: [String] {
    let base = history.keys.filter { !$0.hasPrefix("val_") }.sorted {
      $0 == "loss" ? true : $1 == "loss" ? false : $0 < $1
    }
    return base.flatMap { [$0] + (history["val_" + $0] != nil ? ["val_" + $0] : []) }
      + history.keys.filter { $0.hasPrefix("val_") && history[String($0.dropFirst(4))] == nil }
      .sorted()
  }

  /// One row per epoch (1-based, as Keras prints them): `epoch,loss,val_loss,accuracy,…`.
  public var csv: String {
    let keys = orderedKeys
    var lines = [(["epoch"] + keys).joined(separator: ",")]
    for (row, epoch) in epochs.enumerated() {
      lines.append(
        (["\(epoch + 1)"]
          + keys.map { key in history[key].map { row < $0.count ? "\($0[row])" : "" } ?? "" })
          .joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// Writes ``csv`` to `url`, atomically.
  public func writeCSV(to url: URL) throws { try AtomicFile.write(Data(csv.utf8), to: url) }

  /// Learning curves as an SVG document: one panel per metric (loss, accuracy, …), training as a solid
  /// line and validation dashed, by epoch, like the tutorials' matplotlib plots.
  public func svg(title: String = "Learning curves") -> String {
    let metrics = orderedKeys.filter { !$0.hasPrefix("val_") }
    let panelWidth = 420.0, panelHeight = 280.0, margin = 50.0
    let width = Double(max(metrics.count, 1)) * (panelWidth + margin) + margin,
      height = panelHeight + 3.2 * margin
    var svg = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="12">
      <rect width="100%" height="100%" fill="white"/>
      <text x="\(margin)" y="24" font-size="16">\(escape(title))</text>

      """
    for (index, metric) in metrics.enumerated() {
      let left = margin + Double(index) * (panelWidth + margin), top = 1.5 * margin
      let series = [
        (metric, history[metric] ?? [], "#1f77b4", ""),
        ("val_" + metric, history["val_" + metric] ?? [], "#ff7f0e", " stroke-dasharray=\"6 4\""),
      ]
      let values = series.flatMap(\.1).filter(\.isFinite)
      var low = Double(values.min() ?? 0), high = Double(values.max() ?? 1)
      if high - low < 1e-9 { low -= 0.5; high += 0.5 }
      let count = max(epochs.count, 2)
      func x(_ i: Int) -> Double { left + panelWidth * Double(i) / Double(count - 1) }
      func y(_ v: Float) -> Double { top + panelHeight * (1 - (Double(v) - low) / (high - low)) }
      svg +=
        "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(panelWidth)\" height=\"\(panelHeight)\" fill=\"none\" stroke=\"#888\"/>\n"
      svg += "<text x=\"\(left)\" y=\"\(top - 8)\" font-size=\"14\">\(escape(metric))</text>\n"
      for tick in 0...4 {
        let value = low + (high - low) * Double(tick) / 4,
          ty = top + panelHeight * (1 - Double(tick) / 4)
        svg +=
          "<text x=\"\(left - 6)\" y=\"\(ty + 4)\" text-anchor=\"end\">\(String(format: "%.3g", value))</text>\n"
        svg +=
          "<line x1=\"\(left)\" y1=\"\(ty)\" x2=\"\(left + panelWidth)\" y2=\"\(ty)\" stroke=\"#eee\"/>\n"
      }
      for (i, epoch) in epochs.enumerated()
      where epochs.count <= 20 || i % max(1, epochs.count / 10) == 0 {
        svg +=
          "<text x=\"\(x(i))\" y=\"\(top + panelHeight + 16)\" text-anchor=\"middle\">\(epoch + 1)</text>\n"
      }
      svg +=
        "<text x=\"\(left + panelWidth / 2)\" y=\"\(top + panelHeight + 34)\" text-anchor=\"middle\">epoch</text>\n"
      for (legend, (name, points, color, dash)) in series.enumerated() where !points.isEmpty {
        let path = points.enumerated().filter { $0.element.isFinite }
          .map {
            "\(String(format: "%.1f", x($0.offset))),\(String(format: "%.1f", y($0.element)))"
          }.joined(separator: " ")
        svg +=
          "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
        for (i, v) in points.enumerated() where v.isFinite {
          svg +=
            "<circle cx=\"\(String(format: "%.1f", x(i)))\" cy=\"\(String(format: "%.1f", y(v)))\" r=\"3\" fill=\"\(color)\"/>\n"
        }
        // The legend sits under the axis, so it never hides a curve.
        let lx = left + Double(legend) * 150, ly = top + panelHeight + 54
        svg +=
          "<line x1=\"\(lx)\" y1=\"\(ly - 4)\" x2=\"\(lx + 20)\" y2=\"\(ly - 4)\" stroke=\"\(color)\" stroke-width=\"2\"\(dash)/>\n"
        svg += "<text x=\"\(lx + 26)\" y=\"\(ly)\">\(escape(name))</text>\n"
      }
    }
    return svg + "</svg>\n"
  }

  /// Writes ``svg(title:)`` to `url`, atomically.
  public func writeSVG(to url: URL, title: String = "Learning curves") throws {
    try AtomicFile.write(Data(svg(title: title).utf8), to: url)
  }
}

private func escape(_ text: String) -> String {
  text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
    .replacingOccurrences(of: ">", with: "&gt;")
}
