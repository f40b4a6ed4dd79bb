/// A pair of sizes (height, width) that Keras lets you give as one integer or as two:
/// `kernel_size=3` or `kernel_size=(3, 5)`. Encodes as a two-element list, as Keras saves it.
public struct IntPair: Codable, Sendable, Hashable, ExpressibleByIntegerLiteral,
  ExpressibleByArrayLiteral,
  CustomStringConvertible
{
  /// The first (vertical) value.
  public var height: Int
  /// The second (horizontal) value.
  public var width: Int

  /// `(height, width)`.
  public init(_ height: Int, _ width: Int) {
    self.height = height
    self.width = width
  }

  public init(integerLiteral value: Int) { self.init(value, value) }

  /// `[3, 2]`, or `[3]` for both.
  public init(arrayLiteral elements: Int...) {
    self.init(elements.first ?? 0, elements.count > 1 ? elements[1] : elements.first ?? 0)
  }

  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Int.self) {
      self.init(value, value)
      return
    }
    let values = try container.decode([Int].self)
    guard values.count == 2 || values.count == 1 else {
      throw DecodingError.dataCorruptedError(
        in: container,
        debugDescription: "one integer or a pair of integers, received \(values.count) values")
    }
    self.init(values[0], values.count == 2 ? values[1] : values[0])
  }

  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode([height, width])
  }

  /// `(height, width)` as a tuple.
  public var tuple: (Int, Int) { (height, width) }
  public var description: String { "(\(height), \(width))" }
  var isPositive: Bool { height > 0 && width > 0 }
}

/// The largest kernel size, stride, dilation or padding a layer takes: 2^20. Far beyond any image a
/// CPU trains on, and small enough that geometry arithmetic on such values cannot overflow.
public let maximumWindowExtent = 1 << 20

/// Checks that `pair` is made of positive integers of at most ``maximumWindowExtent``.
public func requirePositive(_ pair: IntPair, owner: String, argument: String) throws {
  guard pair.height > 0, pair.width > 0, pair.height <= maximumWindowExtent,
    pair.width <= maximumWindowExtent
  else {
    throw StrataError.invalidArgument(
      owner: owner, argument: argument, value: "\(pair)",
      expected: "positive integers up to \(maximumWindowExtent)")
  }
}

/// Checks Keras' `padding` argument.
public func requirePadding(_ padding: String, owner: String) throws -> Bool {
  switch padding.lowercased() {
  case "valid": return false
  case "same": return true
  default:
    throw StrataError.invalidArgument(
      owner: owner, argument: "padding", value: "'\(padding)'", expected: "'valid' or 'same'")
  }
}

/// Checks that a layer gets images: `(None, height, width, channels)`.
public func requireImages(_ inputShape: [Int], layer: String) throws {
  guard inputShape.count == 3, inputShape.allSatisfy({ $0 > 0 }) else {
    throw StrataError.shapeMismatch(
      layer: layer, received: kerasShape(inputShape),
      expected:
        "a 4-D input (None, height, width, channels); add a channel axis to gray images, e.g. Reshape([28, 28, 1])"
    )
  }
}

/// One size that Keras' 1-D layers take as an integer or a one-element tuple: `kernel_size=3` or
/// `kernel_size=(3,)`. Encodes as a one-element list, as Keras saves it.
public struct IntSingle: Codable, Sendable, Hashable, ExpressibleByIntegerLiteral,
  CustomStringConvertible
{
  /// The size.
  public var value: Int

  /// `value`.
  public init(_ value: Int) { self.value = value }

  /// `3` for `(3,)`.
  public init(integerLiteral value: Int) { self.init(value) }

  /// Decodes an integer or a one-element list.
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Int.self) {
      self.init(value)
      return
    }
    let values = try container.decode([Int].self)
    guard values.count == 1 else {
      throw DecodingError.dataCorruptedError(
        in: container, debugDescription: "one integer, received \(values.count) values")
    }
    self.init(values[0])
  }

  /// Encodes a one-element list, as Keras saves it.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode([value])
  }

  /// As Python prints a one-element tuple: `(3,)`.
  public var description: String { "(\(value),)" }
}

/// Checks that a 1-D size is a positive integer of at most ``maximumWindowExtent``.
public func requirePositive(_ size: IntSingle, owner: String, argument: String) throws {
  guard size.value > 0, size.value <= maximumWindowExtent else {
    throw StrataError.invalidArgument(
      owner: owner, argument: argument, value: "\(size)",
      expected: "a positive integer up to \(maximumWindowExtent)")
  }
}

/// Checks that a layer gets sequences: `(None, steps, features)`.
public func requireSequences(_ inputShape: [Int], layer: String) throws {
  guard inputShape.count == 2, inputShape.allSatisfy({ $0 > 0 }) else {
    throw StrataError.shapeMismatch(
      layer: layer, received: kerasShape(inputShape),
      expected: "a 3-D input (None, steps, features)")
  }
}
