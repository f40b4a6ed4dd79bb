import StrataCore

/// Resizes images to `(height, width)` with bilinear interpolation (half-pixel centres, as TensorFlow
/// and JAX resize without antialiasing), in training and inference alike. Keras: `Resizing(height,
/// width, interpolation="bilinear")`.
public final class Resizing: BilinearMapLayer, Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The output height.
    public var height: Int = 0
    /// The output width.
    public var width: Int = 0
    /// Keras' `interpolation`: `"bilinear"` (the only one Strata has).
    public var interpolation: String = "bilinear"
    /// Keras' `crop_to_aspect_ratio` (false only).
    public var cropToAspectRatio: Bool = false
    /// Keras' `pad_to_aspect_ratio` (false only).
    public var padToAspectRatio: Bool = false
    /// Keras' `antialias` (false only).
    public var antialias: Bool = false

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      height: Int, width: Int, interpolation: String = Config().interpolation,
      cropToAspectRatio: Bool = Config().cropToAspectRatio,
      padToAspectRatio: Bool = Config().padToAspectRatio, antialias: Bool = Config().antialias
    ) {
      self.height = height
      self.width = width
      self.interpolation = interpolation
      self.cropToAspectRatio = cropToAspectRatio
      self.padToAspectRatio = padToAspectRatio
      self.antialias = antialias
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["height", "width"]
  }
  /// The registry key.
  public static let identifier = "Resizing"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    for (argument, on) in [
      ("crop_to_aspect_ratio", config.cropToAspectRatio),
      ("pad_to_aspect_ratio", config.padToAspectRatio),
      ("antialias", config.antialias),
    ] where on {
      throw StrataError.invalidArgument(
        owner: "Resizing", argument: argument, value: "true", expected: "false (not supported)")
    }
    try checkArgument(
      config.interpolation == "bilinear",
      owner: "Resizing", argument: "interpolation", value: "'\(config.interpolation)'",
      expected: "\"bilinear\" (the only interpolation Strata has)")
    self.config = config
    try super.init(height: config.height, width: config.width)
  }

  /// `Resizing(64, 64)`.
  public convenience init(_ height: Int, _ width: Int) throws {
    try self.init(config: Config(height: height, width: width))
  }

  override func map(from input: (Int, Int)) -> BilinearMap {
    BilinearMap(from: input, crop: (0, 0, input.0, input.1), to: size)
  }
}

/// Repeats each row and column of images `size` times (`"nearest"`) or resizes them to `size` times
/// their size with bilinear interpolation. Keras: `UpSampling2D(size=(2, 2),
/// interpolation="nearest")`.
public final class UpSampling2D: Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `size`: the factors for rows and columns.
    public var size: IntPair = 2
    /// Keras' `interpolation`: `"nearest"` or `"bilinear"`.
    public var interpolation: String = "nearest"

    /// Keras' defaults.
    public init() {}
  }
  /// The interpolations this layer has.
  public static let interpolations = ["nearest", "bilinear"]
  /// The registry key: Keras' `UpSampling2D`.
  public static let identifier = "UpSampling2D"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var shape: [Int] = []
  private var map = BilinearMap()
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `UpSampling2D(size: 2, interpolation: "bilinear")`, as in Keras.
  public convenience init(
    size: IntPair = 2, interpolation: String = "nearest", inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    (config.size, config.interpolation) = (size, interpolation)
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try requirePositive(config.size, owner: "UpSampling2D", argument: "size")
    guard Self.interpolations.contains(config.interpolation.lowercased()) else {
      throw StrataError.invalidArgument(
        owner: "UpSampling2D", argument: "interpolation", value: "'\(config.interpolation)'",
        expected:
          "one of \(Self.interpolations.map { "\"\($0)\"" }.joined(separator: ", ")) (closest: \(closestNames(to: config.interpolation, in: Self.interpolations).joined(separator: ", ")))"
      )
    }
    self.config = config
    declaredInputShape = inputShape
  }

  /// Takes images `(height, width, channels)`; gives them `size` times as large.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: "UpSampling2D")
    let (height, width) = (inputShape[0], inputShape[1])
    let (rows, columns) = config.size.tuple
    guard height <= maximumWindowExtent / rows, width <= maximumWindowExtent / columns else {
      throw StrataError.shapeMismatch(
        layer: "UpSampling2D", received: kerasShape(inputShape),
        expected: "images at most \(maximumWindowExtent) pixels a side once upsampled")
    }
    shape = inputShape
    map =
      config.interpolation.lowercased() == "nearest"
      ? BilinearMap(nearest: (height, width), factors: (rows, columns))
      : BilinearMap(
        from: (height, width), crop: (0, 0, height, width), to: (height * rows, width * columns))
    return [height * rows, width * columns, inputShape[2]]
  }

  /// The upsampled images.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: "UpSampling2D", expected: shape)
    map.apply(x, channels: shape[2], into: &output)
    return output
  }

  /// The gradient summed back over the pixels each input fed.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    map.transpose(outputGradient, channels: shape[2], into: &inputGradient)
    return inputGradient
  }
}

