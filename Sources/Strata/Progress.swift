import Foundation
import Synchronization

/// How much `fit` and `evaluate` print. An integer literal works too: `verbose: 0`.
public enum Verbosity: Int, Sendable, ExpressibleByIntegerLiteral {
  /// Nothing.
  case silent = 0
  /// Keras' progress bar, redrawn in place.
  case progressBar = 1
  /// One line per epoch.
  case oneLinePerEpoch = 2
  /// The progress bar on a terminal, one line per epoch otherwise (Keras' `"auto"`).
  case auto = -1

  public init(integerLiteral value: Int) { self = Verbosity(rawValue: value) ?? .auto }

  var resolved: Verbosity {
    guard self == .auto else { return self }
    return isatty(STDOUT_FILENO) == 1 ? .progressBar : .oneLinePerEpoch
  }
}

/// Where Strata prints: `fit`'s progress bar and epoch lines, `evaluate`, the callbacks' messages and
/// the `strata` command. Standard output (and standard error for errors), unless a sink is bound for
/// the current task, as a test or an application with its own log does:
///
/// ```swift
/// try Console.$sink.withValue({ text in log.append(text) }) { try model.fit(x, y, epochs: 5) }
/// ```
public enum Console {
  /// Receives what would go to standard output, newlines included.
  @TaskLocal public static var sink: (@Sendable (String) -> Void)?
  /// Receives what would go to standard error, newlines included.
  @TaskLocal public static var errorSink: (@Sendable (String) -> Void)?

  private static let silenced = Atomic<Bool>(false)

  /// Whether standard output is off for the whole process: so it is on every rank but the first of
  /// a distributed run, which prints for all of them. Errors still go to standard error, and a
  /// bound ``sink`` still receives its text.
  public static var isSilenced: Bool {
    get { silenced.load(ordering: .relaxed) }
    set { silenced.store(newValue, ordering: .relaxed) }
  }

  /// Writes `text` as it is (no newline added).
  public static func write(_ text: String) {
    if let sink {
      sink(text)
    } else if !isSilenced {
      FileHandle.standardOutput.write(Data(text.utf8))
    }
  }

  /// Writes `line` and a newline, flushed: a log file or a pipe sees it at once.
  public static func line(_ line: String) {
    if let sink {
      sink(line + "\n")
    } else if !isSilenced {
      print(line)
      fflush(nil)
    }
  }

  /// Writes `line` and a newline to standard error.
  public static func errorLine(_ line: String) {
    if let errorSink {
      errorSink(line + "\n")
    } else {
      FileHandle.standardError.write(Data((line + "\n").utf8))
    }
  }
}

/// Keras' progress bar: `1875/1875 [==============================] - 2s 1ms/step - loss: 0.4958`.
struct ProgressBar {
  let target: Int
  let verbosity: Verbosity
  let width = 30
  let start = ContinuousClock.now
  private var lastDraw = ContinuousClock.now
  private var drawnLength = 0

  init(target: Int, verbosity: Verbosity) {
    self.target = target
    self.verbosity = verbosity
  }

  static func format(_ value: Float) -> String {
    abs(value) > 1e-3 || value == 0 ? String(format: "%.4f", value) : String(format: "%.4e", value)
  }

  static func values(_ entries: [(String, Float)]) -> String {
    entries.map { " - \($0.0): \(format($0.1))" }.joined()
  }

  private static func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
  }

  private static func perStep(_ seconds: Double) -> String {
    if seconds >= 1 { return String(format: "%.0fs/step", seconds) }
    if seconds >= 1e-3 { return String(format: "%.0fms/step", seconds * 1e3) }
    return String(format: "%.0fus/step", seconds * 1e6)
  }

  private static func eta(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    if s >= 3600 { return String(format: "%d:%02d:%02d", s / 3600, (s % 3600) / 60, s % 60) }
    if s >= 60 { return String(format: "%d:%02d", s / 60, s % 60) }
    return "\(s)s"
  }

  private func counter(_ current: Int) -> String {
    let digits = String(target).count
    return String(repeating: " ", count: max(0, digits - String(current).count))
      + "\(current)/\(target)"
  }

  /// The bar after `current` steps, `elapsed` seconds in: with an ETA while running, with the time taken
  /// and the time per step once `final`.
  func render(_ current: Int, values: [(String, Float)], elapsed: Double, final: Bool) -> String {
    let perStep = elapsed / Double(max(current, 1))
    if verbosity == .oneLinePerEpoch {
      return "\(counter(current)) - \(Int(elapsed.rounded()))s - \(ProgressBar.perStep(perStep))"
        + ProgressBar.values(values)
    }
    let filled = Int(Double(width) * Double(current) / Double(max(target, 1)))
    var bar = counter(current) + " ["
    if filled > 0 {
      bar += String(repeating: "=", count: filled - 1) + (current < target ? ">" : "=")
    }
    bar += String(repeating: ".", count: width - filled) + "]"
    if final {
      bar += " - \(Int(elapsed.rounded()))s \(ProgressBar.perStep(perStep))"
    } else {
      bar += " - ETA: \(ProgressBar.eta(perStep * Double(target - current)))"
    }
    return bar + ProgressBar.values(values)
  }

  /// Redraws the bar after `current` steps; the last call (`final`) ends the line.
  mutating func update(_ current: Int, values: [(String, Float)], final: Bool = false) {
    let now = ContinuousClock.now
    let elapsed = ProgressBar.seconds(now - start)
    switch verbosity {
    case .progressBar:
      // Redrawing costs more than a small training step: at most 20 times a second.
      guard final || current == 1 || ProgressBar.seconds(now - lastDraw) >= 0.05 else { return }
      lastDraw = now
      let bar = render(current, values: values, elapsed: elapsed, final: final)
      let padding = String(repeating: " ", count: max(0, drawnLength - bar.count))
      drawnLength = bar.count
      Console.write("\r" + bar + padding + (final ? "\n" : ""))
    case .oneLinePerEpoch:
      guard final else { return }
      Console.line(render(current, values: values, elapsed: elapsed, final: true))
    default:
      return
    }
  }
}
