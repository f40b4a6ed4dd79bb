import Foundation
import StrataCore

/// The arguments every Keras optimizer takes.
public struct OptimizerArguments: Codable, Sendable, Equatable {
  /// Keras' `learning_rate`.
  public var learningRate: Float
  /// Decoupled weight decay: `w -= learningRate · weightDecay · w` before each update.
  public var weightDecay: Float?
  /// Each gradient is rescaled so that its L2 norm is at most this.
  public var clipnorm: Float?
  /// Each gradient element is clipped to `[-clipvalue, clipvalue]`.
  public var clipvalue: Float?
  /// All gradients together are rescaled so that their joint L2 norm is at most this.
  public var globalClipnorm: Float?
  /// Keras' `gradient_accumulation_steps`: the weights change every this many steps, by the mean of
  /// the gradients of those steps (at least 2; `nil`: every step).
  public var gradientAccumulationSteps: Int?
  /// A learning-rate schedule given as Keras' `learning_rate` (`{"class_name": "ExponentialDecay",
  /// "config": {…}}`); ``learningRate`` then holds its value at step 0.
  public var learningRateSchedule: ConfigValue?

  private enum CodingKeys: String, CodingKey {
    case learningRate, weightDecay, clipnorm, clipvalue, globalClipnorm, gradientAccumulationSteps
    case useEma, lossScaleFactor
  }

  /// Decodes Keras' arguments; `learning_rate` is a number or a schedule.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    if let rate = try? c.decode(Float.self, forKey: .learningRate) {
      learningRate = rate
    } else {
      let record = try c.decode(ConfigValue.self, forKey: .learningRate)
      learningRateSchedule = record
      learningRate = try Registries.shared.schedule(record).learningRate(at: 0)
    }
    weightDecay = try c.decodeIfPresent(Float.self, forKey: .weightDecay)
    clipnorm = try c.decodeIfPresent(Float.self, forKey: .clipnorm)
    clipvalue = try c.decodeIfPresent(Float.self, forKey: .clipvalue)
    globalClipnorm = try c.decodeIfPresent(Float.self, forKey: .globalClipnorm)
    gradientAccumulationSteps = try c.decodeIfPresent(Int.self, forKey: .gradientAccumulationSteps)
    // Keras writes these; Strata has neither a moving average of the weights nor loss scaling.
    if try c.decodeIfPresent(Bool.self, forKey: .useEma) == true {
      throw StrataError.invalidArgument(
        owner: "optimizer", argument: "use_ema", value: "true",
        expected: "false (an exponential moving average of the weights is not supported)")
    }
    if let factor = try c.decodeIfPresent(Float.self, forKey: .lossScaleFactor) {
      throw StrataError.invalidArgument(
        owner: "optimizer", argument: "loss_scale_factor", value: "\(factor)",
        expected: "null (loss scaling is for mixed precision, which Strata does not use)")
    }
  }

  /// Encodes Keras' arguments; a schedule as its serialized record under `learning_rate`.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    if let learningRateSchedule {
      try c.encode(learningRateSchedule, forKey: .learningRate)
    } else {
      try c.encode(learningRate, forKey: .learningRate)
    }
    try c.encodeIfPresent(weightDecay, forKey: .weightDecay)
    try c.encodeIfPresent(clipnorm, forKey: .clipnorm)
    try c.encodeIfPresent(clipvalue, forKey: .clipvalue)
    try c.encodeIfPresent(globalClipnorm, forKey: .globalClipnorm)
    try c.encodeIfPresent(gradientAccumulationSteps, forKey: .gradientAccumulationSteps)
  }

  /// The arguments given, Keras' defaults for the others.
  public init(
    learningRate: Float, weightDecay: Float? = nil, clipnorm: Float? = nil, clipvalue: Float? = nil,
    globalClipnorm: Float? = nil
  ) {
    learningRateSchedule = nil
    self.learningRate = learningRate
    self.weightDecay = weightDecay
    self.clipnorm = clipnorm
    self.clipvalue = clipvalue
    self.globalClipnorm = globalClipnorm
  }

  func validate(_ owner: String) throws {
    try positive(owner, "learning_rate", learningRate, allowZero: true)
    for (name, value) in [
      ("clipnorm", clipnorm), ("clipvalue", clipvalue), ("global_clipnorm", globalClipnorm),
    ] {
      if let value { try positive(owner, name, value) }
    }
    if let weightDecay { try positive(owner, "weight_decay", weightDecay, allowZero: true) }
    if let steps = gradientAccumulationSteps, steps < 2 {
      throw StrataError.invalidArgument(
        owner: owner, argument: "gradient_accumulation_steps", value: "\(steps)",
        expected: "an integer ≥ 2")
    }
  }
}

