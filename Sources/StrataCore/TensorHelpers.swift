extension Tensor {
  /// The index of the largest value along `axis` (Keras' and NumPy's `argmax`), as a tensor of that
  /// shape without `axis`: `try model.predict(x).argmax(axis: -1)` gives each sample's class. The first
  /// of equal values wins; a NaN wins over any number.
  /// - Throws: for an axis the tensor does not have.
  public func argmax(axis: Int = -1) throws -> Tensor {
    let resolved = axis < 0 ? rank + axis : axis
    try checkArgument(
      resolved >= 0 && resolved < rank,
      owner: "argmax", argument: "axis", value: "\(axis)",
      expected: "an axis of a tensor of rank \(rank)")
    let outer = shape[..<resolved].reduce(1, *), length = shape[resolved]
    let inner = shape[(resolved + 1)...].reduce(1, *)
    var result = Tensor(shape: Array(shape[..<resolved]) + Array(shape[(resolved + 1)...]))
    guard length > 0 else { return result }
    withUnsafeBufferPointer { x in
      result.withUnsafeMutableBufferPointer { r in
        for o in 0..<outer {
          for i in 0..<inner {
            var best = 0
            var bestValue = x[o * length * inner + i]
            for k in 1..<length where !bestValue.isNaN {
              let value = x[(o * length + k) * inner + i]
              if value > bestValue || value.isNaN {
                best = k
                bestValue = value
              }
            }
            r[o * inner + i] = Float(best)
          }
        }
      }
    }
    return result
  }
}

/// One-hot rows for integer class labels: Keras' `keras.utils.to_categorical(y, num_classes)`. `labels`
/// of shape `[n]` (or `[n, 1]`) give `[n, classes]`; `classes` defaults to the largest label plus one.
/// - Throws: for a label that is negative, not a whole number, or not below `classes`.
public func toCategorical(_ labels: Tensor, classes: Int? = nil) throws -> Tensor {
  let values = labels.scalars
  for value in values where !(value >= 0 && value == value.rounded() && value < 16_777_216) {
    throw StrataError.invalidArgument(
      owner: "toCategorical", argument: "labels", value: "holding \(value)",
      expected: "whole numbers ≥ 0")
  }
  let count = classes ?? (Int(values.max() ?? -1) + 1)
  try checkArgument(
    count > 0,
    owner: "toCategorical", argument: "classes", value: "\(count)", expected: "at least 1")
  if let largest = values.max(), Int(largest) >= count {
    throw StrataError.invalidArgument(
      owner: "toCategorical", argument: "labels", value: "holding \(Int(largest))",
      expected: "labels below classes (\(count))")
  }
  var shape = labels.shape
  if shape.last == 1 && shape.count > 1 { shape.removeLast() }
  var result = try Tensor(checkedShape: shape + [count], owner: "toCategorical")
  result.withUnsafeMutableBufferPointer { r in
    for (i, value) in values.enumerated() { r[i * count + Int(value)] = 1 }
  }
  return result
}
