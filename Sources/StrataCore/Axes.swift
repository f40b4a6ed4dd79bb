/// One axis or several, as Keras takes them: `axis=-1` or `axis=[1, 2]`. Axes count the batch
/// dimension as Keras does (axis 0 is the batch); negative ones count from the end. Encodes as it
/// was given, one integer or a list, as Keras saves it.
public struct Axes: Codable, Sendable, Hashable, ExpressibleByIntegerLiteral,
  ExpressibleByArrayLiteral, CustomStringConvertible
{
  /// The axes, as given.
  public var values: [Int]
  /// Whether one integer was given (and is written back as one).
  public var isSingle: Bool

  /// One axis.
  public init(integerLiteral value: Int) { (values, isSingle) = ([value], true) }
  /// A list of axes.
  public init(arrayLiteral elements: Int...) { (values, isSingle) = (elements, false) }
  /// A list of axes.
  public init(_ values: [Int]) { (self.values, isSingle) = (values, false) }

  /// Decodes any form Keras writes.
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Int.self) {
      self.init(integerLiteral: value)
    } else {
      self.init(try container.decode([Int].self))
    }
  }

  /// Encodes as Keras saves it.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    if isSingle, let value = values.first {
      try container.encode(value)
    } else {
      try container.encode(values)
    }
  }

  /// As Keras prints it.
  public var description: String {
    isSingle && values.count == 1
      ? "\(values[0])" : "[\(values.map(String.init).joined(separator: ", "))]"
  }

  /// The axes of a batched input of `rank` dimensions (the batch included), each in `1..<rank`,
  /// sorted and distinct; throws naming `owner` and `argument` for one out of range, the batch
  /// axis, or a repeated one.
  public func resolved(rank: Int, owner: String, argument: String = "axis") throws -> [Int] {
    let resolved = values.map { $0 < 0 ? $0 + rank : $0 }
    try checkArgument(
      resolved.allSatisfy { (1..<rank).contains($0) } && Set(resolved).count == resolved.count,
      owner: owner, argument: argument, value: description,
      expected:
        "distinct axes of the input's \(rank) dimensions other than the batch axis 0 (from \(1 - rank) to \(rank - 1))"
    )
    return resolved.sorted()
  }
}

/// One number or a list of them, as Keras takes `Rescaling(scale=…)` or `Normalization(mean=…)`.
/// Encodes as it was given.
public struct FloatValues: Codable, Sendable, Hashable, ExpressibleByFloatLiteral,
  ExpressibleByIntegerLiteral, ExpressibleByArrayLiteral, CustomStringConvertible
{
  /// The numbers, as given.
  public var values: [Float]
  /// Whether one number was given (a scalar, broadcast everywhere).
  public var isScalar: Bool

  /// One number.
  public init(_ value: Float) { (values, isScalar) = ([value], true) }
  /// A list of numbers, one per channel.
  public init(_ values: [Float]) { (self.values, isScalar) = (values, false) }
  /// A literal.
  public init(floatLiteral value: Float) { self.init(value) }
  /// A literal.
  public init(integerLiteral value: Int) { self.init(Float(value)) }
  /// A literal.
  public init(arrayLiteral elements: Float...) { self.init(elements) }

  /// Decodes any form Keras writes.
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    if let value = try? container.decode(Float.self) {
      self.init(value)
    } else {
      self.init(try container.decode([Float].self))
    }
  }

  /// Encodes as Keras saves it.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    if isScalar, let value = values.first {
      try container.encode(value)
    } else {
      try container.encode(values)
    }
  }

  /// As Keras prints it.
  public var description: String {
    isScalar && values.count == 1
      ? "\(values[0])" : "[\(values.map { "\($0)" }.joined(separator: ", "))]"
  }

  /// Whether every number is finite.
  public var isFinite: Bool { values.allSatisfy(\.isFinite) }

  /// The numbers as a tensor that broadcasts against channels-last data of `rank` dimensions: a
  /// scalar for one number, else `[1, …, 1, count]`.
  public func broadcastable(rank: Int) throws -> Tensor {
    try Tensor(
      shape: isScalar ? [] : Array(repeating: 1, count: Swift.max(rank - 1, 0)) + [values.count],
      scalars: isScalar ? [values.first ?? 0] : values)
  }
}
