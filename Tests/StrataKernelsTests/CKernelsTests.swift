import CStrataKernels
import Strata
import Testing

// The C kernels (built as AVX2 and baseline clones) against plain Swift versions of the same formulas,
// on sizes that end in every remainder of a vector: a new C kernel gets its Swift reference here.

/// Random values, positive where a formula needs them (second moments, accumulators).
func values(_ count: Int, seed: UInt64, positive: Bool = false) -> [Float] {
  var generator = SeededGenerator(seed: seed)
  return (0..<count).map { _ in
    let value = Float(generator.nextNormal())
    return positive ? abs(value) + 0.01 : value
  }
}

func expectClose(_ actual: [Float], _ expected: [Float], _ what: String) {
  #expect(actual.count == expected.count)
  for (a, e) in zip(actual, expected) where !(abs(a - e) <= 2e-6 * max(1, abs(e))) {
    Issue.record("\(what): \(a) vs \(e)")
    return
  }
}

let kernelSizes = [1, 7, 16, 33, 1001]

@Test(arguments: kernelSizes)
func cReLUMatchesSwift(size: Int) {
  var x = values(size, seed: 1)
  if size > 3 { x[1] = 0; x[2] = -0.0; x[3] = .nan }
  let dy = values(size, seed: 2)
  var y = [Float](repeating: 7, count: size), dx = [Float](repeating: 7, count: size)
  strata_relu_forward(x, &y, size)
  strata_relu_backward(x, dy, &dx, size)
  for i in 0..<size {
    // NaN propagates forward; the derivative is 1 above 0 and 0 elsewhere (and for NaN), as in TensorFlow.
    let expected: Float = x[i].isNaN ? .nan : max(x[i], 0)
    #expect(y[i] == expected || (y[i].isNaN && expected.isNaN), "relu(\(x[i])) = \(y[i])")
    #expect(dx[i] == (x[i] > 0 ? dy[i] : 0), "relu'(\(x[i]))")
  }
}

@Test(arguments: kernelSizes, [false, true])
func cAdamMatchesSwift(size: Int, amsgrad: Bool) {
  // Small gradients and moments, where ε's place in the formula shows (√v is then near ε).
  let g = values(size, seed: 3).map { $0 * 1e-4 }
  let (alpha, beta1, beta2, epsilon): (Float, Float, Float, Float) = (0.01, 0.9, 0.999, 1e-7)
  var w = values(size, seed: 4), m = values(size, seed: 5).map { $0 * 1e-4 }
  var v = values(size, seed: 6, positive: true).map { $0 * 1e-10 }
  var vhat = values(size, seed: 7, positive: true).map { $0 * 1e-10 }
  var (sw, sm, sv, svhat) = (w, m, v, vhat)
  for i in 0..<size {
    sm[i] = sm[i] + (g[i] - sm[i]) * (1 - beta1)
    sv[i] = sv[i] + (g[i] * g[i] - sv[i]) * (1 - beta2)
    svhat[i] = max(svhat[i], sv[i])
    sw[i] -= sm[i] * alpha / ((amsgrad ? svhat[i] : sv[i]).squareRoot() + epsilon)
  }
  vhat.withUnsafeMutableBufferPointer { hat in
    strata_adam(&w, g, &m, &v, amsgrad ? hat.baseAddress : nil, size, alpha, beta1, beta2, epsilon)
  }
  expectClose(w, sw, "adam w")
  expectClose(m, sm, "adam m")
  expectClose(v, sv, "adam v")
  if amsgrad { expectClose(vhat, svhat, "adam v̂") }
}

