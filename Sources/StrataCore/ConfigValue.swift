import Foundation
import Synchronization

/// A JSON-like value: what a Keras config holds (`{"units": 128, "activation": "relu"}`).
///
/// Written as literals, so `model.add("Dense", ["units": 128, "activation": "relu"])` reads like Keras.
public enum ConfigValue: Sendable, Hashable, Codable, CustomStringConvertible {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([ConfigValue])
  case object([String: ConfigValue])

  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if container.decodeNil() {
      self = .null
    } else if let value = try? container.decode(Bool.self) {
      self = .bool(value)
    } else if let value = try? container.decode(Int.self) {
      self = .int(value)
    } else if let value = try? container.decode(Double.self) {
      self = .double(value)
    } else if let value = try? container.decode(String.self) {
      self = .string(value)
    } else if let value = try? container.decode([ConfigValue].self) {
      self = .array(value)
    } else {
      self = .object(try container.decode([String: ConfigValue].self))
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    switch self {
    case .null: try container.encodeNil()
    case .bool(let value): try container.encode(value)
    case .int(let value): try container.encode(value)
    case .double(let value): try container.encode(value)
    case .string(let value): try container.encode(value)
    case .array(let value): try container.encode(value)
    case .object(let value): try container.encode(value)
    }
  }

  /// The value as JSON text, keys sorted, for messages and files.
  public var description: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(self) else { return "?" }
    return String(decoding: data, as: UTF8.self)
  }

  /// The string, if this is one.
  public var stringValue: String? { if case .string(let s) = self { s } else { nil } }
  /// The integer, if this is one or a double with an integral value.
  public var intValue: Int? {
    switch self {
    case .int(let i): i
    case .double(let d) where d == d.rounded(): Int(exactly: d)
    default: nil
    }
  }
  /// The number, if this is one.
  public var doubleValue: Double? {
    switch self {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
  }
  /// The elements, if this is an array.
  public var arrayValue: [ConfigValue]? { if case .array(let a) = self { a } else { nil } }
  /// The members, if this is an object.
  public var objectValue: [String: ConfigValue]? {
    if case .object(let o) = self { o } else { nil }
  }
  /// Whether this is JSON `null`.
  public var isNull: Bool { self == .null }
}

