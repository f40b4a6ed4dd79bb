import Foundation
import StrataCore

/// Keras' fuzz factor: probabilities are clipped to `[ε, 1 - ε]`, divisions guarded by it.
let epsilon: Float = 1e-7

/// A loss that is the mean over every element of a per-element term: Keras' regression losses
/// (the mean over the last axis, then over the batch, is the mean over all elements).
public protocol ElementwiseLoss: Loss {
  /// The term for one element and its derivative with respect to the prediction.
  func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float)
}

extension ElementwiseLoss {
  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let n = prediction.count
    guard n > 0 else { return 0 }
    let scale = 1 / Float(n)
    var sum: Double = 0
    for i in 0..<n {
      let (value, derivative) = term(prediction: prediction[i], target: target[i])
      sum += Double(value)
      gradient?[i] = derivative * scale
    }
    return Float(sum / Double(n))
  }
}

extension Loss {
  /// Targets of the predictions' shape (or without their trailing axis of 1).
  public func validate(predictionShape: [Int], targetShape: [Int]) throws {
    try requireSameShape(Self.identifier, predictionShape, targetShape)
  }
}

func requireSameShape(_ loss: String, _ prediction: [Int], _ target: [Int]) throws {
  guard
    prediction == target
      || (prediction.count == target.count + 1 && prediction.last == 1
        && Array(prediction.dropLast()) == target)
  else {
    throw StrataError.invalidArgument(
      owner: loss, argument: "y", value: "of shape \(kerasShape(Array(target.dropFirst())))",
      expected: "targets of the model's output shape \(kerasShape(Array(prediction.dropFirst())))")
  }
}

/// `mean((y - p)²)`. Keras: `"mean_squared_error"`, `"mse"`.
public struct MeanSquaredError: ElementwiseLoss {
  public static let identifier = "mean_squared_error"
  public init(config: NoConfig = NoConfig()) {}
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    let e = p - y
    return (e * e, 2 * e)
  }
}

/// `mean(|y - p|)`. Keras: `"mean_absolute_error"`, `"mae"`.
public struct MeanAbsoluteError: ElementwiseLoss {
  public static let identifier = "mean_absolute_error"
  public init(config: NoConfig = NoConfig()) {}
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    let e = p - y
    return (abs(e), e > 0 ? 1 : (e < 0 ? -1 : 0))
  }
}

/// `100 · mean(|y - p| / max(|y|, ε))`. Keras: `"mean_absolute_percentage_error"`, `"mape"`.
public struct MeanAbsolutePercentageError: ElementwiseLoss {
  public static let identifier = "mean_absolute_percentage_error"
  public init(config: NoConfig = NoConfig()) {}
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    let e = p - y, d = max(abs(y), epsilon)
    return (100 * abs(e) / d, 100 * (e > 0 ? 1 : (e < 0 ? -1 : 0)) / d)
  }
}

/// `mean((log(max(p, ε) + 1) - log(max(y, ε) + 1))²)`. Keras: `"mean_squared_logarithmic_error"`, `"msle"`.
public struct MeanSquaredLogarithmicError: ElementwiseLoss {
  public static let identifier = "mean_squared_logarithmic_error"
  public init(config: NoConfig = NoConfig()) {}
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    let cp = max(p, epsilon)
    let e = log(cp + 1) - log(max(y, epsilon) + 1)
    return (e * e, p > epsilon ? 2 * e / (cp + 1) : 0)
  }
}

/// `mean(log(cosh(p - y)))`, computed as `x + softplus(-2x) - log 2`. Keras: `"log_cosh"`, `"logcosh"`.
public struct LogCosh: ElementwiseLoss {
  public static let identifier = "log_cosh"
  public init(config: NoConfig = NoConfig()) {}
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    let x = p - y
    let softplus = max(-2 * x, 0) + log1p(exp(-abs(2 * x)))
    return (x + softplus - log(2), tanh(x))
  }
}

/// `mean(0.5 e²)` where `|e| ≤ delta`, `mean(delta · (|e| - 0.5 delta))` elsewhere. Keras: `"huber"`
/// (`Huber(delta=1.0)`).
public struct Huber: ElementwiseLoss, SelfConfigured, Equatable, KerasConfig {
  /// Keras' `delta`.
  public var delta: Float = 1
  public static let identifier = "huber"
  /// Refuses a bad argument by name.
  public func validate() throws {
    try checkArgument(
      delta > 0,
      owner: "huber", argument: "delta", value: "\(delta)", expected: "a positive number")
  }
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    let e = p - y, d = delta
    if abs(e) <= d { return (0.5 * e * e, e) }
    return (d * (abs(e) - 0.5 * d), e > 0 ? d : -d)
  }

  /// Keras' defaults.
  public init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  public init(delta: Float = Huber().delta) throws {
    self.delta = delta
    try validate()
  }
}

/// `mean(p - y · log(p + ε))`. Keras: `"poisson"`.
public struct Poisson: ElementwiseLoss {
  public static let identifier = "poisson"
  public init(config: NoConfig = NoConfig()) {}
  public func term(prediction p: Float, target y: Float) -> (value: Float, derivative: Float) {
    (p - y * log(p + epsilon), 1 - y / (p + epsilon))
  }
}

/// A hinge loss: the mean of a function of the margin `1 - y · p`. Keras converts {0, 1} targets to
/// {-1, 1} when every target of the batch is 0 or 1.
public protocol HingeLoss: Loss where Config == NoConfig {
  /// The loss of one margin and its derivative with respect to the margin.
  func term(margin: Float) -> (value: Float, derivative: Float)
}

extension HingeLoss {
  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let convert = target.allSatisfy { $0 == 0 || $0 == 1 }, n = prediction.count
    var sum: Double = 0
    for i in 0..<n {
      let y = convert ? 2 * target[i] - 1 : target[i]
      let (value, derivative) = term(margin: 1 - y * prediction[i])
      sum += Double(value)
      gradient?[i] = -y * derivative / Float(n)  // d(margin)/dp = -y
    }
    return Float(sum / Double(max(n, 1)))
  }
}

/// `mean(max(1 - y · p, 0))`, targets in {-1, 1} (or {0, 1}, converted). Keras: `"hinge"`.
public struct Hinge: HingeLoss {
  public static let identifier = "hinge"
  public init(config: NoConfig = NoConfig()) {}
  /// The loss term of one margin and its derivative.
  public func term(margin: Float) -> (value: Float, derivative: Float) {
    (max(margin, 0), margin > 0 ? 1 : 0)
  }
}

/// `mean(max(1 - y · p, 0)²)`. Keras: `"squared_hinge"`.
public struct SquaredHinge: HingeLoss {
  public static let identifier = "squared_hinge"
  public init(config: NoConfig = NoConfig()) {}
  /// The loss term of one margin and its derivative.
  public func term(margin: Float) -> (value: Float, derivative: Float) {
    let positive = max(margin, 0)
    return (positive * positive, 2 * positive)
  }
}
