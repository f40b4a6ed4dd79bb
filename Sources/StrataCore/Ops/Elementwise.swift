import Foundation

/// Element-wise ops: arithmetic with NumPy broadcasting, math functions, comparisons and selection.
extension Ops {
  typealias Vector = SIMD16<Float>

  /// `a + b` (Keras' `ops.add`).
  public static func add(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let c = try pairwise("add", a, b, +)
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let (sa, sb) = (a.shape, b.shape)
    return tape.record(c, inputs: [a, b]) { dy in [reduce(dy, to: sa), reduce(dy, to: sb)] }
  }

  /// `a - b` (Keras' `ops.subtract`).
  public static func subtract(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let c = try pairwise("subtract", a, b, -)
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let (sa, sb) = (a.shape, b.shape)
    return tape.record(c, inputs: [a, b]) { dy in
      [reduce(dy, to: sa), reduce(map(dy) { -$0 }, to: sb)]
    }
  }

  /// `a · b`, element-wise (Keras' `ops.multiply`).
  public static func multiply(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let c = try pairwise("multiply", a, b, *)
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let (ta, tb) = (tape.isTracking(a), tape.isTracking(b))
    return tape.record(c, inputs: [a, b]) { dy in
      [
        ta ? reduce(try pairwise("multiply", dy, b, *), to: a.shape) : nil,
        tb ? reduce(try pairwise("multiply", dy, a, *), to: b.shape) : nil,
      ]
    }
  }

  /// `a / b`, element-wise (Keras' `ops.divide`).
  public static func divide(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let c = try pairwise("divide", a, b, /)
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let (ta, tb) = (tape.isTracking(a), tape.isTracking(b))
    return tape.record(c, inputs: [a, b]) { dy in
      let da = try pairwise("divide", dy, b, /)
      // d(a / b)/db = -a / b² = -(a / b) / b.
      return [
        ta ? reduce(da, to: a.shape) : nil, tb ? reduce(da.times(c), to: b.shape).negated() : nil,
      ]
    }
  }

  /// `-x` (Keras' `ops.negative`).
  public static func negative(_ x: Tensor) -> Tensor {
    unary(x, { -$0 }) { dy, _, _ in dy.negated() }
  }

  /// `|x|` (Keras' `ops.absolute`); the gradient is `sign(x)`, 0 at 0.
  public static func abs(_ x: Tensor) -> Tensor {
    unary(x, SIMDMath.abs) { dy, x, _ in
      sign(x).times(dy)
    }
  }

  /// `-1`, `0` or `1` by the sign of each element (Keras' `ops.sign`); no gradient.
  public static func sign(_ x: Tensor) -> Tensor {
    map(x) { v in
      Vector(repeating: 0).replacing(with: 1, where: v .> 0).replacing(with: -1, where: v .< 0)
    }
  }

  /// `x²` (Keras' `ops.square`).
  public static func square(_ x: Tensor) -> Tensor {
    unary(x, { $0 * $0 }) { dy, x, _ in
      scaled(dy.times(x), by: 2)
    }
  }

  /// `√x` (Keras' `ops.sqrt`).
  public static func sqrt(_ x: Tensor) -> Tensor {
    unary(x, scalar: { $0.squareRoot() }) { dy, _, y in
      dy.dividing(scaled(y, by: 2))
    }
  }

  /// `eˣ` (Keras' `ops.exp`).
  public static func exp(_ x: Tensor) -> Tensor {
    unary(x, SIMDMath.exp) { dy, _, y in dy.times(y) }
  }

  /// The natural logarithm (Keras' `ops.log`): `-inf` at 0, NaN below.
  public static func log(_ x: Tensor) -> Tensor {
    unary(x, SIMDMath.log) { dy, x, _ in dy.dividing(x) }
  }

  /// `log(1 + x)`, accurate near 0 (Keras' `ops.log1p`).
  public static func log1p(_ x: Tensor) -> Tensor {
    // log(u) · x / (u - 1) with u = 1 + x: the rounding of u cancels (Kahan), x itself where u = 1.
    unary(
      x,
      { x in
        let u = 1 + x
        let ratio = SIMDMath.log(u) * x / (u - 1)
        return ratio.replacing(with: x, where: u .== 1).replacing(with: u, where: u .== .infinity)
      }
    ) { dy, x, _ in
      dy.dividing(map(x) { $0 + 1 })
    }
  }

  /// The error function (Keras' `ops.erf`); its derivative is `2/√π · e^(-x²)`.
  public static func erf(_ x: Tensor) -> Tensor {
    unary(x, scalar: { Float(Foundation.erf(Double($0))) }) { dy, x, _ in
      dy.times(unaryValues(x) { 2 / Float.pi.squareRoot() * Foundation.exp(-$0 * $0) })
    }
  }