/// An optimizer's own arguments: what its Keras config holds besides the common ones, a
/// ``KerasConfig`` (each default written once, on the property).
public protocol OptimizerOptions: KerasConfig, Equatable {
  /// Keras' default `learning_rate` for this optimizer.
  static var defaultLearningRate: Float { get }
  /// Refuses an argument out of range, naming it and `owner`.
  func validate(owner: String) throws
}

extension OptimizerOptions {
  /// Nothing to check.
  public func validate(owner: String) throws {}
}

/// An optimizer's config: the common arguments and the optimizer's own, flat in Keras' config
/// (`{"learning_rate": 0.001, "beta_1": 0.9, …}`). Its own arguments read as the config's
/// (`config.momentum`).
@dynamicMemberLookup
public struct OptimizerConfig<Options: OptimizerOptions>: KerasConfig, Equatable {

  /// The arguments every optimizer takes (`learning_rate`, clipping, `weight_decay`).
  public var common: OptimizerArguments
  /// The optimizer's own arguments.
  public var options: Options

  /// The arguments given, Keras' defaults for the others.
  public init(
    common: OptimizerArguments = .init(learningRate: Options.defaultLearningRate),
    options: Options = .kerasDefaults
  ) {
    self.common = common
    self.options = options
  }

  /// `learningRate` and `options`, Keras' defaults for the other common arguments.
  public init(learningRate: Float, options: Options = .kerasDefaults) {
    self.init(common: .init(learningRate: learningRate), options: options)
  }

  /// Keras' defaults with a learning-rate schedule: `Adam.Config(schedule: try ExponentialDecay(…))`.
  public init(schedule: any LearningRateSchedule) {
    var common = OptimizerArguments(learningRate: schedule.learningRate(at: 0))
    common.learningRateSchedule = schedule.serialized
    self.init(common: common)
  }

  /// The config with Keras' defaults: what arguments left out take.
  public init() {
    self.init(common: .init(learningRate: Options.defaultLearningRate), options: Options())
  }

  /// Decodes both parts from the one flat dictionary.
  public init(from decoder: Decoder) throws {
    self.init(common: try OptimizerArguments(from: decoder), options: try Options(from: decoder))
  }

  /// Encodes both parts into one flat dictionary.
  public func encode(to encoder: Encoder) throws {
    try common.encode(to: encoder)
    try options.encode(to: encoder)
  }

  /// The optimizer's own argument at `keyPath`.
  public subscript<Value>(dynamicMember keyPath: WritableKeyPath<Options, Value>) -> Value {
    get { options[keyPath: keyPath] }
    set { options[keyPath: keyPath] = newValue }
  }
}

/// An optimizer whose config is an ``OptimizerConfig`` over its own `Options`: it keeps and checks
/// the config; a subclass adds its update.
open class ConfiguredOptimizer<Options: OptimizerOptions>: BaseOptimizer {
  /// The Keras arguments.
  public typealias Config = OptimizerConfig<Options>
  /// The Keras arguments.
  public let config: Config

  /// Made from Keras' arguments; a bad one is refused by name.
  public required init(config: Config) throws {
    let owner = String(describing: Self.self)
    try config.options.validate(owner: owner)
    self.config = config
    try super.init(arguments: config.common, owner: owner)
  }
}

func positive(_ owner: String, _ argument: String, _ value: Float, allowZero: Bool = false) throws {
  try checkArgument(
    value.isFinite && (value > 0 || (allowZero && value == 0)),
    owner: owner, argument: argument, value: "\(value)",
    expected: allowZero ? "a number ≥ 0" : "a positive number")
}

func fraction(_ owner: String, _ argument: String, _ value: Float) throws {
  try checkArgument(
    value >= 0 && value < 1,
    owner: owner, argument: argument, value: "\(value)", expected: "a number in [0, 1)")
}

