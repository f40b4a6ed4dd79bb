import Foundation

// A `Decoder` and an `Encoder` over `ConfigValue`, so a config is decoded from the dictionary a file
// or a call gave, and encoded back to one, without JSON text in between (before: each layer's
// config was written as JSON and parsed three times). They keep the rules of the `JSONDecoder` and
// `JSONEncoder` they replace: keys converted from and to snake_case as Foundation converts them
// (dictionary keys left alone), "NaN" and "±Infinity" strings for non-finite numbers, a whole
// number read as an `Int` from `3.0` but not from `3.5`, a `Float` written as its shortest decimal.

/// Keras' `use_bias` → `useBias`, as `JSONDecoder.KeyDecodingStrategy.convertFromSnakeCase`
/// converts a key: the first word lowercased, the others capitalized, leading and trailing
/// underscores kept; a key without an inner underscore is left as it is.
func camelCaseKey(_ key: String) -> String {
  guard let first = key.firstIndex(where: { $0 != "_" }) else { return key }
  var last = key.index(before: key.endIndex)
  while last > first && key[last] == "_" { key.formIndex(before: &last) }
  let words = key[first...last].split(separator: "_")
  guard words.count > 1 else { return key }
  let joined =
    words[0].lowercased()
    + words.dropFirst().map { $0.prefix(1).uppercased() + $0.dropFirst().lowercased() }
    .joined()
  return String(key[..<first]) + joined + String(key[key.index(after: last)...])
}

/// `useBias` → `use_bias`, as `JSONEncoder.KeyEncodingStrategy.convertToSnakeCase` converts a key:
/// a word starts at each capital, a run of capitals (an acronym) is a word of its own up to the
/// capital that starts the next word, and the words are lowercased and joined by underscores.
func snakeCaseKey(_ key: String) -> String {
  let characters = Array(key)
  guard characters.count > 1 else { return key.lowercased() }
  var words: [String] = []
  var start = 0
  var index = 1
  while index < characters.count {
    guard characters[index].isUppercase else {
      index += 1
      continue
    }
    // A capital at `index`: the word before it ends here.
    words.append(String(characters[start..<index]))
    guard
      let lower = characters[index...].firstIndex(where: { $0.isLowercase })
    else {
      start = index
      index = characters.count
      break
    }
    if lower == index + 1 {
      start = index
    } else {
      // Capitals up to the one before the lowercase letter are an acronym.
      words.append(String(characters[index..<(lower - 1)]))
      start = lower - 1
    }
    index = lower + 1
  }
  words.append(String(characters[start...]))
  return words.map { $0.lowercased() }.joined(separator: "_")
}

/// A `[String: Value]` dictionary, whose keys the coders leave as they are (Foundation's coders do
/// not apply their key strategy to a dictionary's own keys).
private protocol StringKeyedDictionary {
  static func decode(from decoder: ConfigValueDecoder) throws -> Self
  func encode(into encoder: ConfigValueEncoder) throws
}

extension Dictionary: StringKeyedDictionary where Key == String, Value: Codable {
  fileprivate static func decode(from decoder: ConfigValueDecoder) throws -> Self {
    guard case .object(let members) = decoder.value else {
      throw DecodingError.typeMismatch(
        Self.self,
        .init(codingPath: decoder.codingPath, debugDescription: "Expected an object"))
    }
    var result: Self = [:]
    for (key, member) in members {
      result[key] = try ConfigValueDecoder(
        member, codingPath: decoder.codingPath + [ConfigKey(key)]
      ).decode(Value.self)
    }
    return result
  }

  fileprivate func encode(into encoder: ConfigValueEncoder) throws {
    var members: [String: ConfigValue] = [:]
    for (key, value) in self {
      members[key] = try ConfigValueEncoder.value(of: value, codingPath: encoder.codingPath)
    }
    encoder.storage.value = .object(members)
  }
}

/// A coding key made from a string or an array index.
struct ConfigKey: CodingKey {
  var stringValue: String
  var intValue: Int?
  init(_ string: String) { (stringValue, intValue) = (string, nil) }
  init?(stringValue: String) { self.init(stringValue) }
  init(intValue: Int) { (stringValue, self.intValue) = ("Index \(intValue)", intValue) }
}

// MARK: Decoding

/// Decodes a `Decodable` from a `ConfigValue`, as `JSONDecoder` with `.convertFromSnakeCase` and
/// non-finite numbers as strings would from the same value written as JSON.
struct ConfigValueDecoder: Decoder {
  let value: ConfigValue
  let codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  init(_ value: ConfigValue, codingPath: [any CodingKey] = []) {
    (self.value, self.codingPath) = (value, codingPath)
  }