@Test(arguments: kernelSizes, [false, true])
func cRMSpropMatchesSwift(size: Int, centered: Bool) {
  let g = values(size, seed: 8),
    (lr, rho, momentum, epsilon): (Float, Float, Float, Float) = (0.01, 0.9, 0.5, 1e-7)
  var w = values(size, seed: 9), v = values(size, seed: 10, positive: true),
    mom = values(size, seed: 11)
  var mg = values(size, seed: 12).map { $0 * 0.01 }
  var (sw, sv, smom, smg) = (w, v, mom, mg)
  for i in 0..<size {
    sv[i] = rho * sv[i] + (1 - rho) * g[i] * g[i]
    var denominator = sv[i] + epsilon
    if centered {
      smg[i] = rho * smg[i] + (1 - rho) * g[i]
      denominator = sv[i] - smg[i] * smg[i] + epsilon
    }
    smom[i] = momentum * smom[i] + lr * g[i] / denominator.squareRoot()
    sw[i] -= smom[i]
  }
  strata_rmsprop(&w, g, &v, &mom, &mg, size, lr, rho, momentum, epsilon, centered ? 1 : 0)
  expectClose(w, sw, "rmsprop w")
  expectClose(v, sv, "rmsprop v")
  expectClose(mom, smom, "rmsprop momentum")
  if centered { expectClose(mg, smg, "rmsprop mean gradient") }
}

@Test(arguments: kernelSizes)
func cAdagradAndAdadeltaMatchSwift(size: Int) {
  let g = values(size, seed: 13)
  var w = values(size, seed: 14), acc = values(size, seed: 15, positive: true)
  var (sw, sacc) = (w, acc)
  for i in 0..<size {
    sacc[i] += g[i] * g[i]
    sw[i] -= 0.01 * g[i] / (sacc[i] + 1e-7).squareRoot()
  }
  strata_adagrad(&w, g, &acc, size, 0.01, 1e-7)
  expectClose(w, sw, "adagrad w")
  expectClose(acc, sacc, "adagrad accumulator")

  var w2 = values(size, seed: 16), ag = values(size, seed: 17, positive: true),
    ad = values(size, seed: 18, positive: true)
  var (sw2, sag, sad) = (w2, ag, ad)
  for i in 0..<size {
    sag[i] = 0.95 * sag[i] + 0.05 * g[i] * g[i]
    let delta = -(sad[i] + 1e-7).squareRoot() * g[i] / (sag[i] + 1e-7).squareRoot()
    sad[i] = 0.95 * sad[i] + 0.05 * delta * delta
    sw2[i] += 1 * delta
  }
  strata_adadelta(&w2, g, &ag, &ad, size, 1, 0.95, 1e-7)
  expectClose(w2, sw2, "adadelta w")
  expectClose(ag, sag, "adadelta gradient accumulator")
  expectClose(ad, sad, "adadelta update accumulator")
}

@Test(arguments: kernelSizes)
func cNadamMatchesSwift(size: Int) {
  let g = values(size, seed: 19)
  let (lr, beta1, beta2, epsilon): (Float, Float, Float, Float) = (0.002, 0.9, 0.999, 1e-7)
  let (muT, muNext, prodT, prodNext, beta2Power): (Float, Float, Float, Float, Float) = (
    0.45, 0.46, 0.2, 0.09, 0.997
  )
  var w = values(size, seed: 20), m = values(size, seed: 21),
    v = values(size, seed: 22, positive: true)
  var (sw, sm, sv) = (w, m, v)
  for i in 0..<size {
    sm[i] = sm[i] + (g[i] - sm[i]) * (1 - beta1)
    sv[i] = sv[i] + (g[i] * g[i] - sv[i]) * (1 - beta2)
    let mHat = muNext * sm[i] / (1 - prodNext) + (1 - muT) * g[i] / (1 - prodT)
    let vHat = sv[i] / (1 - beta2Power)
    sw[i] -= mHat * lr / (vHat.squareRoot() + epsilon)
  }
  strata_nadam(
    &w, g, &m, &v, size, lr, beta1, beta2, epsilon, muT, muNext, prodT, prodNext, beta2Power)
  expectClose(w, sw, "nadam w")
  expectClose(m, sm, "nadam m")
  expectClose(v, sv, "nadam v")
}
