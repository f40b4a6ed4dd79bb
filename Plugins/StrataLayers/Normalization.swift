import StrataCore

/// Shifts and scales features to mean 0 and variance 1 with a mean and variance given or learnt by
/// ``adapt(_:)``: `(x - mean) / max(sqrt(variance), 1e-7)`, or back with `invert`. EfficientNet's and
/// ConvNeXt's first layer.
///
/// Keras: `Normalization(axis=-1, mean=None, variance=None, invert=False)`. `axis` names the axes that
/// keep a mean and variance of their own (the batch is axis 0; `nil`, Keras' `None`, keeps one for
/// everything). Without `mean` and `variance` the layer has Keras' non-trainable weights `mean`,
/// `variance` and `count`, which ``adapt(_:)`` sets and `.keras` files hold.
public final class Normalization: ShapePreservingLayer, OpsLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `axis`: the axes with a statistic each; `nil` for one over all.
    public var axis: Axes? = -1
    /// Keras' `mean`: one number, or a list along the last kept axis; `nil` to adapt.
    public var mean: FloatValues?
    /// Keras' `variance`, given with `mean`.
    public var variance: FloatValues?
    /// Keras' `invert`: turns normalized values back.
    public var invert: Bool = false

    /// Keras' defaults.
    public init() {}
  }

  /// The registry key: Keras' `Normalization`.
  public static let identifier = "Normalization"
  /// Keras' `backend.epsilon()`: the smallest standard deviation divided by.
  static let epsilon: Float = 1e-7
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  /// The kept axes of a batched input (batch axis 0), sorted; set when built.
  private var keptAxes: [Int] = []
  /// The shape `mean` and `variance` broadcast from: the batched input's, 1 on reduced axes.
  private var broadcastShape: [Int] = []
  /// Keras' non-trainable `mean`, `variance` and `count` weights when no `mean` was given.
  public private(set) var adaptedMean: Parameter?
  /// Keras' `adaptedVariance` weight; `nil` until built.
  public private(set) var adaptedVariance: Parameter?
  private var count: Parameter?
  /// The statistics as given in the config, in ``broadcastShape``.
  private var givenMean: Tensor?
  private var givenVariance: Tensor?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Normalization()` (to adapt, per feature on the last axis), `Normalization(axis: nil)`, or
  /// with known statistics: `Normalization(mean: [0.485, 0.456, 0.406], variance: [0.05, 0.05, 0.05])`.
  public convenience init(
    axis: Axes? = -1, mean: FloatValues? = nil, variance: FloatValues? = nil, invert: Bool = false,
    inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    (config.axis, config.mean, config.variance, config.invert) = (axis, mean, variance, invert)
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      (config.mean == nil) == (config.variance == nil), owner: "Normalization",
      argument: config.mean == nil ? "variance" : "mean",
      value: "\(config.mean ?? config.variance ?? 0)",
      expected: "`mean` and `variance` given together, or neither (to adapt)")
    for (argument, value) in [("mean", config.mean), ("variance", config.variance)] {
      guard let value else { continue }
      try checkArgument(
        value.isFinite && !value.values.isEmpty, owner: "Normalization", argument: argument,
        value: "\(value)", expected: "a finite number or a non-empty list of them")
    }
    if let variance = config.variance {
      try checkArgument(
        variance.values.allSatisfy { $0 >= 0 }, owner: "Normalization", argument: "variance",
        value: "\(variance)", expected: "values ≥ 0")
    }
    self.config = config
    declaredInputShape = inputShape
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { [adaptedMean, adaptedVariance, count].compactMap { $0 } }

  /// Creates the weights for `inputShape` and returns the output shape.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let batched = [1] + inputShape
    keptAxes = try config.axis?.resolved(rank: batched.count, owner: "Normalization") ?? []
    broadcastShape = batched.indices.map { keptAxes.contains($0) ? batched[$0] : 1 }
    let statisticShape = keptAxes.map { batched[$0] }
    if let mean = config.mean, let variance = config.variance {
      givenMean = try statistic(mean, argument: "mean", inputShape: inputShape)
      givenVariance = try statistic(variance, argument: "variance", inputShape: inputShape)
    } else {
      adaptedMean = Parameter(
        name: "mean", value: try Tensor(checkedShape: statisticShape, owner: "Normalization"),
        isTrainable: false)
      adaptedVariance = Parameter(
        name: "variance",
        value: try Tensor(checkedShape: statisticShape, repeating: 1, owner: "Normalization"),
        isTrainable: false)
      count = Parameter(name: "count", value: Tensor(shape: []), isTrainable: false)
    }
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  /// A statistic from the config in ``broadcastShape``: a number everywhere, or a list along the
  /// last kept axis, as Keras aligns them.
  private func statistic(_ value: FloatValues, argument: String, inputShape: [Int]) throws -> Tensor
  {
    if value.isScalar || value.values.count == 1 {
      return Tensor(shape: broadcastShape, repeating: value.values[0])
    }
    guard let last = keptAxes.last, broadcastShape[last] == value.values.count else {
      throw StrataError.invalidArgument(
        owner: "Normalization", argument: argument, value: "a list of \(value.values.count) values",
        expected:
          "one value, or one per index of the last kept axis (axis \(config.axis.map { "\($0)" } ?? "None") of input \(kerasShape(inputShape)))"
      )
    }
    let expanded = broadcastShape.indices.map { $0 == last ? value.values.count : 1 }
    return try Ops.broadcastTo(Tensor(shape: expanded, scalars: value.values), broadcastShape)
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "Normalization")
    let (mean, variance) = try statistics()
    let deviation = try Ops.maximum(Ops.sqrt(variance), Tensor(shape: [], repeating: Self.epsilon))
    return config.invert ? try mean + x * deviation : try (x - mean) / deviation
  }

  /// The mean and variance in ``broadcastShape``.
  private func statistics() throws -> (Tensor, Tensor) {
    if let givenMean, let givenVariance { return (givenMean, givenVariance) }
    guard let adaptedMean, let adaptedVariance else {
      throw StrataError.invalidState("Normalization: called before build.")
    }
    return (
      try adaptedMean.value.reshaped(to: broadcastShape),
      try adaptedVariance.value.reshaped(to: broadcastShape)
    )
  }

  /// Learns the mean and variance of `data` (a batch of samples, or the whole set) per index of the
  /// kept axes, as Keras' `adapt` does; builds the layer first if needed.
  /// - Throws: when the layer was given `mean` and `variance`, or `data` does not fit its shape.
  public func adapt(_ data: Tensor) throws { try adapt(batches: [data]) }

  /// Learns the mean and variance over `batches` (all of a dataset's batches, as Keras' `adapt` on
  /// a batched dataset), combined exactly as Keras combines them.
  public func adapt(batches: some Sequence<Tensor>) throws {
    guard config.mean == nil else {
      throw StrataError.invalidArgument(
        owner: "Normalization", argument: "mean", value: "\(config.mean.map { "\($0)" } ?? "")",
        expected: "no mean and variance in the config to call adapt (they are fixed)")
    }
    var totalMean: [Double] = [], totalVariance: [Double] = [], totalCount = 0
    for batch in batches {
      if adaptedMean == nil {
        guard batch.rank >= 1 else {
          throw StrataError.shapeMismatch(
            layer: "Normalization", received: "\(batch.shape)", expected: "a batch of samples")
        }
        var generator = SeededGenerator(seed: 0)
        _ = try build(inputShape: Array(batch.shape.dropFirst()), generator: &generator)
      }
      try checkInput(batch, layer: "Normalization")
      let (mean, variance, count) = moments(of: batch)
      if totalCount == 0 {
        totalMean = Array(repeating: 0, count: mean.count)
        totalVariance = totalMean
      }
      totalCount += count
      let batchWeight = Double(count) / Double(totalCount), existingWeight = 1 - batchWeight
      for i in mean.indices {
        let newMean = totalMean[i] * existingWeight + mean[i] * batchWeight
        let shiftOld = totalMean[i] - newMean, shiftNew = mean[i] - newMean
        totalVariance[i] =
          (totalVariance[i] + shiftOld * shiftOld) * existingWeight
          + (variance[i] + shiftNew * shiftNew) * batchWeight
        totalMean[i] = newMean
      }
    }
    guard totalCount > 0, let adaptedMean, let adaptedVariance else {
      throw StrataError.invalidArgument(
        owner: "Normalization", argument: "data", value: "no batches",
        expected: "at least one batch to adapt on")
    }
    adaptedMean.value = try Tensor(shape: adaptedMean.shape, scalars: totalMean.map { Float($0) })
    adaptedVariance.value = try Tensor(
      shape: adaptedVariance.shape, scalars: totalVariance.map { Float($0) })
  }

  /// The mean and (biased) variance of `batch` per kept index, in double precision, and the number
  /// of values each is over.
  private func moments(of batch: Tensor) -> (mean: [Double], variance: [Double], count: Int) {
    let shape = batch.shape
    let keptCount = keptAxes.reduce(1) { $0 * shape[$1] }
    let count = batch.count / Swift.max(keptCount, 1)
    // Each element's kept index: its coordinates on the kept axes, row-major.
    var keptStrides = Array(repeating: 0, count: shape.count)
    var stride = 1
    for axis in keptAxes.reversed() {
      keptStrides[axis] = stride
      stride *= shape[axis]
    }
    // Visits every element with its kept index, counting coordinates like an odometer.
    func visit(_ body: (Int, Int) -> Void) {
      var coordinates = Array(repeating: 0, count: shape.count)
      var kept = 0
      for element in 0..<batch.count {
        body(element, kept)
        var axis = shape.count - 1
        while axis >= 0 {
          coordinates[axis] += 1
          kept += keptStrides[axis]
          if coordinates[axis] < shape[axis] { break }
          kept -= keptStrides[axis] * shape[axis]
          coordinates[axis] = 0
          axis -= 1
        }
      }
    }
    var sums = Array(repeating: 0.0, count: keptCount)
    var squares = Array(repeating: 0.0, count: keptCount)
    batch.withUnsafeBufferPointer { values in
      visit { element, kept in sums[kept] += Double(values[element]) }
      for kept in sums.indices { sums[kept] /= Double(Swift.max(count, 1)) }
      visit { element, kept in
        let deviation = Double(values[element]) - sums[kept]
        squares[kept] += deviation * deviation
      }
    }
    return (sums, squares.map { $0 / Double(Swift.max(count, 1)) }, count)
  }
}

/// Normalizes each sample over `axis` to mean 0 and variance 1, then scales by `gamma` and shifts
/// by `beta`: the Transformer's and ConvNeXt's normalization.
///
/// Keras: `LayerNormalization(axis=-1, epsilon=1e-3, center=True, scale=True,
/// beta_initializer="zeros", gamma_initializer="ones")`. `gamma` and `beta` have the shape of the
/// normalized axes and come in that order in `.keras` files. Keras' deprecated `rms_scaling=True`
/// is honoured as Keras computes it (divides by the standard deviation, no centring, no `beta`).
public final class LayerNormalization: ShapePreservingLayer, OpsLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `axis`: the axes normalized over (the batch is axis 0).
    public var axis: Axes = -1
    /// Keras' `epsilon`, added to the variance.
    public var epsilon: Float = 1e-3
    /// Keras' `center`: add the trainable `beta`.
    public var center: Bool = true
    /// Keras' `scale`: multiply by the trainable `gamma`.
    public var scale: Bool = true
    /// Keras' deprecated `rms_scaling`.
    public var rmsScaling: Bool = false
    /// Keras' `beta_initializer`.
    public var betaInitializer: Spec = "zeros"
    /// Keras' `gamma_initializer`.
    public var gammaInitializer: Spec = "ones"
    /// Keras' `beta_regularizer`.
    public var betaRegularizer: Spec?
    /// Keras' `gamma_regularizer`.
    public var gammaRegularizer: Spec?
    /// Keras' `beta_constraint`.
    public var betaConstraint: Spec?
    /// Keras' `gamma_constraint`.
    public var gammaConstraint: Spec?

    /// Keras' defaults.
    public init() {}
  }

  /// The registry key: Keras' `LayerNormalization`.
  public static let identifier = "LayerNormalization"
  /// The arguments the layer was made with.
  public let config: Config
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private let gammaOptions: WeightOptions
  private let betaOptions: WeightOptions
  /// The normalized axes of a batched input (batch axis 0), sorted; set when built.
  private var normalizedAxes: [Int] = []
  /// The shape `gamma` and `beta` broadcast from: 1 except on the normalized axes.
  private var broadcastShape: [Int] = []
  /// The scale, shaped as the normalized axes; `nil` until built or without `scale`.
  public private(set) var gamma: Parameter?
  /// The offset, shaped as the normalized axes; `nil` until built or without `center`.
  public private(set) var beta: Parameter?

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `LayerNormalization(epsilon: 1e-6)`, as Keras' `LayerNormalization(epsilon=1e-6)`.
  public convenience init(
    axis: Axes = -1, epsilon: Float = 1e-3, center: Bool = true, scale: Bool = true,
    inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    (config.axis, config.epsilon, config.center, config.scale) = (axis, epsilon, center, scale)
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    try checkArgument(
      config.epsilon.isFinite && config.epsilon >= 0, owner: "LayerNormalization",
      argument: "epsilon", value: "\(config.epsilon)", expected: "a finite number ≥ 0")
    try checkArgument(
      !config.axis.values.isEmpty, owner: "LayerNormalization", argument: "axis",
      value: "\(config.axis)", expected: "at least one axis")
    gammaOptions = try WeightOptions(
      WeightArguments(
        useBias: false, kernelInitializer: config.gammaInitializer,
        kernelConstraint: config.gammaConstraint, kernelRegularizer: config.gammaRegularizer))
    betaOptions = try WeightOptions(
      WeightArguments(
        useBias: false, kernelInitializer: config.betaInitializer,
        kernelConstraint: config.betaConstraint, kernelRegularizer: config.betaRegularizer))
    self.config = config
    declaredInputShape = inputShape
  }

  /// The weights, in Keras' order.
  public var parameters: [Parameter] { [gamma, beta].compactMap { $0 } }

  /// Creates the weights for `inputShape` and returns the output shape.
  public override func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let batched = [1] + inputShape
    normalizedAxes = try config.axis.resolved(rank: batched.count, owner: "LayerNormalization")
    broadcastShape = batched.indices.map { normalizedAxes.contains($0) ? batched[$0] : 1 }
    let shape = normalizedAxes.map { batched[$0] }
    gamma =
      config.scale || config.rmsScaling
      ? try gammaOptions.makeWeights(
        kernelShape: shape, units: 0, kernelName: "gamma", generator: &generator
      ).kernel : nil
    beta =
      config.center && !config.rmsScaling
      ? try betaOptions.makeWeights(
        kernelShape: shape, units: 0, kernelName: "beta", generator: &generator
      ).kernel : nil
    return try super.build(inputShape: inputShape, generator: &generator)
  }

  /// The output for a batch, computed with ops.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: "LayerNormalization")
    if normalizedAxes == [x.rank - 1], !config.rmsScaling {
      // The last axis (Keras' default): one fused operation.
      return try Ops.layerNormalization(
        x, gamma: gamma?.value, beta: beta?.value, epsilon: config.epsilon)
    }
    let mean = try Ops.mean(x, axes: normalizedAxes, keepDims: true)
    let centered = try x - mean
    let variance = try Ops.mean(Ops.square(centered), axes: normalizedAxes, keepDims: true)
    let inverse = try 1 / Ops.sqrt(variance + config.epsilon)
    var y = try (config.rmsScaling ? x : centered) * inverse
    if let gamma { y = try y * Ops.reshape(gamma.value, broadcastShape) }
    if let beta { y = try y + Ops.reshape(beta.value, broadcastShape) }
    return y
  }
}
