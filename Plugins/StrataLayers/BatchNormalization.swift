import CStrataKernels
import StrataCore

/// Normalizes each channel (the last axis) to zero mean and unit variance, then scales and shifts it.
///
/// Keras: `BatchNormalization(axis=-1, momentum=0.99, epsilon=0.001, center=True, scale=True)`.
/// In training the batch statistics are used (biased variance, as `ops.moments`) and the moving ones
/// updated: `moving = moving · momentum + batch · (1 - momentum)`; at inference the moving statistics
/// are used. The moving statistics are non-trainable parameters. A frozen layer (``isFrozen``, Keras'
/// `trainable = False`) always uses the moving statistics and updates nothing.
public final class BatchNormalization: Layer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `axis`.
    public var axis: Int = -1
    /// Keras' `momentum`.
    public var momentum: Float = 0.99
    /// Keras' `epsilon`.
    public var epsilon: Float = 1e-3
    /// Keras' `center`.
    public var center: Bool = true
    /// Keras' `scale`.
    public var scale: Bool = true
    /// Keras' `beta_initializer`.
    public var betaInitializer: Spec = "zeros"
    /// Keras' `gamma_initializer`.
    public var gammaInitializer: Spec = "ones"
    /// Keras' `moving_mean_initializer`.
    public var movingMeanInitializer: Spec = "zeros"
    /// Keras' `moving_variance_initializer`.
    public var movingVarianceInitializer: Spec = "ones"
    /// Batch renormalization is not supported: only Keras' default, `false`, is accepted.
    public var renorm: Bool = false
    /// Read for Keras configs; unused without `renorm`.
    public var renormMomentum: Float = 0.99

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(
      axis: Int = Config().axis, momentum: Float = Config().momentum,
      epsilon: Float = Config().epsilon, center: Bool = Config().center,
      scale: Bool = Config().scale, betaInitializer: Spec = Config().betaInitializer,
      gammaInitializer: Spec = Config().gammaInitializer,
      movingMeanInitializer: Spec = Config().movingMeanInitializer,
      movingVarianceInitializer: Spec = Config().movingVarianceInitializer,
      renorm: Bool = Config().renorm, renormMomentum: Float = Config().renormMomentum
    ) {
      self.axis = axis
      self.momentum = momentum
      self.epsilon = epsilon
      self.center = center
      self.scale = scale
      self.betaInitializer = betaInitializer
      self.gammaInitializer = gammaInitializer
      self.movingMeanInitializer = movingMeanInitializer
      self.movingVarianceInitializer = movingVarianceInitializer
      self.renorm = renorm
      self.renormMomentum = renormMomentum
    }
  }

  public static let identifier = "BatchNormalization"
  public let config: Config
  public let declaredInputShape: [Int]?
  private let initializers: [any Initializer]

  /// The scale, `[channels]` (with `scale`); `nil` before `build`.
  public private(set) var gamma: Parameter?
  /// The offset, `[channels]` (with `center`); `nil` before `build`.
  public private(set) var beta: Parameter?
  /// The moving mean inference uses (not trainable).
  public private(set) var movingMean: Parameter?
  /// The moving variance inference uses (not trainable).
  public private(set) var movingVariance: Parameter?
  /// Keras' `trainable = False` (the same as ``Layer/trainable`` false): moving statistics in training
  /// too, and no parameter changes.
  public var isFrozen: Bool {
    get { !trainable }
    set { trainable = !newValue }
  }

  private var inputShape: [Int] = []
  private var input: Tensor?
  private var usedBatchStatistics = false
  private var normalized = Tensor(shape: [0])  // x̂
  private var inverseDeviation: [Float] = []  // 1 / sqrt(var + ε), per channel
  private var mean: [Float] = []
  /// `inverseDeviation · gamma` and `beta - mean · scale`, per channel: the forward pass's affine map.
  private var scale: [Float] = [], shift: [Float] = []
  private var output = Tensor(shape: [0])
  private var inputGradient = Tensor(shape: [0])

  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `BatchNormalization()` with Keras' defaults.
  public convenience init(
    momentum: Float = 0.99, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true
  ) throws {
    try self.init(
      config: Config(momentum: momentum, epsilon: epsilon, center: center, scale: scale),
      inputShape: nil)
  }

  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.momentum >= 0 && config.momentum < 1,
      owner: "BatchNormalization", argument: "momentum", value: "\(config.momentum)",
      expected: "a number in [0, 1)")
    try checkArgument(
      !config.renorm,
      owner: "BatchNormalization", argument: "renorm", value: "true",
      expected: "false (batch renormalization is not supported)")
    try checkArgument(
      config.epsilon > 0,
      owner: "BatchNormalization", argument: "epsilon", value: "\(config.epsilon)",
      expected: "a positive number")
    self.config = config
    declaredInputShape = inputShape
    initializers = try [
      config.gammaInitializer, config.betaInitializer, config.movingMeanInitializer,
      config.movingVarianceInitializer,
    ]
    .map { try Registries.shared.initializer($0) }
  }

  /// Every weight, in Keras' order.
  public var parameters: [Parameter] {
    [gamma, beta, movingMean, movingVariance].compactMap { $0 }
  }

  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard let channels = inputShape.last, channels > 0 else {
      throw StrataError.shapeMismatch(
        layer: "BatchNormalization", received: kerasShape(inputShape),
        expected: "an input with a last axis")
    }
    try checkArgument(
      config.axis == -1 || config.axis == inputShape.count,
      owner: "BatchNormalization", argument: "axis", value: "\(config.axis)",
      expected: "-1 (the channels of channels-last data), or \(inputShape.count) for this input")
    self.inputShape = inputShape
    let shape = [channels]
    gamma =
      config.scale
      ? Parameter(
        name: "gamma", value: try initializers[0].make(shape: shape, generator: &generator),
        isTrainable: true) : nil
    beta =
      config.center
      ? Parameter(
        name: "beta", value: try initializers[1].make(shape: shape, generator: &generator),
        isTrainable: true) : nil
    movingMean = Parameter(
      name: "moving_mean", value: try initializers[2].make(shape: shape, generator: &generator),
      isTrainable: false)
    movingVariance = Parameter(
      name: "moving_variance", value: try initializers[3].make(shape: shape, generator: &generator),
      isTrainable: false)
    applyTrainable()
    return inputShape
  }

  /// The per-channel `scale` and `shift` of inference (`y = x · scale + shift`, from the moving
  /// statistics), computed as ``forward(_:in:)`` computes them; `nil` before `build`.
  package var inferenceScaleShift: (scale: [Float], shift: [Float])? {
    guard let movingMean, let movingVariance, let channels = inputShape.last else { return nil }
    let g = gamma?.value.scalars, b = beta?.value.scalars
    let mm = movingMean.value.scalars, mv = movingVariance.value.scalars
    var scale = [Float](repeating: 0, count: channels), shift = scale
    for c in 0..<channels {
      let inverseDeviation = 1 / (mv[c] + config.epsilon).squareRoot()
      scale[c] = inverseDeviation * (g?[c] ?? 1)
      shift[c] = (b?[c] ?? 0) - mm[c] * scale[c]
    }
    return (scale, shift)
  }

  /// The parameters ``inferenceScaleShift`` is computed from.
  package var statisticsParameters: [Parameter] {
    [gamma, beta, movingMean, movingVariance].compactMap { $0 }
  }

  public func forward(_ x: Tensor, in context: Context) throws -> Tensor {
    guard let movingMean, let movingVariance else {
      throw StrataError.invalidState("BatchNormalization: forward was called before build.")
    }
    try checkInput(x, layer: "BatchNormalization", expected: inputShape)
    let channels = inputShape[inputShape.count - 1], rows = x.count / channels
    let batchStatistics = context.behavesAsTraining && !isFrozen
    if mean.count != channels {
      mean = [Float](repeating: 0, count: channels)
      (inverseDeviation, scale, shift) = (mean, mean, mean)
    }
    if batchStatistics {
      var sums = [Double](repeating: 0, count: channels), squares = sums
      x.withUnsafeBufferPointer { xs in
        strata_bn_sums_of_squares(xs.baseAddress, rows, channels, &sums, &squares)
      }
      let momentum = config.momentum
      movingMean.value.withUnsafeMutableBufferPointer { mm in
        movingVariance.value.withUnsafeMutableBufferPointer { mv in
          for c in 0..<channels {
            let m = sums[c] / Double(rows)
            let variance = max(0, squares[c] / Double(rows) - m * m)
            mean[c] = Float(m)
            inverseDeviation[c] = Float(1 / (variance + Double(config.epsilon)).squareRoot())
            mm[c] = mm[c] * momentum + Float(m) * (1 - momentum)
            mv[c] = mv[c] * momentum + Float(variance) * (1 - momentum)
          }
        }
      }
    } else {
      movingMean.value.withUnsafeBufferPointer { mm in
        movingVariance.value.withUnsafeBufferPointer { mv in
          for c in 0..<channels {
            mean[c] = mm[c]
            inverseDeviation[c] = 1 / (mv[c] + config.epsilon).squareRoot()
          }
        }
      }
    }
    output.reuse(shape: x.shape, in: context)
    let g = gamma?.value.scalars, b = beta?.value.scalars
    // y = x · scale + shift per channel, as Keras' backends compute it; the normalized input is
    // kept only for a backward pass.
    for c in 0..<channels {
      scale[c] = inverseDeviation[c] * (g?[c] ?? 1)
      shift[c] = (b?[c] ?? 0) - mean[c] * scale[c]
    }
    x.withUnsafeBufferPointer { xs in
      output.withUnsafeMutableBufferPointer { y in
        scale.withUnsafeBufferPointer { a in
          shift.withUnsafeBufferPointer { s in
            guard rows > 0, channels > 0 else { return }
            let (xp, yp, ap, sp) = (xs.baseAddress!, y.baseAddress!, a.baseAddress!, s.baseAddress!)
            for r in 0..<rows {
              let (xr, yr) = (xp + r &* channels, yp + r &* channels)
              var c = 0
              while c &+ 16 <= channels {
                let v = UnsafeRawPointer(xr + c).loadUnaligned(as: SIMD16<Float>.self)
                let k = UnsafeRawPointer(ap + c).loadUnaligned(as: SIMD16<Float>.self)
                let b = UnsafeRawPointer(sp + c).loadUnaligned(as: SIMD16<Float>.self)
                UnsafeMutableRawPointer(yr + c).storeBytes(of: v * k + b, as: SIMD16<Float>.self)
                c &+= 16
              }
              while c < channels {
                yr[c] = xr[c] * ap[c] + sp[c]
                c &+= 1
              }
            }
          }
        }
      }
    }
    if context.isTraining {
      normalized.reuse(shape: x.shape)
      x.withUnsafeBufferPointer { xs in
        normalized.withUnsafeMutableBufferPointer { xh in
          strata_bn_normalize(
            xs.baseAddress, mean, inverseDeviation, xh.baseAddress, rows, channels)
        }
      }
    }
    input = context.isTraining ? x : nil
    usedBatchStatistics = batchStatistics
    return output.handOut(in: context)
  }

  public func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor {
    guard let x = input else { throw missingForward("BatchNormalization") }
    input = nil
    let channels = inputShape[inputShape.count - 1], rows = x.count / channels
    var sumGradient = [Double](repeating: 0, count: channels), sumProduct = sumGradient
    outputGradient.withUnsafeBufferPointer { dy in
      normalized.withUnsafeBufferPointer { xh in
        strata_bn_sums(dy.baseAddress, xh.baseAddress, rows, channels, &sumGradient, &sumProduct)
      }
    }
    if let gamma {
      gamma.gradient.withUnsafeMutableBufferPointer {
        for c in 0..<channels { $0[c] = Float(sumProduct[c]) }
      }
    }
    if let beta {
      beta.gradient.withUnsafeMutableBufferPointer {
        for c in 0..<channels { $0[c] = Float(sumGradient[c]) }
      }
    }
    let g = gamma?.value.scalars
    let scale = (0..<channels).map { (g?[$0] ?? 1) * inverseDeviation[$0] }
    // With batch statistics, the batch mean and variance depend on x too.
    let n = Double(max(rows, 1))
    let meanGradient = sumGradient.map { Float($0 / n) }
    let meanProduct = sumProduct.map { Float($0 / n) }
    inputGradient.reuse(shape: x.shape)
    outputGradient.withUnsafeBufferPointer { dy in
      normalized.withUnsafeBufferPointer { xh in
        inputGradient.withUnsafeMutableBufferPointer { dx in
          strata_bn_input_gradient(
            dy.baseAddress, usedBatchStatistics ? xh.baseAddress : nil, scale, meanGradient,
            meanProduct, dx.baseAddress, rows, channels)
        }
      }
    }
    return inputGradient
  }
}

extension BatchNormalization: PerCallState {
  /// What the last call kept: its input, whether it used batch statistics, x̂ and the statistics.
  public func saveCallState() -> Any {
    (input, usedBatchStatistics, normalized, inverseDeviation, mean)
  }
  /// Puts back a call's state.
  public func restoreCallState(_ state: Any) throws {
    guard
      let (input, usedBatchStatistics, normalized, inverseDeviation, mean) = state
        as? (Tensor?, Bool, Tensor, [Float], [Float])
    else {
      throw StrataError.invalidState("BatchNormalization: a call state that is not its own")
    }
    self.input = input
    self.usedBatchStatistics = usedBatchStatistics
    self.normalized = normalized
    self.inverseDeviation = inverseDeviation
    self.mean = mean
  }
}