/// What every built-in optimizer shares: the learning rate, the step count, gradient clipping, weight
/// decay, and per-parameter slots (moments, accumulators) created on the first step.
open class BaseOptimizer {
  public var learningRate: Float
  public private(set) var iterations = 0
  let arguments: OptimizerArguments
  private var slotIndex: [ObjectIdentifier: Int] = [:]
  var slots: [[Tensor]] = []

  /// The schedule `learning_rate` follows, if one was given.
  public let schedule: (any LearningRateSchedule)?

  init(arguments: OptimizerArguments, owner: String) throws {
    try arguments.validate(owner)
    self.arguments = arguments
    learningRate = arguments.learningRate
    schedule = try arguments.learningRateSchedule.map { try Registries.shared.schedule($0) }
  }

  /// How many slots each parameter needs, and the value they start at.
  var slotCount: Int { 0 }
  func initialSlotValue(_ slot: Int) -> Float { 0 }
  /// Called once per step before the parameters are updated (Nadam's running product).
  func prepareStep() {}
  /// Updates one parameter; `step` is the 1-based step number.
  func update(
    value: UnsafeMutableBufferPointer<Float>, gradient: UnsafeBufferPointer<Float>,
    slots: inout [Tensor], step: Int
  ) {}

  /// The slots Keras keeps of ``slotCount`` (all by default); the gradient accumulator is not among them.
  var kerasSlotIndices: [Int] { Array(0..<slotCount) }

  /// Slots per parameter in ``state`` and those a `.keras` file holds, in Keras' order.
  public var kerasSlots: (perParameter: Int, kept: [Int]) { (totalSlots, kerasSlotIndices) }

  /// Slots per parameter: the optimizer's own, then the gradient accumulator when
  /// `gradient_accumulation_steps` is set (so it is saved and restored with them).
  private var totalSlots: Int { slotCount + (arguments.gradientAccumulationSteps == nil ? 0 : 1) }

  /// Updates `parameters` from their gradients: clipping, weight decay, then the optimizer's rule. With
  /// `gradient_accumulation_steps` N, N-1 steps in N only add the gradients up, and the N-th applies
  /// their mean, as Keras 3 does (the step count moves every step).
  public func apply(to parameters: [Parameter]) {
    let trainable = parameters.filter(\.isTrainable)
    // Step k (from 0) uses the schedule's rate at k, as Keras evaluates it before counting the step.
    if let schedule { learningRate = schedule.learningRate(at: iterations) }
    if let steps = arguments.gradientAccumulationSteps {
      let isUpdate = (iterations + 1) % steps == 0
      for p in trainable {
        let index = slotIndex(for: p)
        let accumulator = slotCount
        p.gradient.withUnsafeMutableBufferPointer { g in
          slots[index][accumulator].withUnsafeMutableBufferPointer { a in
            if isUpdate {
              let scale = 1 / Float(steps)
              simdZip(UnsafeBufferPointer(g), UnsafeBufferPointer(a), into: g) { ($0 + $1) * scale }
              a.update(repeating: 0)
            } else {
              simdZip(UnsafeBufferPointer(a), UnsafeBufferPointer(g), into: a, +)
            }
          }
        }
      }
      if !isUpdate {
        iterations += 1
        return
      }
    }
    if let limit = arguments.globalClipnorm {
      var total: Double = 0
      for p in trainable {
        p.gradient.withUnsafeBufferPointer { for g in $0 { total += Double(g * g) } }
      }
      let norm = Float(total.squareRoot())
      if norm > limit {
        let scale = limit / norm
        for p in trainable {
          p.gradient.withUnsafeMutableBufferPointer { g in
            simdMap(UnsafeBufferPointer(g), into: g) { $0 * scale }
          }
        }
      }
    }
    prepareStep()
    let step = iterations + 1
    for p in trainable {
      p.gradient.withUnsafeMutableBufferPointer { g in
        if let limit = arguments.clipnorm {
          var total: Double = 0
          for v in g { total += Double(v * v) }
          let norm = Float(total.squareRoot())
          if norm > limit { simdMap(UnsafeBufferPointer(g), into: g) { $0 * (limit / norm) } }
        }
        if let limit = arguments.clipvalue {
          simdMap(UnsafeBufferPointer(g), into: g) {
            SIMDMath.clamp($0, -limit, limit)
          }
        }
      }
      let index = slotIndex(for: p)
      let decay = (arguments.weightDecay ?? 0) * learningRate
      p.value.withUnsafeMutableBufferPointer { w in
        if decay != 0 { simdMap(UnsafeBufferPointer(w), into: w) { $0 - $0 * decay } }
        p.gradient.withUnsafeBufferPointer { g in
          update(value: w, gradient: g, slots: &slots[index], step: step)
        }
      }
      p.constraint?.apply(to: &p.value)
    }
    iterations += 1
  }

