import StrataCore

/// Rows and columns at each side of images, as Keras' `ZeroPadding2D(padding=…)` and
/// `Cropping2D(cropping=…)` take them: an integer for every side, a pair (symmetric height and
/// width) or `((top, bottom), (left, right))`. Encodes as the last, as Keras saves it.
public struct ImageMargins: Codable, Sendable, Hashable, CustomStringConvertible {
  /// Rows at the top and bottom, columns at the left and right.
  public var top: Int, bottom: Int, left: Int, right: Int

  /// The margins given.
  public init(top: Int, bottom: Int, left: Int, right: Int) {
    (self.top, self.bottom, self.left, self.right) = (top, bottom, left, right)
  }

  /// Decodes any form Keras writes.
  public init(from decoder: Decoder) throws {
    let container = try decoder.singleValueContainer()
    let value = try container.decode(ConfigValue.self)
    func pair(_ v: ConfigValue) -> [Int]? {
      v.intValue.map { [$0, $0] } ?? v.arrayValue.map { $0.compactMap(\.intValue) }
    }
    if let n = value.intValue {
      self.init(top: n, bottom: n, left: n, right: n)
    } else if let pairs = value.arrayValue, pairs.count == 2, let vertical = pair(pairs[0]),
      let horizontal = pair(pairs[1]), vertical.count == 2, horizontal.count == 2
    {
      self.init(top: vertical[0], bottom: vertical[1], left: horizontal[0], right: horizontal[1])
    } else {
      throw DecodingError.dataCorruptedError(
        in: container,
        debugDescription:
          "an integer, (height, width) or ((top, bottom), (left, right)); received \(value)")
    }
  }

  /// Encodes as Keras saves it.
  public func encode(to encoder: Encoder) throws {
    var container = encoder.singleValueContainer()
    try container.encode([[top, bottom], [left, right]])
  }

  /// As Keras prints it.
  public var description: String { "((\(top), \(bottom)), (\(left), \(right)))" }

  /// Whether every margin is from 0 to ``maximumWindowExtent``.
  var isValid: Bool {
    [top, bottom, left, right].allSatisfy { (0...maximumWindowExtent).contains($0) }
  }
}

/// Adds rows and columns of zeros around images. Keras: `ZeroPadding2D(padding=(1, 1))`, where
/// `padding` is an integer, a pair (symmetric height and width padding) or `((top, bottom), (left, right))`.
public final class ZeroPadding2D: Layer {
  /// The Keras arguments: `padding` in any of its Keras forms, decoded by hand.
  public struct Config: KerasConfig, Equatable {
    /// Keras' `top`.
    public var top: Int, bottom: Int, left: Int, right: Int
    /// The arguments given, Keras' defaults for the others.
    public init(top: Int, bottom: Int, left: Int, right: Int) {
      self.top = top
      self.bottom = bottom
      self.left = left
      self.right = right
    }
    /// `padding` rows and columns on every side.
    public init(_ padding: Int) {
      self.init(top: padding, bottom: padding, left: padding, right: padding)
    }
    /// Keras' default: one row and column on every side.
    public init() { self.init(1) }
    private enum CodingKeys: String, CodingKey { case padding }
    public init(from decoder: Decoder) throws {
      let c = try decoder.container(keyedBy: CodingKeys.self)
      // Keras' 1 comes from `kerasDefaults`
      let margins = try c.decode(ImageMargins.self, forKey: .padding)
      self.init(
        top: margins.top, bottom: margins.bottom, left: margins.left, right: margins.right)
    }
    public func encode(to encoder: Encoder) throws {
      var c = encoder.container(keyedBy: CodingKeys.self)
      try c.encode([[top, bottom], [left, right]], forKey: .padding)
    }
  }
  public static let identifier = "ZeroPadding2D"
  public let config: Config
  private var inputShape: [Int] = []
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  public init(config: Config) throws {
    guard
      [config.top, config.bottom, config.left, config.right].allSatisfy({
        (0...maximumWindowExtent).contains($0)
      })
    else {
      throw StrataError.invalidArgument(
        owner: "ZeroPadding2D", argument: "padding",
        value: "((\(config.top), \(config.bottom)), (\(config.left), \(config.right)))",
        expected: "sizes from 0 to \(maximumWindowExtent)")
    }
    self.config = config
  }

