import CStrataKernels
import StrataCore

/// The config of the 2-D pooling layers.
public struct Pooling2DConfig: Equatable, KerasConfig {
  /// Keras' `pool_size`.
  public var poolSize: IntPair = 2
  /// `nil`: the pool size, as in Keras (and then left out of the saved config, which Keras reads the same).
  public var strides: IntPair?
  /// Keras' `padding`.
  public var padding: String = "valid"

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(
    poolSize: IntPair = Pooling2DConfig().poolSize, strides: IntPair? = nil,
    padding: String = Pooling2DConfig().padding
  ) {
    self.poolSize = poolSize
    self.strides = strides
    self.padding = padding
  }
}

/// What max and average pooling share: the config, the geometry, the buffers.
public class Pooling2D {
  public let config: Pooling2DConfig
  public let declaredInputShape: [Int]?
  let same: Bool
  var inputShape: [Int] = []
  var geometry: PoolingGeometry?
  var input: Tensor?
  var output = Tensor(shape: [0])
  var inputGradient = Tensor(shape: [0])
  let name: String

  /// A layer of `config`, for images of `inputShape` when it is the model's first layer.
  public init(config: Pooling2DConfig, inputShape: [Int]?) throws {
    name = String(describing: type(of: self))
    try requirePositive(config.poolSize, owner: name, argument: "pool_size")
    if let strides = config.strides {
      try requirePositive(strides, owner: name, argument: "strides")
    }
    same = try requirePadding(config.padding, owner: name)
    self.config = config
    declaredInputShape = inputShape
  }

  /// A layer of `config`.
  public convenience init(config: Pooling2DConfig) throws {
    try self.init(config: config, inputShape: nil)
  }

  /// `MaxPooling2D(poolSize: 2)`, `AveragePooling2D(poolSize: 3, strides: 2, padding: "same")`.
  public convenience init(
    poolSize: IntPair = 2, strides: IntPair? = nil, padding: String = "valid",
    inputShape: [Int]? = nil
  ) throws {
    try self.init(
      config: Pooling2DConfig(poolSize: poolSize, strides: strides, padding: padding),
      inputShape: inputShape)
  }

  func geometry(batch: Int) -> PoolingGeometry {
    PoolingGeometry(
      batch: batch, height: inputShape[0], width: inputShape[1], channels: inputShape[2],
      pool: config.poolSize.tuple,
      strides: (config.strides ?? config.poolSize).tuple, same: same)
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: name)
    self.inputShape = inputShape
    let g = geometry(batch: 1)
    guard g.outputHeight > 0, g.outputWidth > 0 else {
      throw StrataError.shapeMismatch(
        layer: name, received: kerasShape(inputShape),
        expected:
          "images of at least \(config.poolSize.height)x\(config.poolSize.width) for padding '\(config.padding)'"
      )
    }
    return [g.outputHeight, g.outputWidth, inputShape[2]]
  }

  /// The forward pass's input and geometry, with `inputGradient` shaped for them.
  func prepareBackward() throws -> (Tensor, PoolingGeometry) {
    guard let x = input, let g = geometry else { throw missingForward(name) }
    input = nil
    inputGradient.reuse(shape: x.shape)
    return (x, g)
  }

  func prepare(_ x: Tensor, _ context: Context) throws -> PoolingGeometry {
    try checkInput(x, layer: name, expected: inputShape)
    let g = geometry.forBatch(x.shape[0], make: geometry(batch:))
    output.reuse(shape: [g.batch, g.outputHeight, g.outputWidth, g.channels], in: context)
    input = context.isTraining ? x : nil
    return g
  }
}

/// The maximum of each window. Keras: `MaxPooling2D(pool_size=(2, 2), strides=None, padding="valid")`.
public final class MaxPooling2D: Pooling2D, Layer {
  public typealias Config = Pooling2DConfig
  public static let identifier = "MaxPooling2D"
  private var workspace = Tensor(shape: [0])

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    let g = try prepare(x, context)
    let bytes = context.kernels.maxPoolingWorkspaceBytes(g)
    workspace.reuse(shape: [(bytes + 3) / 4])
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { y in
        workspace.withUnsafeMutableBufferPointer { w in
          context.kernels.maxPooling(
            g, input: xs, output: y, workspace: UnsafeMutableRawBufferPointer(w))
        }
      }
    }
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    let (x, g) = try prepareBackward()
    x.withUnsafeBufferPointer { xs in
      outputGradient.withUnsafeBufferPointer { dy in
        inputGradient.withUnsafeMutableBufferPointer { dx in
          workspace.withUnsafeBufferPointer { w in
            context.kernels.maxPoolingBackward(
              g, input: xs, outputGradient: dy, inputGradient: dx,
              workspace: UnsafeRawBufferPointer(w))
          }
        }
      }
    }
    return inputGradient
  }
}