  private func slotIndex(for parameter: Parameter) -> Int {
    let id = ObjectIdentifier(parameter)
    if let index = slotIndex[id], slots[index].first?.shape ?? parameter.shape == parameter.shape {
      return index
    }
    let index = slotIndex[id] ?? slots.count
    let fresh = (0..<totalSlots).map {
      Tensor(shape: parameter.shape, repeating: $0 < slotCount ? initialSlotValue($0) : 0)
    }
    if index == slots.count { slots.append(fresh) } else { slots[index] = fresh }
    slotIndex[id] = index
    return index
  }

  /// The slots in parameter order, flattened: what a saved model stores.
  public var state: [Tensor] { slots.flatMap { $0 } }

  /// Restores slots saved by ``state`` for `parameters` (in the same order) and the step count.
  public func restore(state: [Tensor], iterations: Int, parameters: [Parameter]) throws {
    let trainable = parameters.filter(\.isTrainable)
    try checkArgument(
      state.count == trainable.count * totalSlots,
      owner: "\(type(of: self))", argument: "state", value: "of \(state.count) tensors",
      expected: "\(trainable.count * totalSlots) (\(totalSlots) per trainable parameter)")
    slotIndex = [:]
    slots = []
    for (i, p) in trainable.enumerated() {
      let saved = Array(state[(i * totalSlots)..<((i + 1) * totalSlots)])
      try checkArgument(
        saved.allSatisfy({ $0.shape == p.shape }),
        owner: "\(type(of: self))", argument: "state", value: "of shapes \(saved.map(\.shape))",
        expected: "the shape of parameter '\(p.name)', \(p.shape)")
      slotIndex[ObjectIdentifier(p)] = i
      slots.append(saved)
    }
    self.iterations = iterations
    prepareRestore()
  }

  /// Recomputes derived state after a restore (Nadam's running product).
  func prepareRestore() {}
}

/// Runs `body` on each element of `w`, `g` and up to three slots. The loop is written per element so
/// that LLVM vectorizes it for whatever the build targets; `SIMD16.squareRoot()` would call `sqrtf` once
/// per lane on the baseline x86-64 target.
@inline(__always)
func elementLoop(
  _ w: UnsafeMutableBufferPointer<Float>, _ g: UnsafeBufferPointer<Float>, _ slots: inout [Tensor],
  _ body: (inout Float, Float, inout Float, inout Float, inout Float) -> Void
) {
  let n = w.count
  // The slots are owned by the optimizer alone; their storage stays put for the whole loop.
  var scratch: Float = 0
  let a = slots.count > 0 ? slots[0].withUnsafeMutableBufferPointer { $0.baseAddress! } : nil
  let b = slots.count > 1 ? slots[1].withUnsafeMutableBufferPointer { $0.baseAddress! } : nil
  let c = slots.count > 2 ? slots[2].withUnsafeMutableBufferPointer { $0.baseAddress! } : nil
  let wp = w.baseAddress!, gp = g.baseAddress!
  switch (a, b, c) {
  case (let a?, let b?, let c?):
    for i in 0..<n { body(&wp[i], gp[i], &a[i], &b[i], &c[i]) }
  case (let a?, let b?, nil):
    for i in 0..<n { body(&wp[i], gp[i], &a[i], &b[i], &scratch) }
  case (let a?, nil, nil):
    var scratch2: Float = 0
    for i in 0..<n { body(&wp[i], gp[i], &a[i], &scratch, &scratch2) }
  default:
    var scratch2: Float = 0, scratch3: Float = 0
    for i in 0..<n { body(&wp[i], gp[i], &scratch, &scratch2, &scratch3) }
  }
}

extension OptimizerConfig: ConfigReadsMoreKeys {
  /// Keras' arguments Strata reads without writing them back: `use_ema` (which must be false) and its
  /// settings, `loss_scale_factor` (which must be null).
  public static var readOnlyKeys: Set<String> {
    ["use_ema", "ema_momentum", "ema_overwrite_frequency", "loss_scale_factor"]
  }
}
