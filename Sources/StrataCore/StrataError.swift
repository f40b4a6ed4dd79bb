import Foundation

/// Every error Strata throws for something a user passed in: an identifier, an argument, a shape or a file.
///
/// Each message names the layer, argument or file involved and the value that was received, so a
/// Keras user can fix the call without reading Strata's source.
public enum StrataError: Error, Equatable, CustomStringConvertible, Sendable {
  /// No `kind` (layer, activation, …) is registered under `identifier`; `suggestions` are the closest names.
  case unknownIdentifier(kind: String, identifier: String, suggestions: [String])
  /// Several plugin packages register `identifier`; only the qualified names in `candidates`
  /// (`"Acme>LeakyReLU"`) tell them apart.
  case ambiguousIdentifier(kind: String, identifier: String, candidates: [String])
  /// `identifier` is registered already; registering twice is refused, never a silent override.
  case duplicateIdentifier(kind: String, identifier: String)
  /// An argument of `owner` (a layer, activation, … or function) has a value it cannot take.
  case invalidArgument(owner: String, argument: String, value: String, expected: String)
  /// `owner` has no argument called `argument`; `suggestions` are the closest argument names.
  case unknownArgument(owner: String, argument: String, suggestions: [String])
  /// `owner` needs `argument` and it was not given.
  case missingArgument(owner: String, argument: String)
  /// A layer received a tensor of a shape it cannot take. Shapes are printed the Keras way, `(None, 784)`.
  case shapeMismatch(layer: String, received: String, expected: String)
  /// An operation was called in a state that does not allow it (for example `fit` before `compile`).
  case invalidState(String)
  /// A file could not be read or written, or its contents are not what they claim to be.
  case file(path: String, reason: String)

  public var description: String {
    switch self {
    case .unknownIdentifier(let kind, let identifier, let suggestions):
      let hint =
        suggestions.isEmpty
        ? "" : " Did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?"
      return "Unknown \(kind) identifier '\(identifier)'.\(hint)"
    case .ambiguousIdentifier(let kind, let identifier, let candidates):
      return "The \(kind) identifier '\(identifier)' is ambiguous: several plugins register it. "
        + "Use a qualified name: \(candidates.map { "'\($0)'" }.joined(separator: ", "))."
    case .duplicateIdentifier(let kind, let identifier):
      return "The \(kind) identifier '\(identifier)' is registered already."
    case .invalidArgument(let owner, let argument, let value, let expected):
      return "\(owner): invalid \(argument) \(value); expected \(expected)."
    case .unknownArgument(let owner, let argument, let suggestions):
      let hint =
        suggestions.isEmpty
        ? "" : " Did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?"
      return "\(owner) has no argument '\(argument)'.\(hint)"
    case .missingArgument(let owner, let argument):
      return "\(owner): the argument '\(argument)' is required."
    case .shapeMismatch(let layer, let received, let expected):
      return "Layer '\(layer)' received an input of shape \(received), but it needs \(expected)."
    case .invalidState(let message):
      return message
    case .file(let path, let reason):
      return "\(path): \(reason)"
    }
  }
}

extension StrataError: LocalizedError {
  /// The same text as ``description``, so `error.localizedDescription` reads well too.
  public var errorDescription: String? { description }
}

/// Formats a shape the way Keras prints it: the batch axis as `None`, `(None, 28, 28)`.
public func kerasShape(_ shape: [Int], batch: Bool = true) -> String {
  let parts = (batch ? ["None"] : []) + shape.map(String.init)
  return "(" + parts.joined(separator: ", ") + (parts.count == 1 ? ",)" : ")")
}

/// The names among `candidates` closest to `name` by edit distance (case-insensitive), best first.
///
/// Used by every "unknown identifier" and "unknown argument" error.
public func closestNames(to name: String, in candidates: [String], limit: Int = 3) -> [String] {
  let target = Array(name.lowercased())
  // One candidate per spelling that differs only in case ("Accuracy", "accuracy"): the closest in case.
  var byFolded: [String: String] = [:]
  for candidate in candidates {
    let folded = candidate.lowercased()
    if let kept = byFolded[folded],
      editDistance(Array(name), Array(kept)) <= editDistance(Array(name), Array(candidate))
    {
      continue
    }
    byFolded[folded] = candidate
  }
  let scored = byFolded.values.map { candidate -> (String, Double) in
    let c = Array(candidate.lowercased())
    var score = Double(editDistance(target, c))
    // One name extending the other ("relu" and "relu6") is the likeliest slip of all.
    if !target.isEmpty && (c.starts(with: target) || target.starts(with: c)) {
      score = min(score, 0.5)
    }
    return (candidate, score)
  }
  let threshold = Double(max(2, target.count / 2))
  guard let best = scored.map(\.1).min(), best <= threshold else { return [] }
  // Only the names as close as the closest one (and within one edit of it for short names).
  let cutoff = best < 1 ? 1.0 : best
  return scored.filter { $0.1 <= cutoff }
    .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
    .prefix(limit).map(\.0)
}

func editDistance(_ a: [Character], _ b: [Character]) -> Int {
  if a.isEmpty { return b.count }
  if b.isEmpty { return a.count }
  var previous = Array(0...b.count)
  var current = [Int](repeating: 0, count: b.count + 1)
  for i in 1...a.count {
    current[0] = i
    for j in 1...b.count {
      let cost = a[i - 1] == b[j - 1] ? 0 : 1
      current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
    }
    swap(&previous, &current)
  }
  return previous[b.count]
}

/// Throws ``StrataError/invalidArgument(owner:argument:value:expected:)`` unless `condition` holds:
/// how a component refuses a bad argument by name (`value` and `expected` are only built when it
/// does not).
@inlinable public func checkArgument(
  _ condition: Bool, owner: @autoclosure () -> String, argument: @autoclosure () -> String,
  value: @autoclosure () -> String, expected: @autoclosure () -> String
) throws {
  guard condition else {
    throw StrataError.invalidArgument(
      owner: owner(), argument: argument(), value: value(), expected: expected())
  }
}