  static func decode<T: Decodable>(_ type: T.Type, from value: ConfigValue) throws -> T {
    try ConfigValueDecoder(value).decode(type)
  }

  func decode<T: Decodable>(_ type: T.Type) throws -> T {
    if T.self == ConfigValue.self, let value = value.asJSONNumbers as? T { return value }
    if let dictionary = T.self as? any StringKeyedDictionary.Type {
      return try dictionary.decode(from: self) as! T  // the type asked for is that dictionary
    }
    return try T(from: self)
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
    guard case .object(let members) = value else {
      throw mismatch(
        [String: ConfigValue].self, "Expected to decode a dictionary but found \(kind)")
    }
    var converted: [String: ConfigValue] = [:]
    for (key, member) in members {
      let camel = camelCaseKey(key)
      if converted[camel] == nil { converted[camel] = member }
    }
    return KeyedDecodingContainer(KeyedContainer(members: converted, codingPath: codingPath))
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
    guard case .array(let elements) = value else {
      throw mismatch([ConfigValue].self, "Expected to decode an array but found \(kind)")
    }
    return UnkeyedContainer(elements: elements, codingPath: codingPath)
  }

  func singleValueContainer() throws -> any SingleValueDecodingContainer { self }

  var kind: String {
    switch value {
    case .null: "null"
    case .bool: "a boolean"
    case .int, .double: "a number"
    case .string: "a string"
    case .array: "an array"
    case .object: "a dictionary"
    }
  }

  func mismatch(_ type: Any.Type, _ description: String) -> DecodingError {
    if value == .null {
      return .valueNotFound(
        type, .init(codingPath: codingPath, debugDescription: "Cannot get \(type) -- found null"))
    }
    return .typeMismatch(type, .init(codingPath: codingPath, debugDescription: description))
  }

  /// A number: a whole one for an integer type, within the type's range.
  func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
    switch value {
    case .int(let i):
      guard let result = T(exactly: i) else { throw tooLarge(type, "\(i)") }
      return result
    case .double(let d):
      guard let result = T(exactly: d) else { throw tooLarge(type, "\(d)") }
      return result
    default:
      throw mismatch(type, "Expected to decode \(type) but found \(kind) instead.")
    }
  }

  func tooLarge(_ type: Any.Type, _ number: String) -> DecodingError {
    .dataCorrupted(
      .init(codingPath: codingPath, debugDescription: "Number \(number) does not fit in \(type)."))
  }

  /// A number, or the strings "NaN", "Infinity" and "-Infinity".
  func floatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(_ type: T.Type) throws -> T
  {
    switch value {
    case .int(let i): return T(i)
    case .double(let d):
      let result = T(d)
      if result.isInfinite && d.isFinite { throw tooLarge(type, "\(d)") }
      return result
    case .string("NaN"): return .nan
    case .string("Infinity"): return .infinity
    case .string("-Infinity"): return -.infinity
    default: throw mismatch(type, "Expected to decode \(type) but found \(kind) instead.")
    }
  }
}

extension ConfigValueDecoder: SingleValueDecodingContainer {
  func decodeNil() -> Bool { value == .null }
  func decode(_ type: Bool.Type) throws -> Bool {
    guard case .bool(let b) = value else {
      throw mismatch(type, "Expected to decode Bool but found \(kind) instead.")
    }
    return b
  }
  func decode(_ type: String.Type) throws -> String {
    guard case .string(let s) = value else {
      throw mismatch(type, "Expected to decode String but found \(kind) instead.")
    }
    return s
  }
  func decode(_ type: Double.Type) throws -> Double { try floatingPoint(type) }
  func decode(_ type: Float.Type) throws -> Float { try floatingPoint(type) }
  func decode(_ type: Int.Type) throws -> Int { try integer(type) }
  func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
  func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
  func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
  func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
  func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
  func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
  func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
  func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
  func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }
}

private struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
  let members: [String: ConfigValue]
  let codingPath: [any CodingKey]

  var allKeys: [Key] { members.keys.compactMap { Key(stringValue: $0) } }
  func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

  func decoder(for key: Key) throws -> ConfigValueDecoder {
    guard let member = members[key.stringValue] else {
      throw DecodingError.keyNotFound(
        key,
        .init(
          codingPath: codingPath,
          debugDescription: "No value associated with key \(key.stringValue)."))
    }
    return ConfigValueDecoder(member, codingPath: codingPath + [key])
  }

  func decodeNil(forKey key: Key) throws -> Bool { try decoder(for: key).decodeNil() }
  func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool {
    try decoder(for: key).decode(type)
  }
  func decode(_ type: String.Type, forKey key: Key) throws -> String {
    try decoder(for: key).decode(type)
  }
  func decode(_ type: Double.Type, forKey key: Key) throws -> Double {
    try decoder(for: key).decode(type)
  }
  func decode(_ type: Float.Type, forKey key: Key) throws -> Float {
    try decoder(for: key).decode(type)
  }
  func decode(_ type: Int.Type, forKey key: Key) throws -> Int {
    try decoder(for: key).decode(type)
  }
  func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
    try decoder(for: key).decode(type)
  }
  func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type, forKey key: Key
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try decoder(for: key).container(keyedBy: type)
  }
  func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
    try decoder(for: key).unkeyedContainer()
  }
  func superDecoder() throws -> any Decoder {
    ConfigValueDecoder(members["super"] ?? .null, codingPath: codingPath + [ConfigKey("super")])
  }
  func superDecoder(forKey key: Key) throws -> any Decoder {
    ConfigValueDecoder(members[key.stringValue] ?? .null, codingPath: codingPath + [key])
  }
}

private struct UnkeyedContainer: UnkeyedDecodingContainer {
  let elements: [ConfigValue]
  let codingPath: [any CodingKey]
  var currentIndex = 0

  init(elements: [ConfigValue], codingPath: [any CodingKey]) {
    (self.elements, self.codingPath) = (elements, codingPath)
  }

  var count: Int? { elements.count }
  var isAtEnd: Bool { currentIndex >= elements.count }

  mutating func next(_ type: Any.Type) throws -> ConfigValueDecoder {
    guard !isAtEnd else {
      throw DecodingError.valueNotFound(
        type,
        .init(
          codingPath: codingPath + [ConfigKey(intValue: currentIndex)],
          debugDescription: "Unkeyed container is at end."))
    }
    defer { currentIndex += 1 }
    return ConfigValueDecoder(
      elements[currentIndex], codingPath: codingPath + [ConfigKey(intValue: currentIndex)])
  }

  mutating func decodeNil() throws -> Bool {
    guard !isAtEnd, elements[currentIndex] == .null else { return false }
    currentIndex += 1
    return true
  }
  mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next(type).decode(type) }
  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy type: NestedKey.Type
  ) throws -> KeyedDecodingContainer<NestedKey> {
    try next([String: ConfigValue].self).container(keyedBy: type)
  }
  mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
    try next([ConfigValue].self).unkeyedContainer()
  }
  mutating func superDecoder() throws -> any Decoder { try next(ConfigValue.self) }
}

// MARK: Encoding

/// Where an encoder's value goes: a keyed container adds members to it, an unkeyed one elements,
/// a single-value one sets it. Shared, so two containers on one encoder (a config whose shared part
/// encodes itself flat beside its own arguments) write into one object, as `JSONEncoder` lets them.
final class ConfigValueStorage {
  var value: ConfigValue?
  var isKeyed = false
  var members: [String: ConfigValueStorage] = [:]
  var elements: [ConfigValueStorage]?

  /// The value the containers built (`{}` for a value that encoded nothing, as JSON has it).
  var result: ConfigValue {
    if let elements { return .array(elements.map(\.result)) }
    if isKeyed { return .object(members.mapValues(\.result)) }
    return value ?? .object([:])
  }
}