/// The mean of each window, padding excluded. Keras: `AveragePooling2D(pool_size=(2, 2), strides=None,
/// padding="valid")`.
public final class AveragePooling2D: Pooling2D, Layer {
  public typealias Config = Pooling2DConfig
  public static let identifier = "AveragePooling2D"

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    let g = try prepare(x, context)
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer {
        context.kernels.averagePooling(g, input: xs, output: $0)
      }
    }
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    let (_, g) = try prepareBackward()
    outputGradient.withUnsafeBufferPointer { dy in
      inputGradient.withUnsafeMutableBufferPointer {
        context.kernels.averagePoolingBackward(g, outputGradient: dy, inputGradient: $0)
      }
    }
    return inputGradient
  }
}

/// The config of the global pooling layers.
public struct GlobalPoolingConfig: Equatable, KerasConfig {
  /// Keep the spatial axes as 1s: `(None, 1, 1, channels)` instead of `(None, channels)`.
  public var keepdims: Bool = false

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others.
  public init(keepdims: Bool = GlobalPoolingConfig().keepdims) {
    self.keepdims = keepdims
  }
}

/// Reduces each channel over the whole image, by mean or by maximum.
public class GlobalPooling2D {
  public let config: GlobalPoolingConfig
  let name: String
  var inputShape: [Int] = []
  var input: Tensor?
  var output = Tensor(shape: [0])
  var inputGradient = Tensor(shape: [0])

  /// A layer of `config`.
  public required init(config: GlobalPoolingConfig = GlobalPoolingConfig()) {
    self.config = config
    name = String(describing: Self.self)
  }

  /// Writes the input gradient `dx` from the output gradient `dy`: each pooling's own rule.
  func spread(
    _ dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    batch: Int, pixels: Int, channels: Int
  ) { preconditionFailure("overridden") }

  /// The gradient back on the pixels each output came from.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard let x = input else { throw missingForward(name) }
    input = nil
    inputGradient.reuse(shape: x.shape)
    outputGradient.withUnsafeBufferPointer { dy in
      inputGradient.withUnsafeMutableBufferPointer { dx in
        spread(
          dy, into: dx, batch: x.shape[0], pixels: inputShape[0] * inputShape[1],
          channels: inputShape[2])
      }
    }
    return inputGradient
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    try requireImages(inputShape, layer: name)
    self.inputShape = inputShape
    return config.keepdims ? [1, 1, inputShape[2]] : [inputShape[2]]
  }

  func prepare(_ x: Tensor, _ context: Context) throws -> (batch: Int, pixels: Int, channels: Int) {
    try checkInput(x, layer: name, expected: inputShape)
    let channels = inputShape[2]
    output.reuse(
      shape: [x.shape[0]] + (config.keepdims ? [1, 1, channels] : [channels]), in: context)
    input = context.isTraining ? x : nil
    return (x.shape[0], inputShape[0] * inputShape[1], channels)
  }
}

/// The mean of each channel over the image. Keras: `GlobalAveragePooling2D(keepdims=False)`.
public final class GlobalAveragePooling2D: GlobalPooling2D, Layer {
  public typealias Config = GlobalPoolingConfig
  public static let identifier = "GlobalAveragePooling2D"

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    let (batch, pixels, channels) = try prepare(x, context)
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { y in
        strata_global_average_pooling(xs.baseAddress, y.baseAddress, batch, pixels, channels)
      }
    }
    return output.handOut(in: context)
  }

  override func spread(
    _ dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    batch: Int, pixels: Int, channels: Int
  ) {
    for n in 0..<batch {
      for p in 0..<pixels {
        for c in 0..<channels {
          dx[(n * pixels + p) * channels + c] = dy[n * channels + c] / Float(pixels)
        }
      }
    }
  }
}

/// The maximum of each channel over the image; the gradient goes to the first maximum. Keras:
/// `GlobalMaxPooling2D(keepdims=False)`.
public final class GlobalMaxPooling2D: GlobalPooling2D, Layer {
  public typealias Config = GlobalPoolingConfig
  public static let identifier = "GlobalMaxPooling2D"
  private var winners: [Int] = []

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    let (batch, pixels, channels) = try prepare(x, context)
    if winners.count != batch * channels { winners = [Int](repeating: 0, count: batch * channels) }
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { y in
        for n in 0..<batch {
          for c in 0..<channels {
            var best = -Float.infinity, at = 0
            for p in 0..<pixels where xs[(n * pixels + p) * channels + c] > best {
              best = xs[(n * pixels + p) * channels + c]
              at = p
            }
            y[n * channels + c] = best
            winners[n * channels + c] = at
          }
        }
      }
    }
    return output.handOut(in: context)
  }

  override func spread(
    _ dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    batch: Int, pixels: Int, channels: Int
  ) {
    dx.update(repeating: 0)
    for n in 0..<batch {
      for c in 0..<channels {
        dx[(n * pixels + winners[n * channels + c]) * channels + c] = dy[n * channels + c]
      }
    }
  }
}
