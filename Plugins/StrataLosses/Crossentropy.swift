import Foundation
import StrataCore

/// The config of the cross-entropies.
public struct CrossentropyConfig: KerasConfig, Equatable, ConfigReadsMoreKeys {
  /// `true` when predictions are logits rather than probabilities.
  public var fromLogits: Bool
  /// `fromLogits`: whether predictions are logits (Keras' default: probabilities).
  public init(fromLogits: Bool) { self.fromLogits = fromLogits }
  /// The config with Keras' defaults: probabilities, not logits.
  public init() { self.init(fromLogits: false) }
  /// Keras writes these with their defaults; other values are refused by name.
  public static let readOnlyKeys: Set<String> = ["axis", "label_smoothing", "ignore_class"]

  private enum CodingKeys: String, CodingKey { case fromLogits, axis, labelSmoothing }
  /// Decodes `from_logits`; `axis` must be -1 and `label_smoothing` 0.
  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    fromLogits = try c.decode(Bool.self, forKey: .fromLogits)
    if let axis = try c.decodeIfPresent(Int.self, forKey: .axis), axis != -1 {
      throw StrataError.invalidArgument(
        owner: "crossentropy", argument: "axis", value: "\(axis)", expected: "-1 (the last axis)")
    }
    if let smoothing = try c.decodeIfPresent(Float.self, forKey: .labelSmoothing), smoothing != 0 {
      throw StrataError.invalidArgument(
        owner: "crossentropy", argument: "label_smoothing", value: "\(smoothing)",
        expected: "0 (label smoothing is not supported yet)")
    }
  }
  /// Encodes `from_logits`.
  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(fromLogits, forKey: .fromLogits)
  }
}

/// A cross-entropy: its only argument is `from_logits`.
public protocol CrossentropyLoss: Loss where Config == CrossentropyConfig {
  init(config: CrossentropyConfig)
}

extension CrossentropyLoss {
  /// `CategoricalCrossentropy(fromLogits: true)`: predictions are logits, not probabilities.
  public init(fromLogits: Bool) { self.init(config: CrossentropyConfig(fromLogits: fromLogits)) }
  /// Whether predictions are logits.
  public var fromLogits: Bool { config.fromLogits }
}

/// Row-wise softmax cross-entropy from logits, stable: `logsumexp(z) - Σ y · z`, gradient `softmax(z)·Σy - y`.
/// `label` gives a sparse target; otherwise `targetRow` is the distribution.
@inline(__always)
func crossentropyFromLogits(
  _ z: UnsafeBufferPointer<Float>, targetRow: UnsafeBufferPointer<Float>?, label: Int?,
  scale: Float,
  gradient: UnsafeMutableBufferPointer<Float>?
) -> Double {
  let maximum = z.max() ?? 0
  var sum: Double = 0
  for v in z { sum += Double(exp(v - maximum)) }
  let logSum = Double(maximum) + log(sum)
  var loss: Double = 0, targetMass: Float = 1
  if let label {
    loss = logSum - Double(z[label])
  } else if let targetRow {
    targetMass = 0
    for j in z.indices {
      loss += Double(targetRow[j]) * (logSum - Double(z[j]))
      targetMass += targetRow[j]
    }
  }
  if let gradient {
    for j in z.indices {
      let p = Float(exp(Double(z[j]) - logSum))
      let y = label.map { $0 == j ? Float(1) : 0 } ?? targetRow![j]
      gradient[j] = (p * targetMass - y) * scale
    }
  }
  return loss
}

/// Row-wise cross-entropy from probabilities as Keras 3 computes it: each row normalized to sum 1,
/// clipped to `[ε, 1 - ε]`, then `-Σ y · log p`.
@inline(__always)
func crossentropyFromProbabilities(
  _ p: UnsafeBufferPointer<Float>, targetRow: UnsafeBufferPointer<Float>?, label: Int?,
  scale: Float,
  gradient: UnsafeMutableBufferPointer<Float>?
) -> Double {
  var total: Float = 0
  for v in p { total += v }
  let inverse = 1 / total
  // The target mass of the entries inside the clipping range: a clipped entry passes no gradient,
  // neither directly nor through the normalization, as in Keras (the gradient of `clip`).
  var loss: Double = 0, insideMass: Float = 0
  for j in p.indices {
    let y = label.map { $0 == j ? Float(1) : 0 } ?? targetRow![j]
    let q = p[j] * inverse
    let clipped = min(max(q, epsilon), 1 - epsilon)
    if y != 0 { loss -= Double(y) * log(Double(clipped)) }
    // d/dp_j of -Σ_k y_k log(clip(p_k / Σp)) = -y_j / p_j [j inside] + Σ_{k inside} y_k / Σp.
    let inside = q > epsilon && q < 1 - epsilon
    if inside { insideMass += y }
    gradient?[j] = (inside ? -y / p[j] : 0) * scale
  }
  if let gradient { for j in p.indices { gradient[j] += insideMass * inverse * scale } }
  return loss
}