  /// `ZeroPadding2D(padding: 1)`.
  public convenience init(padding: Int) throws { try self.init(config: Config(padding)) }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: "ZeroPadding2D")
    self.inputShape = inputShape
    return [
      inputShape[0] + config.top + config.bottom, inputShape[1] + config.left + config.right,
      inputShape[2],
    ]
  }

  /// Copies rows between an image and its padded version.
  private func copy(
    batch: Int, from source: UnsafeBufferPointer<Float>,
    to target: UnsafeMutableBufferPointer<Float>, padding: Bool
  ) {
    let (h, w, c) = (inputShape[0], inputShape[1], inputShape[2])
    let paddedWidth = w + config.left + config.right, paddedHeight = h + config.top + config.bottom
    guard w * c > 0, let from = source.baseAddress, let to = target.baseAddress else { return }
    for n in 0..<batch {
      for y in 0..<h {
        let small = (n * h + y) * w * c
        let large = ((n * paddedHeight + y + config.top) * paddedWidth + config.left) * c
        if padding {
          (to + large).update(from: from + small, count: w * c)
        } else {
          (to + small).update(from: from + large, count: w * c)
        }
      }
    }
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "ZeroPadding2D", expected: inputShape)
    output.reuse(
      shape: [
        x.shape[0], inputShape[0] + config.top + config.bottom,
        inputShape[1] + config.left + config.right, inputShape[2],
      ], in: context)
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { y in
        y.update(repeating: 0)
        copy(batch: x.shape[0], from: xs, to: y, padding: true)
      }
    }
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    inputGradient.reuse(shape: [outputGradient.shape[0]] + inputShape)
    outputGradient.withUnsafeBufferPointer { dy in
      inputGradient.withUnsafeMutableBufferPointer {
        copy(batch: outputGradient.shape[0], from: dy, to: $0, padding: false)
      }
    }
    return inputGradient
  }
}

