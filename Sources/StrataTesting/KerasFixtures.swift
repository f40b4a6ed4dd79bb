import Foundation
import StrataCore

/// Reads the Keras reference files (`{"generator": …, "cases": [...]}`, arrays as
/// `{"shape": [...], "data": [...]}` flat and row-major).
public struct KerasFixture: Sendable {
  /// What made the numbers (`"keras 3.15.1, tensorflow 2.21.0, float32"`).
  public let generator: String
  /// The fixture's cases, in order.
  public let cases: [KerasCase]

  /// Loads a fixture file.
  /// - Throws: ``StrataError/file(path:reason:)`` when it is missing or not a fixture.
  public init(contentsOf url: URL) throws {
    let data: Data
    do { data = try Data(contentsOf: url) } catch {
      throw StrataError.file(
        path: url.path, reason: "cannot be read (\(error.localizedDescription))")
    }
    try self.init(json: data, path: url.path)
  }

  /// A fixture from its JSON (a compressed fixture's, once inflated); `path` names it in errors.
  /// - Throws: ``StrataError/file(path:reason:)`` when it is not a fixture.
  public init(json data: Data, path: String) throws {
    guard let root = try? ConfigValue(json: data).objectValue,
      let cases = root["cases"]?.arrayValue
    else {
      throw StrataError.file(path: path, reason: "is not a Keras fixture ({\"cases\": [...]})")
    }
    generator = root["generator"]?.stringValue ?? ""
    self.cases = cases.compactMap { $0.objectValue.map(KerasCase.init) }
  }

  /// The cases whose `key` is `value` (`cases(where: "layer", is: "Dense")`).
  public func cases(where key: String, is value: String) -> [KerasCase] {
    cases.filter { $0[key]?.stringValue == value }
  }
}

/// One case of a fixture: named values, some of them arrays.
public struct KerasCase: Sendable, CustomStringConvertible {
  /// The case's fields.
  public let values: [String: ConfigValue]
  /// A case of `values`.
  public init(_ values: [String: ConfigValue]) { self.values = values }

  /// One field.
  public subscript(_ key: String) -> ConfigValue? { values[key] }

  /// The array under `key` as a tensor.
  public func tensor(_ key: String) throws -> Tensor {
    guard let value = values[key] else {
      throw StrataError.invalidArgument(
        owner: "KerasCase", argument: key, value: "missing", expected: "an array")
    }
    return try KerasCase.tensor(from: value)
  }

  /// The list of arrays under `key` (weights, gradients) as tensors.
  public func tensors(_ key: String) throws -> [Tensor] {
    try (values[key]?.arrayValue ?? []).map(KerasCase.tensor(from:))
  }

  /// `{"shape": [...], "data": [...]}` as a tensor.
  public static func tensor(from value: ConfigValue) throws -> Tensor {
    guard let object = value.objectValue,
      let shape = object["shape"]?.arrayValue?.compactMap(\.intValue),
      let data = object["data"]?.arrayValue
    else {
      throw StrataError.invalidArgument(
        owner: "KerasCase", argument: "array", value: String(value.description.prefix(60)),
        expected: "{\"shape\": [...], \"data\": [...]}")
    }
    return try Tensor(shape: shape, scalars: data.map { Float($0.doubleValue ?? .nan) })
  }

  public var description: String {
    (["layer", "activation", "loss", "optimizer", "desc"].compactMap { values[$0]?.stringValue })
      .joined(separator: " ")
  }
}

/// The largest difference between two tensors relative to `atol + rtol · |expected|` (≤ 1 means close),
/// or `.infinity` when the shapes differ.
public func closeness(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6)
  -> Float
{
  guard actual.shape == expected.shape else { return .infinity }
  var worst: Float = 0
  actual.withUnsafeBufferPointer { a in
    expected.withUnsafeBufferPointer { e in
      for i in a.indices {
        let allowed = atol + rtol * abs(e[i])
        let ratio = abs(a[i] - e[i]) / allowed
        worst = max(worst, ratio.isNaN ? .infinity : ratio)
      }
    }
  }
  return worst
}

/// Whether two tensors agree within `atol + rtol · |expected|`, element by element.
public func isClose(_ actual: Tensor, _ expected: Tensor, rtol: Float = 1e-5, atol: Float = 1e-6)
  -> Bool
{
  closeness(actual, expected, rtol: rtol, atol: atol) <= 1
}