/// Encodes an `Encodable` to a `ConfigValue`, as `JSONEncoder` with `.convertToSnakeCase` and
/// non-finite numbers as strings would write it as JSON (which `ConfigValue(json:)` then reads).
struct ConfigValueEncoder: Encoder {
  let storage: ConfigValueStorage
  let codingPath: [any CodingKey]
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  static func value(of value: some Encodable, codingPath: [any CodingKey] = []) throws
    -> ConfigValue
  {
    if let config = value as? ConfigValue { return config.asJSONNumbers }
    let encoder = ConfigValueEncoder(storage: ConfigValueStorage(), codingPath: codingPath)
    if let dictionary = value as? any StringKeyedDictionary {
      try dictionary.encode(into: encoder)
    } else {
      try value.encode(to: encoder)
    }
    return encoder.storage.result
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    storage.isKeyed = true
    return KeyedEncodingContainer(KeyedEncoder<Key>(storage: storage, codingPath: codingPath))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer {
    if storage.elements == nil { storage.elements = [] }
    return UnkeyedEncoder(storage: storage, codingPath: codingPath)
  }

  func singleValueContainer() -> any SingleValueEncodingContainer { self }

  /// A number as JSON would hold it: finite floats as their shortest decimal, others as strings.
  static func number<T: BinaryFloatingPoint & LosslessStringConvertible>(_ x: T) -> ConfigValue {
    if x.isNaN { return .string("NaN") }
    if x.isInfinite { return .string(x < 0 ? "-Infinity" : "Infinity") }
    // The shortest decimal that reads back as `x`, as JSONEncoder writes it: without a trailing
    // ".0", so a whole number reads back as an integer.
    let text = x.description
    if text.hasSuffix(".0"), let whole = Int(text.dropLast(2)) { return .int(whole) }
    return .double(Double(text) ?? Double(x))
  }
}

extension ConfigValueEncoder: SingleValueEncodingContainer {
  func encodeNil() { storage.value = .null }
  func encode(_ value: Bool) { storage.value = .bool(value) }
  func encode(_ value: String) { storage.value = .string(value) }
  func encode(_ value: Double) { storage.value = Self.number(value) }
  func encode(_ value: Float) { storage.value = Self.number(value) }
  func encode(_ value: Int) { storage.value = .int(value) }
  func encode(_ value: Int8) { storage.value = .int(Int(value)) }
  func encode(_ value: Int16) { storage.value = .int(Int(value)) }
  func encode(_ value: Int32) { storage.value = .int(Int(value)) }
  func encode(_ value: Int64) { storage.value = .int(Int(value)) }
  func encode(_ value: UInt) throws { storage.value = .int(try integer(value)) }
  func encode(_ value: UInt8) { storage.value = .int(Int(value)) }
  func encode(_ value: UInt16) { storage.value = .int(Int(value)) }
  func encode(_ value: UInt32) { storage.value = .int(Int(value)) }
  func encode(_ value: UInt64) throws { storage.value = .int(try integer(value)) }
  func encode<T: Encodable>(_ value: T) throws {
    storage.value = try Self.value(of: value, codingPath: codingPath)
  }

  private func integer(_ value: some BinaryInteger) throws -> Int {
    guard let result = Int(exactly: value) else {
      throw EncodingError.invalidValue(
        value, .init(codingPath: codingPath, debugDescription: "\(value) is out of Int's range"))
    }
    return result
  }
}

private struct KeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
  let storage: ConfigValueStorage
  let codingPath: [any CodingKey]

  func member(_ key: Key) -> ConfigValueEncoder {
    let child = ConfigValueStorage()
    storage.members[snakeCaseKey(key.stringValue)] = child
    return ConfigValueEncoder(storage: child, codingPath: codingPath + [key])
  }

  mutating func encodeNil(forKey key: Key) { member(key).encodeNil() }
  mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
    try member(key).encode(value)
  }
  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type, forKey key: Key
  ) -> KeyedEncodingContainer<NestedKey> {
    member(key).container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
    member(key).unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder { member(Key(stringValue: "super")!) }
  mutating func superEncoder(forKey key: Key) -> any Encoder { member(key) }
}

private struct UnkeyedEncoder: UnkeyedEncodingContainer {
  let storage: ConfigValueStorage
  let codingPath: [any CodingKey]
  var count: Int { storage.elements?.count ?? 0 }

  mutating func element() -> ConfigValueEncoder {
    let child = ConfigValueStorage()
    let index = count
    storage.elements?.append(child)
    return ConfigValueEncoder(storage: child, codingPath: codingPath + [ConfigKey(intValue: index)])
  }

  mutating func encodeNil() { element().encodeNil() }
  mutating func encode<T: Encodable>(_ value: T) throws { try element().encode(value) }
  mutating func nestedContainer<NestedKey: CodingKey>(
    keyedBy keyType: NestedKey.Type
  ) -> KeyedEncodingContainer<NestedKey> {
    element().container(keyedBy: keyType)
  }
  mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
    element().unkeyedContainer()
  }
  mutating func superEncoder() -> any Encoder { element() }
}

extension ConfigValue {
  /// The value with its numbers as JSON text would give them back: a whole `3.0` as the integer 3,
  /// a non-finite one as the string "NaN" or "±Infinity" (what the coders' JSON round trip made of
  /// them).
  var asJSONNumbers: ConfigValue {
    switch self {
    case .double(let d): ConfigValueEncoder.number(d)
    case .array(let elements): .array(elements.map(\.asJSONNumbers))
    case .object(let members): .object(members.mapValues(\.asJSONNumbers))
    default: self
    }
  }
}