/// `y = x · scale + offset`, e.g. pixels to [0, 1]. Keras: `Rescaling(scale, offset=0.0)`, where
/// either may be a list with one number per channel (the last axis), as EfficientNet's ImageNet
/// preprocessing gives `scale`.
public final class Rescaling: ShapePreservingLayer, Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `scale`: one number, or one per channel.
    public var scale: FloatValues = 1
    /// Keras' `offset`: one number, or one per channel.
    public var offset: FloatValues = 0

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(scale: FloatValues, offset: FloatValues = Config().offset) {
      self.scale = scale
      self.offset = offset
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["scale"]
  }
  public static let identifier = "Rescaling"
  public let config: Config
  public let declaredInputShape: [Int]?
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])
  /// Per channel (`channels` entries) once built, whether given as lists or as numbers.
  private var scales: [Float] = []
  private var offsets: [Float] = []

  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Rescaling(1 / 255)`.
  public convenience init(_ scale: Float, offset: Float = 0, inputShape: [Int]? = nil) throws {
    try self.init(
      config: Config(scale: .init(scale), offset: .init(offset)), inputShape: inputShape)
  }

  /// Per channel: `Rescaling(scale: [0.5, 1, 2], offset: [-1, 0, 1])`.
  public convenience init(scale: FloatValues, offset: FloatValues = 0, inputShape: [Int]? = nil)
    throws
  {
    try self.init(config: Config(scale: scale, offset: offset), inputShape: inputShape)
  }

  public init(config: Config, inputShape: [Int]?) throws {
    for (argument, value) in [("scale", config.scale), ("offset", config.offset)] {
      try checkArgument(
        value.isFinite && !value.values.isEmpty, owner: "Rescaling", argument: argument,
        value: "\(value)", expected: "a finite number or a non-empty list of them")
    }
    self.config = config
    declaredInputShape = inputShape
  }

  /// Creates the weights for `inputShape` and returns the output shape.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let channels = inputShape.last ?? 1
    func perChannel(_ value: FloatValues, _ argument: String) throws -> [Float] {
      if value.isScalar || value.values.count == 1 {
        return Array(repeating: value.values[0], count: channels)
      }
      guard value.values.count == channels else {
        throw StrataError.invalidArgument(
          owner: "Rescaling", argument: argument, value: "a list of \(value.values.count) values",
          expected: "one value, or one per channel of the input \(kerasShape(inputShape))")
      }
      return value.values
    }
    scales = try perChannel(config.scale, "scale")
    offsets = try perChannel(config.offset, "offset")
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "Rescaling")
    output.reuse(shape: x.shape, in: context)
    let channels = scales.count
    if channels > 0, scales.allSatisfy({ $0 == scales[0] }),
      offsets.allSatisfy({ $0 == offsets[0] })
    {
      let scale = scales[0], offset = offsets[0]
      x.withUnsafeBufferPointer { xs in
        output.withUnsafeMutableBufferPointer { simdMap(xs, into: $0) { $0 * scale + offset } }
      }
      return output.handOut(in: context)
    }
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { ys in
        for start in stride(from: 0, to: xs.count, by: channels) {
          for c in 0..<channels { ys[start + c] = xs[start + c] * scales[c] + offsets[c] }
        }
      }
    }
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    inputGradient.reuse(shape: outputGradient.shape)
    let channels = scales.count
    outputGradient.withUnsafeBufferPointer { dy in
      inputGradient.withUnsafeMutableBufferPointer { dx in
        for start in stride(from: 0, to: dy.count, by: channels) {
          for c in 0..<channels { dx[start + c] = dy[start + c] * scales[c] }
        }
      }
    }
    return inputGradient
  }
}

/// Removes rows and columns at the sides of images. Keras: `Cropping2D(cropping=((0, 0), (0, 0)))`,
/// where `cropping` is an integer, a pair (symmetric height and width) or
/// `((top, bottom), (left, right))`; NASNet crops one row and column this way.
public final class Cropping2D: OpsLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `cropping`.
    public var cropping = ImageMargins(top: 0, bottom: 0, left: 0, right: 0)
    /// Keras' defaults.
    public init() {}
  }
  /// The registry key: Keras' `Cropping2D`.
  public static let identifier = "Cropping2D"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Cropping2D(cropping: ImageMargins(top: 1, bottom: 0, left: 1, right: 0))`.
  public convenience init(cropping: ImageMargins, inputShape: [Int]? = nil) throws {
    var config = Config()
    config.cropping = cropping
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.cropping.isValid, owner: "Cropping2D", argument: "cropping",
      value: "\(config.cropping)", expected: "sizes from 0 to \(maximumWindowExtent)")
    self.config = config
    declaredInputShape = inputShape
  }

  /// Creates the weights for `inputShape` and returns the output shape.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: "Cropping2D")
    let c = config.cropping
    let height = inputShape[0] - c.top - c.bottom, width = inputShape[1] - c.left - c.right
    guard height > 0, width > 0 else {
      throw StrataError.shapeMismatch(
        layer: "Cropping2D", received: kerasShape(inputShape),
        expected: "images larger than the cropping \(c)")
    }
    self.inputShape = inputShape
    return [height, width, inputShape[2]]
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "Cropping2D", expected: inputShape)
    let c = config.cropping
    return try Ops.slice(
      x, start: [0, c.top, c.left, 0],
      shape: [
        x.shape[0], inputShape[0] - c.top - c.bottom, inputShape[1] - c.left - c.right,
        inputShape[2],
      ])
  }
}
