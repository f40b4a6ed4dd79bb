/// Arithmetic and comparison operators on tensors and numbers, broadcasting as NumPy does: `x * 0.3`,
/// `a + b`, `x .> 0`. Each is the matching ``Ops`` function, recorded on a ``GradientTape`` like it.
extension Tensor {
  /// A rank-0 tensor holding `value`.
  public init(scalar value: Float) { self.init(shape: [], repeating: value) }

  public static func + (a: Tensor, b: Tensor) throws -> Tensor { try Ops.add(a, b) }
  public static func + (a: Tensor, b: Float) throws -> Tensor { try Ops.add(a, Tensor(scalar: b)) }
  public static func + (a: Float, b: Tensor) throws -> Tensor { try Ops.add(Tensor(scalar: a), b) }
  public static func - (a: Tensor, b: Tensor) throws -> Tensor { try Ops.subtract(a, b) }
  public static func - (a: Tensor, b: Float) throws -> Tensor {
    try Ops.subtract(a, Tensor(scalar: b))
  }
  public static func - (a: Float, b: Tensor) throws -> Tensor {
    try Ops.subtract(Tensor(scalar: a), b)
  }
  public static func * (a: Tensor, b: Tensor) throws -> Tensor { try Ops.multiply(a, b) }
  public static func * (a: Tensor, b: Float) throws -> Tensor {
    try Ops.multiply(a, Tensor(scalar: b))
  }
  public static func * (a: Float, b: Tensor) throws -> Tensor {
    try Ops.multiply(Tensor(scalar: a), b)
  }
  public static func / (a: Tensor, b: Tensor) throws -> Tensor { try Ops.divide(a, b) }
  public static func / (a: Tensor, b: Float) throws -> Tensor {
    try Ops.divide(a, Tensor(scalar: b))
  }
  public static func / (a: Float, b: Tensor) throws -> Tensor {
    try Ops.divide(Tensor(scalar: a), b)
  }
  public static prefix func - (x: Tensor) -> Tensor { Ops.negative(x) }

  public static func .> (a: Tensor, b: Tensor) throws -> Tensor { try Ops.greater(a, b) }
  public static func .> (a: Tensor, b: Float) throws -> Tensor {
    try Ops.greater(a, Tensor(scalar: b))
  }
  public static func .>= (a: Tensor, b: Tensor) throws -> Tensor { try Ops.greaterEqual(a, b) }
  public static func .>= (a: Tensor, b: Float) throws -> Tensor {
    try Ops.greaterEqual(a, Tensor(scalar: b))
  }
  public static func .< (a: Tensor, b: Tensor) throws -> Tensor { try Ops.less(a, b) }
  public static func .< (a: Tensor, b: Float) throws -> Tensor {
    try Ops.less(a, Tensor(scalar: b))
  }
  public static func .<= (a: Tensor, b: Tensor) throws -> Tensor { try Ops.lessEqual(a, b) }
  public static func .<= (a: Tensor, b: Float) throws -> Tensor {
    try Ops.lessEqual(a, Tensor(scalar: b))
  }
  public static func .== (a: Tensor, b: Tensor) throws -> Tensor { try Ops.equal(a, b) }
  public static func .== (a: Tensor, b: Float) throws -> Tensor {
    try Ops.equal(a, Tensor(scalar: b))
  }
  public static func .!= (a: Tensor, b: Tensor) throws -> Tensor { try Ops.notEqual(a, b) }
  public static func .!= (a: Tensor, b: Float) throws -> Tensor {
    try Ops.notEqual(a, Tensor(scalar: b))
  }
}