/// Crops the centre `(height, width)` of each image; an image smaller than that in either side is
/// cropped to the target's aspect ratio and resized (Keras' `smart_resize`). Keras:
/// `CenterCrop(height, width)`.
public final class CenterCrop: BilinearMapLayer, Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// The output height.
    public var height: Int = 0
    /// The output width.
    public var width: Int = 0

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(height: Int, width: Int) {
      self.height = height
      self.width = width
    }

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["height", "width"]
  }
  /// The registry key.
  public static let identifier = "CenterCrop"
  /// The arguments.
  public let config: Config

  /// A layer of `config`.
  public init(config: Config) throws {
    self.config = config
    try super.init(height: config.height, width: config.width)
  }

  /// `CenterCrop(224, 224)`.
  public convenience init(_ height: Int, _ width: Int) throws {
    try self.init(config: Config(height: height, width: width))
  }

  override func map(from input: (Int, Int)) -> BilinearMap {
    BilinearMap(centreOf: input, to: size)
  }
}

/// What Resizing and CenterCrop share: one bilinear map from the input images to `(height, width)`,
/// made at build, applied forward and transposed backward.
public class BilinearMapLayer {
  let size: (Int, Int)
  private var shape: [Int] = []
  private var map = BilinearMap()
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])
  private var name: String { String(describing: type(of: self)) }

  init(height: Int, width: Int) throws {
    size = (height, width)
    try checkSize(height, width, layer: name)
  }

  /// The map from input images of `input` (height, width) to `size`.
  func map(from input: (Int, Int)) -> BilinearMap { preconditionFailure("overridden") }

  /// Takes images `(height, width, channels)`; gives `(config.height, config.width, channels)`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: name)
    shape = inputShape
    map = map(from: (inputShape[0], inputShape[1]))
    return [size.0, size.1, inputShape[2]]
  }

  /// The images sampled through the map.
  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    try checkInput(x, layer: name, expected: shape)
    map.apply(x, channels: shape[2], into: &output)
    return output
  }

  /// The gradient spread back over the pixels each output sampled.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    map.transpose(outputGradient, channels: shape[2], into: &inputGradient)
    return inputGradient
  }
}

/// Bilinear sampling of a window `crop` (top, left, height, width) of `from` images into `to`:
/// each output pixel mixes four input pixels with fixed weights, computed once at build.
struct BilinearMap {
  var inputSize = (0, 0)
  var outputSize = (0, 0)
  /// For each output row: top and bottom input rows and the weight of the bottom one.
  var rows: [(Int, Int, Float)] = []
  /// For each output column: left and right input columns and the weight of the right one.
  var columns: [(Int, Int, Float)] = []

  init() {}

  /// Keras' centre crop: the centre window when the image is at least that large, else the largest
  /// centred window of the target's aspect ratio, resized (`smart_resize`).
  init(centreOf input: (Int, Int), to output: (Int, Int)) {
    let (inHeight, inWidth) = input, (height, width) = output
    if inHeight >= height && inWidth >= width {
      self.init(
        from: input, crop: ((inHeight - height) / 2, (inWidth - width) / 2, height, width),
        to: output)
    } else {
      let cropHeight = max(min(inHeight, Int(Float(inWidth * height) / Float(width))), 1)
      let cropWidth = max(min(inWidth, Int(Float(inHeight * width) / Float(height))), 1)
      self.init(
        from: input,
        crop: ((inHeight - cropHeight) / 2, (inWidth - cropWidth) / 2, cropHeight, cropWidth),
        to: output)
    }
  }

