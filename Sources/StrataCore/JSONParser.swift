import Foundation

extension ConfigValue {
  /// The most nested arrays and objects a JSON text may have: deeper is refused, not a stack overflow.
  public static let maximumJSONDepth = 512

  /// Parses JSON text (RFC 8259) into a value. Integers that fit in `Int` become `.int`, other numbers
  /// `.double`.
  ///
  /// A parser of its own, for text that may be hostile (model files, configs from elsewhere): nesting is
  /// bounded by ``maximumJSONDepth``, nothing is thrown on the way to a valid result (which keeps
  /// parsing fast under debuggers and test tools that record every thrown error), and a syntax error
  /// names the byte offset.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` describing the first
  ///   error, `owner` "JSON".
  public init(json: Data) throws {
    self = try json.withUnsafeBytes { raw in
      var parser = JSONParser(bytes: raw.bindMemory(to: UInt8.self))
      let value = try parser.parseDocument()
      return value
    }
  }
}

private struct JSONParser {
  let bytes: UnsafeBufferPointer<UInt8>
  var position = 0
  var depth = 0

  init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

  func failure(_ expected: String) -> StrataError {
    let found =
      position < bytes.count ? "'\(Character(UnicodeScalar(bytes[position])))'" : "the end"
    return .invalidArgument(
      owner: "JSON", argument: "text", value: "with \(found) at byte \(position)",
      expected: expected)
  }

