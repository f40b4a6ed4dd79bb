import Foundation
import StrataCore

/// A loss computed per sample over the last axis, then averaged over the samples.
protocol RowLoss: Loss {
  /// The loss of one row, writing its gradient times `scale` when `gradient` is given.
  func row(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, scale: Float,
    gradient: UnsafeMutableBufferPointer<Float>?
  ) -> Double
}

extension RowLoss {
  public func compute(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, shape: [Int],
    gradient: UnsafeMutableBufferPointer<Float>?
  ) throws -> Float {
    let width = max(shape.last ?? 1, 1)
    let rows = prediction.count / width
    let scale = 1 / Float(max(rows, 1))
    var sum: Double = 0
    for r in 0..<rows {
      let range = (r * width)..<((r + 1) * width)
      sum += row(
        prediction: UnsafeBufferPointer(rebasing: prediction[range]),
        target: UnsafeBufferPointer(rebasing: target[range]),
        scale: scale, gradient: gradient.map { UnsafeMutableBufferPointer(rebasing: $0[range]) })
    }
    return Float(sum / Double(max(rows, 1)))
  }
}

/// `Σ y · log(y / p)` per sample with both clipped to `[ε, 1]`. Keras: `"kl_divergence"`, `"kld"`.
public struct KLDivergence: RowLoss {
  public static let identifier = "kl_divergence"
  public init(config: NoConfig = NoConfig()) {}
  func row(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, scale: Float,
    gradient: UnsafeMutableBufferPointer<Float>?
  ) -> Double {
    var loss: Double = 0
    for j in prediction.indices {
      let y = min(max(target[j], epsilon), 1), p = min(max(prediction[j], epsilon), 1)
      loss += Double(y) * log(Double(y) / Double(p))
      gradient?[j] = (prediction[j] > epsilon && prediction[j] < 1) ? -y / p * scale : 0
    }
    return loss
  }
}

/// `max(max_j (1 - y_j) · p_j - Σ y · p + 1, 0)` per sample. Keras: `"categorical_hinge"`.
public struct CategoricalHinge: RowLoss {
  public static let identifier = "categorical_hinge"
  public init(config: NoConfig = NoConfig()) {}
  func row(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, scale: Float,
    gradient: UnsafeMutableBufferPointer<Float>?
  ) -> Double {
    var positive: Float = 0, negative = -Float.infinity, argmax = 0
    for j in prediction.indices {
      positive += target[j] * prediction[j]
      let value = (1 - target[j]) * prediction[j]
      if value > negative { negative = value; argmax = j }
    }
    let loss = max(negative - positive + 1, 0)
    if let gradient {
      for j in prediction.indices { gradient[j] = loss > 0 ? -target[j] * scale : 0 }
      if loss > 0 { gradient[argmax] += (1 - target[argmax]) * scale }
    }
    return Double(loss)
  }
}

/// `-Σ ŷ · p̂` per sample, the vectors L2-normalized (norms floored at 1e-6). Keras: `"cosine_similarity"`
/// (also the legacy `"cosine_proximity"`).
public struct CosineSimilarity: RowLoss {
  public static let identifier = "cosine_similarity"
  public init(config: NoConfig = NoConfig()) {}
  func row(
    prediction: UnsafeBufferPointer<Float>, target: UnsafeBufferPointer<Float>, scale: Float,
    gradient: UnsafeMutableBufferPointer<Float>?
  ) -> Double {
    var yy: Double = 0, pp: Double = 0, yp: Double = 0
    for j in prediction.indices {
      yy += Double(target[j] * target[j]); pp += Double(prediction[j] * prediction[j]);
      yp += Double(target[j] * prediction[j])
    }
    let yNorm = max(yy, 1e-12).squareRoot(), pNorm = max(pp, 1e-12).squareRoot()
    let cosine = yp / (yNorm * pNorm)
    if let gradient {
      let clamped = pp > 1e-12
      for j in prediction.indices {
        // d/dp of -(y·p)/(|y||p|) = -(y/|y| - cos · p/|p|) / |p|.
        let d =
          -(Double(target[j]) / yNorm - (clamped ? cosine * Double(prediction[j]) / pNorm : 0))
          / pNorm
        gradient[j] = Float(d) * scale
      }
    }
    return -cosine
  }
}