/// `-Σ y · log p` per sample, batch mean; `y` one-hot (or any distribution). Keras:
/// `"categorical_crossentropy"` (`CategoricalCrossentropy(from_logits=False)`).
public struct CategoricalCrossentropy: CrossentropyLoss, SoftmaxCrossentropy {
  public static let identifier = "categorical_crossentropy"
  public let config: CrossentropyConfig
  public init(config: CrossentropyConfig = CrossentropyConfig()) { self.config = config }

  public func validate(predictionShape: [Int], targetShape: [Int]) throws {
    try checkArgument(
      predictionShape == targetShape && ((predictionShape.last ?? 0) > 1),
      owner: Self.identifier, argument: "y",
      value: "of shape \(kerasShape(Array(targetShape.dropFirst())))",
      expected:
        "one-hot targets of the model's output shape \(kerasShape(Array(predictionShape.dropFirst())))"
        + (predictionShape.count == targetShape.count + 1
          ? " (for class indices use sparse_categorical_crossentropy)" : ""))
  }

  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let width = max(shape.last ?? 1, 1)
    return meanCrossentropy(
      prediction, width: width, fromLogits: fromLogits, gradient: gradient
    ) { r in (UnsafeBufferPointer(rebasing: target[(r * width)..<((r + 1) * width)]), nil) }
  }

  public func computeFromSoftmax(
    logits: UnsafeBufferPointer<Float>, probabilities: UnsafeBufferPointer<Float>,
    target: UnsafeBufferPointer<Float>,
    shape: [Int], logitsGradient: UnsafeMutableBufferPointer<Float>
  ) throws -> Float {
    let width = max(shape.last ?? 1, 1)
    return fusedSoftmax(
      probabilities: probabilities, width: width, gradient: logitsGradient,
      target: { r in (UnsafeBufferPointer(rebasing: target[(r * width)..<((r + 1) * width)]), nil) }
    )
  }
}

/// `-log p[label]` per sample, batch mean; targets are class indices. Keras:
/// `"sparse_categorical_crossentropy"` (`SparseCategoricalCrossentropy(from_logits=False)`).
public struct SparseCategoricalCrossentropy: CrossentropyLoss, SoftmaxCrossentropy {
  public static let identifier = "sparse_categorical_crossentropy"
  public let config: CrossentropyConfig
  public init(config: CrossentropyConfig = CrossentropyConfig()) { self.config = config }

  public func validate(predictionShape: [Int], targetShape: [Int]) throws {
    let labels =
      targetShape.last == 1 && targetShape.count == predictionShape.count
      ? Array(targetShape.dropLast()) : targetShape
    try checkArgument(
      labels == Array(predictionShape.dropLast()) && ((predictionShape.last ?? 0) > 1),
      owner: Self.identifier, argument: "y",
      value: "of shape \(kerasShape(Array(targetShape.dropFirst())))",
      expected:
        "one class index per sample for outputs of shape \(kerasShape(Array(predictionShape.dropFirst())))"
        + (targetShape == predictionShape
          ? " (for one-hot targets use categorical_crossentropy)" : ""))
  }

  func label(_ value: Float, classes: Int) throws -> Int {
    try checkArgument(
      value >= 0 && value < Float(classes) && value == value.rounded(),
      owner: Self.identifier, argument: "label", value: "\(value)",
      expected: "a class index in 0..<\(classes)")
    return Int(value)
  }

  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let width = max(shape.last ?? 1, 1)
    return try meanCrossentropy(
      prediction, width: width, fromLogits: fromLogits, gradient: gradient
    ) { r in (nil, try label(target[r], classes: width)) }
  }

  public func computeFromSoftmax(
    logits: UnsafeBufferPointer<Float>, probabilities: UnsafeBufferPointer<Float>,
    target: UnsafeBufferPointer<Float>,
    shape: [Int], logitsGradient: UnsafeMutableBufferPointer<Float>
  ) throws -> Float {
    let width = max(shape.last ?? 1, 1)
    for r in 0..<(probabilities.count / width) { _ = try label(target[r], classes: width) }
    return fusedSoftmax(
      probabilities: probabilities, width: width, gradient: logitsGradient,
      target: { r in (nil, Int(target[r])) })
  }
}