  /// The hyperbolic tangent (Keras' `ops.tanh`).
  public static func tanh(_ x: Tensor) -> Tensor {
    unary(x, SIMDMath.tanh) { dy, _, y in
      dy.times(map(y) { 1 - $0 * $0 })
    }
  }

  /// `1 / (1 + e⁻ˣ)` (Keras' `ops.sigmoid`).
  public static func sigmoid(_ x: Tensor) -> Tensor {
    unary(x, SIMDMath.sigmoid) { dy, _, y in
      dy.times(map(y) { $0 * (1 - $0) })
    }
  }

  /// `max(x, 0)` (Keras' `ops.relu`); the gradient is 0 at 0.
  public static func relu(_ x: Tensor) -> Tensor {
    unary(x, { $0.replacing(with: 0, where: $0 .< 0) }) { dy, x, _ in
      (try? pairwise("relu", dy, x) { d, v in d.replacing(with: 0, where: v .<= 0) }) ?? dy
    }
  }

  /// `log(1 + eˣ)` (Keras' `ops.softplus`).
  public static func softplus(_ x: Tensor) -> Tensor {
    unary(x, SIMDMath.softplus) { dy, x, _ in dy.times(map(x, SIMDMath.sigmoid)) }
  }

  /// `xᵖ` for a constant exponent (Keras' `ops.power` with a number).
  public static func power(_ x: Tensor, _ exponent: Float) -> Tensor {
    unary(x, scalar: { Foundation.pow($0, exponent) }) { dy, x, _ in
      let derivative =
        exponent == 0
        ? Tensor(pooledShape: x.shape)
        : unaryValues(x) { exponent * Foundation.pow($0, exponent - 1) }
      return dy.times(derivative)
    }
  }

  /// `aᵇ`, element-wise, broadcast (Keras' `ops.power`). The gradient for `b` is `aᵇ · log a`, taken
  /// as 0 where `a` is 0 or less.
  public static func power(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    let shape = try broadcastShape(a.shape, b.shape, op: "power")
    let x = expand(a, to: shape), e = expand(b, to: shape)
    var c = Tensor(pooledShape: shape)
    x.withUnsafeBufferPointer { x in
      e.withUnsafeBufferPointer { e in
        c.withUnsafeMutableBufferPointer { c in
          for i in c.indices { c[i] = Foundation.pow(x[i], e[i]) }
        }
      }
    }
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let result = c
    return tape.record(c, inputs: [a, b]) { dy in
      var da = Tensor(pooledShape: shape), db = Tensor(pooledShape: shape)
      x.withUnsafeBufferPointer { x in
        e.withUnsafeBufferPointer { e in
          result.withUnsafeBufferPointer { r in
            dy.withUnsafeBufferPointer { g in
              da.withUnsafeMutableBufferPointer { da in
                db.withUnsafeMutableBufferPointer { db in
                  for i in da.indices {
                    da[i] = e[i] == 0 ? 0 : g[i] * e[i] * Foundation.pow(x[i], e[i] - 1)
                    db[i] = x[i] > 0 ? g[i] * r[i] * Foundation.log(x[i]) : 0
                  }
                }
              }
            }
          }
        }
      }
      return [reduce(da, to: a.shape), reduce(db, to: b.shape)]
    }
  }