extension ConfigValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral,
  ExpressibleByIntegerLiteral,
  ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
  ExpressibleByDictionaryLiteral
{
  public init(nilLiteral: ()) { self = .null }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(integerLiteral value: Int) { self = .int(value) }
  public init(floatLiteral value: Double) { self = .double(value) }
  public init(stringLiteral value: String) { self = .string(value) }
  public init(arrayLiteral elements: ConfigValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (String, ConfigValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
  }
}

/// A config as a dictionary of Keras argument names (snake_case) to values.
public typealias ConfigDictionary = [String: ConfigValue]

/// Arguments every Keras layer config may carry that the layer itself does not interpret.
let genericKerasArguments: Set<String> = [
  "name", "trainable", "dtype", "input_shape", "batch_input_shape", "batch_shape", "batch_size",
  "data_format", "autocast", "input_dim", "module", "registered_name", "sparse", "ragged",
  "quantization_config", "synchronized", "reduction",
]

/// A config that reads Keras' `dtype` itself rather than having it refused unless float32: an
/// `InputLayer` of token ids is `dtype="int32"`.
public protocol ConfigDecodesDType {}

/// A config with arguments whose `null` means something other than the default (Keras'
/// `Bidirectional(merge_mode=None)`: two outputs, where the default is `"concat"`): a `null` given
/// for one of `nullableArguments` reaches the config's optional property as `nil`, where other
/// `null`s stand for the default.
public protocol ConfigKeepsNulls {
  /// The Keras (snake_case) arguments whose `null` is kept.
  static var nullableArguments: Set<String> { get }
}

/// A config that reads keys it does not write back: Keras' other spellings of an argument
/// (`InputLayer` reads `shape` and writes `batch_shape`). Such keys are not "unknown arguments".
public protocol ConfigReadsMoreKeys {
  static var readOnlyKeys: Set<String> { get }
}

/// A Keras config, declared once in plain Swift: each stored `var` holds its Keras default as its
/// initial value (an optional without one defaults to `nil`), and `init()` leaves them so:
///
/// ```swift
/// public struct Config: KerasConfig, Equatable {
///   public var negativeSlope: Float = 0.3   // Keras' `negative_slope`
///   public init() {}
/// }
/// ```
///
/// ``ConfigCoding/decode(_:from:owner:)`` lays the given Keras arguments (snake_case, the property
/// names' Keras spelling) over ``kerasDefaults`` and decodes the result with the synthesized
/// `Decodable`, so a config needs no hand-written `init(from:)`. An argument Keras has no default for
/// is named in ``requiredArguments`` and holds a placeholder in `init()`. A memberwise `init` for Swift
/// callers is the config's own choice; the built-in configs have one.
public protocol KerasConfig: Codable, Sendable {
  /// The config with every Keras default; a required argument holds a placeholder.
  init()
  /// The Keras arguments (snake_case) without a default: decoding fails when one is missing.
  static var requiredArguments: Set<String> { get }
}

extension KerasConfig {
  /// The Keras arguments without a default.
  public static var requiredArguments: Set<String> { [] }

  /// The config with every Keras default: `init()`.
  public static var kerasDefaults: Self { Self() }

  /// ``kerasDefaults`` as a Keras-style dictionary, encoded once per config type.
  static func defaultArguments() throws -> ConfigDictionary {
    let key = ObjectIdentifier(Self.self)
    if let cached = defaultArgumentsCache.withLock({ $0[key] }) { return cached }
    let arguments = try ConfigCoding.encode(kerasDefaults)
    defaultArgumentsCache.withLock { $0[key] = arguments }
    return arguments
  }
}

/// Each config type's ``KerasConfig/kerasDefaults`` as a dictionary (they are constants).
private let defaultArgumentsCache = Mutex<[ObjectIdentifier: ConfigDictionary]>([:])

/// Between Keras-style config dictionaries (snake_case) and `Codable` configs (camelCase).
public enum ConfigCoding {
  /// Refuses generic Keras arguments whose value Strata cannot honour (`data_format:
  /// "channels_first"`, a `dtype` other than float32, sparse or ragged inputs), naming them.
  static func checkGenericArguments(
    _ given: ConfigDictionary, owner: String, checksDType: Bool = true
  ) throws {
    if let format = given["data_format"], format != .string("channels_last") {
      throw StrataError.invalidArgument(
        owner: owner, argument: "data_format", value: format.description,
        expected:
          "\"channels_last\" (images as (height, width, channels); Strata has no channels_first)")
    }
    if checksDType, let dtype = given["dtype"] {
      let name =
        dtype.stringValue ?? dtype.objectValue?["config"]?.objectValue?["name"]?.stringValue
      try checkArgument(
        name == "float32",
        owner: owner, argument: "dtype", value: dtype.description.prefix(200).description,
        expected: "\"float32\"")
    }
    if let quantization = given["quantization_config"] {
      throw StrataError.invalidArgument(
        owner: owner, argument: "quantization_config",
        value: quantization.description.prefix(200).description,
        expected: "null (quantized layers are not supported)")
    }
    if let reduction = given["reduction"], reduction != .string("sum_over_batch_size") {
      throw StrataError.invalidArgument(
        owner: owner, argument: "reduction", value: reduction.description.prefix(100).description,
        expected: "\"sum_over_batch_size\" (Keras' default, the only reduction Strata applies)")
    }
    for key in ["sparse", "ragged"] where given[key] == .bool(true) {
      throw StrataError.invalidArgument(
        owner: owner, argument: key, value: "true", expected: "false (dense tensors only)")
    }
  }

  /// Decodes `Config` from a Keras-style dictionary (snake_case keys, extra Keras keys ignored) and
  /// rejects arguments `Config` does not have, suggesting the closest ones.
  public static func decode<Config: Codable>(
    _ type: Config.Type, from dictionary: ConfigDictionary, owner: String
  ) throws -> Config {
    // Keras writes `null` for every unset argument; a Config's own defaults stand for those.
    let nullable = (Config.self as? any ConfigKeepsNulls.Type)?.nullableArguments ?? []
    let given = dictionary.filter { !$0.value.isNull || nullable.contains(snakeCase($0.key)) }
    try checkGenericArguments(
      given, owner: owner, checksDType: !(Config.self is any ConfigDecodesDType.Type))
    // A config that is JSON itself (a nested model's) is the dictionary as it is: coding it through
    // JSON at every level of nesting cost time growing with the cube of the depth.
    if let config = ConfigValue.object(given) as? Config { return config }
    var arguments = given
    if let keras = Config.self as? any KerasConfig.Type {
      for required in keras.requiredArguments.sorted()
      where given[required] == nil && given[camelCaseKey(required)] == nil {
        // A misspelt required argument ("unit" for "units") is reported as the misspelling.
        for argument in given.keys.sorted()
        where closestNames(to: argument, in: [required]) == [required] {
          throw StrataError.unknownArgument(
            owner: owner, argument: argument, suggestions: [required])
        }
        throw StrataError.missingArgument(owner: owner, argument: required)
      }
      // The given arguments over the defaults (keys as Keras spells them), decoded whole.
      let normalized = Dictionary(
        given.map { (snakeCase($0.key), $0.value) }, uniquingKeysWith: { _, last in last })
      arguments = try keras.defaultArguments().merging(normalized) { _, given in given }
    }
    let config: Config
    do {
      config = try ConfigValueDecoder.decode(Config.self, from: .object(arguments))
    } catch let error as StrataError {
      throw error
    } catch let DecodingError.keyNotFound(key, _) {
      let missing = snakeCase(key.stringValue)
      // A misspelt required argument ("unit" for "units") is reported as the misspelling.
      for argument in given.keys.sorted()
      where closestNames(to: argument, in: [missing]) == [missing] {
        throw StrataError.unknownArgument(owner: owner, argument: argument, suggestions: [missing])
      }
      throw StrataError.missingArgument(owner: owner, argument: missing)
    } catch let DecodingError.typeMismatch(type, context) {
      throw mismatch(owner: owner, type: type, context: context, given: given)
    } catch let DecodingError.valueNotFound(type, context) {
      throw mismatch(owner: owner, type: type, context: context, given: given)
    } catch let DecodingError.dataCorrupted(context) {
      throw mismatch(owner: owner, type: Any.self, context: context, given: given)
    }
    let known = Set(try encode(config).keys).union(
      (Config.self as? any ConfigReadsMoreKeys.Type)?.readOnlyKeys ?? [])
    for key in given.keys.sorted()
    where !known.contains(key) && !known.contains(snakeCase(key))
      && !genericKerasArguments.contains(key)
    {
      throw StrataError.unknownArgument(
        owner: owner, argument: key, suggestions: closestNames(to: key, in: Array(known)))
    }
    return config
  }

  /// Encodes a config as a Keras-style dictionary with snake_case keys.
  public static func encode<Config: Encodable>(_ config: Config) throws -> ConfigDictionary {
    try ConfigValueEncoder.value(of: config).objectValue ?? [:]
  }

  /// `negativeSlope` → `negative_slope`, as Keras spells arguments: the rule the config coders
  /// write keys by (Foundation's `convertToSnakeCase`, acronyms kept as one word).
  public static func snakeCase(_ name: String) -> String { snakeCaseKey(name) }

  private static func mismatch(
    owner: String, type: Any.Type, context: DecodingError.Context, given: ConfigDictionary
  ) -> StrataError {
    // A number that does not fit the type (1.5 for an Int) comes with no coding path: find the
    // argument by the value's type instead.
    let key =
      context.codingPath.first.map { snakeCase($0.stringValue) }
      ?? (type == Int.self || type == Any.self
        ? given.keys.sorted().first { given[$0]?.intValue == nil && given[$0]?.doubleValue != nil }
        : nil)
      ?? "config"
    let value = given[key]?.description ?? "the given value"
    let expected: String
    switch type {
    case is Int.Type: expected = "an integer"
    case _ where given[key]?.doubleValue != nil && given[key]?.intValue == nil:
      expected = "an integer"
    case is Float.Type, is Double.Type: expected = "a number"
    case is Bool.Type: expected = "true or false"
    case is String.Type: expected = "a string"
    default:
      expected =
        context.debugDescription.isEmpty ? "a value of type \(type)" : context.debugDescription
    }
    return .invalidArgument(owner: owner, argument: key, value: value, expected: expected)
  }
}

extension KeyedDecodingContainer {
  /// Decodes `key` as the type the context asks for (a ``KerasConfig`` has every key, its defaults
  /// laid under the given arguments).
  public func decode<T: Decodable>(_ key: Key) throws -> T { try decode(T.self, forKey: key) }
}