  mutating func skipWhitespace() {
    while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) {
      position += 1
    }
  }

  mutating func parseDocument() throws -> ConfigValue {
    let value = try parseValue()
    skipWhitespace()
    guard position == bytes.count else { throw failure("the end of the text") }
    return value
  }

  mutating func parseValue() throws -> ConfigValue {
    skipWhitespace()
    guard position < bytes.count else { throw failure("a value") }
    switch bytes[position] {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): return try literal("true", .bool(true))
    case UInt8(ascii: "f"): return try literal("false", .bool(false))
    case UInt8(ascii: "n"): return try literal("null", .null)
    default: return try parseNumber()
    }
  }

  mutating func literal(_ word: String, _ value: ConfigValue) throws -> ConfigValue {
    for byte in word.utf8 {
      guard position < bytes.count, bytes[position] == byte else { throw failure("'\(word)'") }
      position += 1
    }
    return value
  }

  mutating func enter() throws {
    depth += 1
    guard depth <= ConfigValue.maximumJSONDepth else {
      throw failure("at most \(ConfigValue.maximumJSONDepth) nested arrays and objects")
    }
  }

  mutating func parseObject() throws -> ConfigValue {
    var object: [String: ConfigValue] = [:]
    try parseElements(closing: UInt8(ascii: "}")) { parser in
      parser.skipWhitespace()
      guard parser.position < parser.bytes.count,
        parser.bytes[parser.position] == UInt8(ascii: "\"")
      else { throw parser.failure("a string key") }
      let key = try parser.parseString()
      parser.skipWhitespace()
      guard parser.position < parser.bytes.count, parser.bytes[parser.position] == UInt8(ascii: ":")
      else { throw parser.failure("':'") }
      parser.position += 1
      // A repeated key keeps the last value, as Foundation's parser does.
      object[key] = try parser.parseValue()
    }
    return .object(object)
  }

  mutating func parseArray() throws -> ConfigValue {
    var array: [ConfigValue] = []
    try parseElements(closing: UInt8(ascii: "]")) { parser in array.append(try parser.parseValue())
    }
    return .array(array)
  }

  /// The comma-separated elements of an object or array, from its opening bracket to `closing`: one
  /// call of `element` each. The nesting counts toward ``ConfigValue/maximumJSONDepth``.
  mutating func parseElements(closing: UInt8, _ element: (inout JSONParser) throws -> Void) throws {
    try enter()
    defer { depth -= 1 }
    position += 1
    skipWhitespace()
    if position < bytes.count, bytes[position] == closing {
      position += 1
      return
    }
    let expected = "',' or '\(Character(UnicodeScalar(closing)))'"
    while true {
      try element(&self)
      skipWhitespace()
      guard position < bytes.count else { throw failure(expected) }
      if bytes[position] == UInt8(ascii: ",") {
        position += 1
      } else if bytes[position] == closing {
        position += 1
        return
      } else {
        throw failure(expected)
      }
    }
  }

  mutating func hexDigit() throws -> UInt32 {
    guard position < bytes.count else { throw failure("a hexadecimal digit") }
    let byte = bytes[position]
    position += 1
    switch byte {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(byte - UInt8(ascii: "0"))
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
    default:
      position -= 1
      throw failure("a hexadecimal digit")
    }
  }

  mutating func unicodeEscape() throws -> UInt32 {
    var value: UInt32 = 0
    for _ in 0..<4 { value = value << 4 | (try hexDigit()) }
    return value
  }

  mutating func parseString() throws -> String {
    position += 1  // the opening quote
    var utf8: [UInt8] = []
    while true {
      guard position < bytes.count else { throw failure("a closing '\"'") }
      let byte = bytes[position]
      position += 1
      switch byte {
      case UInt8(ascii: "\""):
        guard let string = String(validating: utf8, as: UTF8.self) else {
          throw failure("UTF-8 text in a string")
        }
        return string
      case UInt8(ascii: "\\"):
        guard position < bytes.count else { throw failure("an escape") }
        let escape = bytes[position]
        position += 1
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
        case UInt8(ascii: "b"): utf8.append(0x08)
        case UInt8(ascii: "f"): utf8.append(0x0C)
        case UInt8(ascii: "n"): utf8.append(0x0A)
        case UInt8(ascii: "r"): utf8.append(0x0D)
        case UInt8(ascii: "t"): utf8.append(0x09)
        case UInt8(ascii: "u"):
          var scalar = try unicodeEscape()
          if (0xD800..<0xDC00).contains(scalar) {
            // A high surrogate must be followed by an escaped low one.
            guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
              bytes[position + 1] == UInt8(ascii: "u")
            else {
              throw failure("a low surrogate after a high one")
            }
            position += 2
            let low = try unicodeEscape()
            guard (0xDC00..<0xE000).contains(low) else {
              throw failure("a low surrogate after a high one")
            }
            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
          }
          guard let unicode = UnicodeScalar(scalar) else {
            throw failure("a Unicode scalar, not a lone surrogate")
          }
          utf8.append(contentsOf: String(Character(unicode)).utf8)
        default:
          position -= 1
          throw failure("a valid escape")
        }
      case 0..<0x20:
        position -= 1
        throw failure("no control character inside a string")
      default:
        utf8.append(byte)
      }
    }
  }

  mutating func parseNumber() throws -> ConfigValue {
    let start = position
    var isInteger = true
    if position < bytes.count, bytes[position] == UInt8(ascii: "-") { position += 1 }
    func digits() -> Int {
      let begin = position
      while position < bytes.count,
        (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position])
      { position += 1 }
      return position - begin
    }
    let integerDigits = digits()
    guard integerDigits > 0 else { throw failure("a value") }
    guard integerDigits == 1 || bytes[position - integerDigits] != UInt8(ascii: "0") else {
      position -= integerDigits
      throw failure("a number without a leading zero")
    }
    if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
      isInteger = false
      position += 1
      guard digits() > 0 else { throw failure("digits after '.'") }
    }
    if position < bytes.count,
      bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E")
    {
      isInteger = false
      position += 1
      if position < bytes.count,
        bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-")
      {
        position += 1
      }
      guard digits() > 0 else { throw failure("digits in the exponent") }
    }
    let text = String(
      decoding: UnsafeBufferPointer(rebasing: bytes[start..<position]), as: UTF8.self)
    if isInteger, let value = Int(text) { return .int(value) }
    guard let value = Double(text) else { throw failure("a number") }
    return .double(value)
  }
}
