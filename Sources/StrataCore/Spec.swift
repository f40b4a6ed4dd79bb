/// A reference to a registered activation, initializer or other product by identifier, with an
/// optional config: `"relu"`, or `{"class_name": "RandomNormal", "config": {"stddev": 0.1}}`.
///
/// Decodes from either form (Keras writes both) and encodes as a plain string when there is no config.
/// A name held in a `String` variable works as `Spec(name)` or as `"\(name)"`:
///
/// ```swift
/// let name = "relu"
/// Dense(64, activation: Spec(name))
/// Dense(64, activation: "\(name)")
/// ```
public struct Spec: Codable, Sendable, Hashable, ExpressibleByStringInterpolation,
  CustomStringConvertible
{
  public var identifier: String
  public var config: ConfigDictionary

  /// `identifier` with `config` (none by default).
  public init(_ identifier: String, config: ConfigDictionary = [:]) {
    self.identifier = identifier
    self.config = config
  }

  public init(stringLiteral value: String) { self.init(value) }

  public init(from decoder: Decoder) throws {
    let value = try decoder.singleValueContainer().decode(ConfigValue.self)
    // A key strategy may have turned `class_name` into `className`; accept both.
    if let name = value.stringValue {
      self.init(name)
    } else if let object = value.objectValue,
      let name = (object["class_name"] ?? object["className"])?.stringValue
    {
      self.init(name, config: (object["config"]?.objectValue ?? [:]).filter { !$0.value.isNull })
    } else {
      throw DecodingError.dataCorrupted(
        .init(
          codingPath: decoder.codingPath,
          debugDescription:
            "an identifier string or {\"class_name\": …, \"config\": {…}}, received \(value)"))
    }
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    if config.isEmpty {
      try container.encode(identifier)
    } else {
      try container.encode(
        ConfigValue.object(["class_name": .string(identifier), "config": .object(config)]))
    }
  }

  /// The identifier, then the config if there is one.
  public var description: String {
    config.isEmpty ? identifier : "\(identifier)\(ConfigValue.object(config))"
  }
}