  init(from: (Int, Int), crop: (Int, Int, Int, Int), to: (Int, Int)) {
    set(from: from, crop: crop, to: to)
  }

  /// Nearest-neighbour upsampling by whole factors: output pixel `(i, j)` is input pixel
  /// `(i / factors.0, j / factors.1)` (every weight on the first of each pair).
  init(nearest input: (Int, Int), factors: (Int, Int)) {
    inputSize = input
    outputSize = (input.0 * factors.0, input.1 * factors.1)
    rows = (0..<outputSize.0).map { ($0 / factors.0, $0 / factors.0, 0) }
    columns = (0..<outputSize.1).map { ($0 / factors.1, $0 / factors.1, 0) }
  }

  /// Makes this the map of `crop` of `from` images into `to`, reusing its arrays (RandomCrop draws a
  /// window every training step).
  mutating func set(from: (Int, Int), crop: (Int, Int, Int, Int), to: (Int, Int)) {
    inputSize = from
    outputSize = to
    // Half-pixel centres: output i samples the window at (i + 0.5) · in/out - 0.5, clamped.
    func weights(_ i: Int, _ start: Int, _ inSize: Int, _ outSize: Int) -> (Int, Int, Float) {
      let position = max((Float(i) + 0.5) * Float(inSize) / Float(outSize) - 0.5, 0)
      let low = Int(position.rounded(.down))
      let high = min(low + 1, inSize - 1)
      return (start + min(low, inSize - 1), start + high, position - Float(low))
    }
    rows.removeAll(keepingCapacity: true)
    columns.removeAll(keepingCapacity: true)
    for i in 0..<to.0 { rows.append(weights(i, crop.0, crop.2, to.0)) }
    for i in 0..<to.1 { columns.append(weights(i, crop.1, crop.3, to.1)) }
  }

  func apply(_ x: Tensor, channels: Int, into y: inout Tensor) {
    let images = x.shape[0]
    let inSize = inputSize.0 * inputSize.1 * channels
    let outSize = outputSize.0 * outputSize.1 * channels
    y.reuse(shape: [images, outputSize.0, outputSize.1, channels])
    x.withUnsafeBufferPointer { source in
      y.withUnsafeMutableBufferPointer { target in
        for image in 0..<images {
          let s = image * inSize, t = image * outSize
          for (row, (top, bottom, dy)) in rows.enumerated() {
            for (column, (left, right, dx)) in columns.enumerated() {
              for c in 0..<channels {
                func at(_ r: Int, _ q: Int) -> Float {
                  source[s + (r * inputSize.1 + q) * channels + c]
                }
                let upper = at(top, left) + (at(top, right) - at(top, left)) * dx
                let lower = at(bottom, left) + (at(bottom, right) - at(bottom, left)) * dx
                target[t + (row * outputSize.1 + column) * channels + c] =
                  upper + (lower - upper) * dy
              }
            }
          }
        }
      }
    }
  }

  /// The transpose of ``apply(_:channels:into:)``: each output gradient spread over its four pixels.
  func transpose(_ dy: Tensor, channels: Int, into dx: inout Tensor) {
    let images = dy.shape[0]
    let inSize = inputSize.0 * inputSize.1 * channels
    let outSize = outputSize.0 * outputSize.1 * channels
    dx.reuse(shape: [images, inputSize.0, inputSize.1, channels])
    dx.withUnsafeMutableBufferPointer { target in
      target.update(repeating: 0)
      dy.withUnsafeBufferPointer { source in
        for image in 0..<images {
          let s = image * outSize, t = image * inSize
          for (row, (top, bottom, wy)) in rows.enumerated() {
            for (column, (left, right, wx)) in columns.enumerated() {
              for c in 0..<channels {
                let g = source[s + (row * outputSize.1 + column) * channels + c]
                func add(_ r: Int, _ q: Int, _ w: Float) {
                  target[t + (r * inputSize.1 + q) * channels + c] += g * w
                }
                add(top, left, (1 - wy) * (1 - wx))
                add(top, right, (1 - wy) * wx)
                add(bottom, left, wy * (1 - wx))
                add(bottom, right, wy * wx)
              }
            }
          }
        }
      }
    }
  }
}