  /// The larger of `a` and `b`, element-wise (Keras' `ops.maximum`); a tie sends the gradient to `a`.
  public static func maximum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try select("maximum", a, b) { $0 .>= $1 }
  }

  /// The smaller of `a` and `b`, element-wise (Keras' `ops.minimum`); a tie sends the gradient to `a`.
  public static func minimum(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try select("minimum", a, b) { $0 .<= $1 }
  }

  /// `x` limited to `[low, high]` (Keras' `ops.clip`); the gradient passes where `x` is inside.
  public static func clip(_ x: Tensor, _ low: Float, _ high: Float) throws -> Tensor {
    guard low <= high else {
      throw argumentError("clip", "low", "\(low)", expected: "at most high (\(high))")
    }
    return unary(x, { SIMDMath.clamp($0, low, high) }) { dy, x, _ in
      (try? pairwise("clip", dy, x) { d, v in d.replacing(with: 0, where: (v .< low) .| (v .> high))
      }) ?? dy
    }
  }

  /// `a` where `condition` is non-zero, else `b`, all three broadcast (Keras' `ops.where`).
  public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
    let shape = try broadcastShape(
      try broadcastShape(condition.shape, a.shape, op: "where"), b.shape, op: "where")
    let mask = expand(condition, to: shape)
    let picked = try pairwise("where", mask, expand(a, to: shape)) { m, v in
      v.replacing(with: 0, where: m .== 0)
    }
    let c = try pairwise("where", mask, expand(b, to: shape)) { m, v in
      v.replacing(with: 0, where: m .!= 0)
    }.plus(picked)
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    return tape.record(c, inputs: [a, b]) { dy in
      [
        reduce(
          try pairwise("where", dy, mask) { $0.replacing(with: 0, where: $1 .== 0) }, to: a.shape),
        reduce(
          try pairwise("where", dy, mask) { $0.replacing(with: 0, where: $1 .!= 0) }, to: b.shape),
      ]
    }
  }

  // MARK: Comparisons (no gradient)

  /// 1 where `a > b`, else 0 (Keras' `ops.greater`).
  public static func greater(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try compare("greater", a, b) { $0 .> $1 }
  }
  /// 1 where `a ≥ b`, else 0 (Keras' `ops.greater_equal`).
  public static func greaterEqual(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try compare("greater_equal", a, b) { $0 .>= $1 }
  }
  /// 1 where `a < b`, else 0 (Keras' `ops.less`).
  public static func less(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try compare("less", a, b) { $0 .< $1 }
  }
  /// 1 where `a ≤ b`, else 0 (Keras' `ops.less_equal`).
  public static func lessEqual(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try compare("less_equal", a, b) { $0 .<= $1 }
  }
  /// 1 where `a = b`, else 0 (Keras' `ops.equal`).
  public static func equal(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try compare("equal", a, b) { $0 .== $1 }
  }
  /// 1 where `a ≠ b`, else 0 (Keras' `ops.not_equal`).
  public static func notEqual(_ a: Tensor, _ b: Tensor) throws -> Tensor {
    try compare("not_equal", a, b) { $0 .!= $1 }
  }

  // MARK: Helpers

  private static func compare(
    _ op: String, _ a: Tensor, _ b: Tensor, _ test: (Vector, Vector) -> SIMDMask<SIMD16<Int32>>
  ) throws -> Tensor {
    try pairwise(op, a, b) { Vector(repeating: 0).replacing(with: 1, where: test($0, $1)) }
  }

  private static func select(
    _ op: String, _ a: Tensor, _ b: Tensor,
    _ pickA: @escaping (Vector, Vector) -> SIMDMask<SIMD16<Int32>>
  ) throws -> Tensor {
    let c = try pairwise(op, a, b) { x, y in y.replacing(with: x, where: pickA(x, y)) }
    guard let tape = OpsState.tape(tracking: a, b) else { return c }
    let shape = c.shape
    let mask = try pairwise(op, expand(a, to: shape), expand(b, to: shape)) {
      Vector(repeating: 0).replacing(with: 1, where: pickA($0, $1))
    }
    return tape.record(c, inputs: [a, b]) { dy in
      [
        reduce(try pairwise(op, dy, mask) { $0.replacing(with: 0, where: $1 .== 0) }, to: a.shape),
        reduce(try pairwise(op, dy, mask) { $0.replacing(with: 0, where: $1 .!= 0) }, to: b.shape),
      ]
    }
  }

  /// A one-input op: `value` on sixteen lanes, `gradient(dy, x, y)` for its pullback.
  static func unary(
    _ x: Tensor, _ value: (Vector) -> Vector,
    gradient: @escaping (_ dy: Tensor, _ x: Tensor, _ y: Tensor) throws -> Tensor
  ) -> Tensor {
    let y = map(x, value)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    return tape.record(y, inputs: [x]) { dy in [try gradient(dy, x, y)] }
  }

  /// A one-input op computed one scalar at a time (functions with no SIMD form here).
  static func unary(
    _ x: Tensor, scalar value: (Float) -> Float,
    gradient: @escaping (_ dy: Tensor, _ x: Tensor, _ y: Tensor) throws -> Tensor
  ) -> Tensor {
    let y = unaryValues(x, value)
    guard let tape = OpsState.tape(tracking: x) else { return y }
    return tape.record(y, inputs: [x]) { dy in [try gradient(dy, x, y)] }
  }

  static func unaryValues(_ x: Tensor, _ value: (Float) -> Float) -> Tensor {
    var y = Tensor(pooledShape: x.shape)
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeMutableBufferPointer { ys in for i in ys.indices { ys[i] = value(xs[i]) } }
    }
    return y
  }

  static func scaled(_ x: Tensor, by factor: Float) -> Tensor { map(x) { $0 * factor } }
}

// Same-shape arithmetic for pullbacks (no recording, no broadcasting).
extension Tensor {
  func times(_ other: Tensor) -> Tensor {
    (try? Ops.pairwise("multiply", self, other, *)) ?? self
  }
  func dividing(_ other: Tensor) -> Tensor {
    (try? Ops.pairwise("divide", self, other, /)) ?? self
  }
  func plus(_ other: Tensor) -> Tensor {
    (try? Ops.pairwise("add", self, other, +)) ?? self
  }
  func negated() -> Tensor { Ops.map(self) { -$0 } }
}