/// The batch mean of each row's cross-entropy (`width` classes a row, probabilities or logits),
/// against what `target` gives for row `r`: a row of class probabilities or a class index. Fills
/// `gradient`, when given, with the mean's gradient.
func meanCrossentropy(
  _ prediction: UnsafeBufferPointer<Float>, width: Int, fromLogits: Bool,
  gradient: UnsafeMutableBufferPointer<Float>?,
  target: (Int) throws -> (UnsafeBufferPointer<Float>?, Int?)
) rethrows -> Float {
  let samples = prediction.count / width
  let scale = 1 / Float(samples)
  var sum: Double = 0
  for r in 0..<samples {
    let range = (r * width)..<((r + 1) * width)
    let row = UnsafeBufferPointer(rebasing: prediction[range])
    let g = gradient.map { UnsafeMutableBufferPointer(rebasing: $0[range]) }
    let (targetRow, label) = try target(r)
    sum +=
      fromLogits
      ? crossentropyFromLogits(row, targetRow: targetRow, label: label, scale: scale, gradient: g)
      : crossentropyFromProbabilities(
        row, targetRow: targetRow, label: label, scale: scale, gradient: g)
  }
  return Float(sum / Double(samples))
}

/// Softmax followed by cross-entropy, fused: the loss is Keras' (clipped probabilities) and the gradient
/// with respect to the logits is `(p - y) / batch`, which never divides by a small probability. This is
/// the gradient Keras 3 on TensorFlow trains with (its softmax output carries the logits, and the loss
/// uses them), so a true class whose probability underflows still gets pushed up; the loss on its own
/// (``crossentropyFromProbabilities``) passes no gradient through a clipped probability.
func fusedSoftmax(
  probabilities p: UnsafeBufferPointer<Float>, width: Int,
  gradient: UnsafeMutableBufferPointer<Float>,
  target: (Int) -> (UnsafeBufferPointer<Float>?, Int?)
) -> Float {
  let samples = p.count / max(width, 1)
  let scale = 1 / Float(samples)
  var sum: Double = 0
  for r in 0..<samples {
    let base = r * width
    let (row, label) = target(r)
    var mass: Float = 0
    for j in 0..<width {
      let y = label.map { $0 == j ? Float(1) : 0 } ?? row![j]
      mass += y
      if y != 0 { sum -= Double(y) * log(Double(min(max(p[base + j], epsilon), 1 - epsilon))) }
      gradient[base + j] = -y * scale
    }
    for j in 0..<width { gradient[base + j] += p[base + j] * mass * scale }
  }
  return Float(sum / Double(samples))
}

/// `-mean(y · log(p) + (1 - y) · log(1 - p))` with `p` clipped to `[ε, 1 - ε]` (Keras 3's form); from logits,
/// the stable `max(z, 0) - z · y + log(1 + e^-|z|)`. Keras: `"binary_crossentropy"`.
public struct BinaryCrossentropy: CrossentropyLoss {
  public static let identifier = "binary_crossentropy"
  public let config: CrossentropyConfig
  public init(config: CrossentropyConfig = CrossentropyConfig()) { self.config = config }

  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let n = prediction.count
    let scale = 1 / Float(max(n, 1))
    var sum: Double = 0
    for i in 0..<n {
      let y = target[i], z = prediction[i]
      if config.fromLogits {
        sum += Double(max(z, 0) - z * y + log1p(exp(-abs(z))))
        gradient?[i] = (1 / (1 + exp(-z)) - y) * scale
      } else {
        let p = min(max(z, epsilon), 1 - epsilon)
        sum -= Double(y) * log(Double(p)) + Double(1 - y) * log(Double(1 - p))
        let inside = z > epsilon && z < 1 - epsilon
        gradient?[i] = inside ? -(y / p - (1 - y) / (1 - p)) * scale : 0
      }
    }
    return Float(sum / Double(max(n, 1)))
  }
}
