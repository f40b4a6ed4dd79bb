@testable import StrataCPU
@testable import StrataDNNL
import Strata
import StrataSIMD
import Testing

func random(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
  (0..<count).map { _ in Float(generator.nextNormal()) }
}

/// oneDNN against the reference loops on odd sizes, strides, padding and dilation: forward, backward-data,
/// backward-weights, and both poolings.
@Test(arguments: [
  ConvolutionGeometry(
    batch: 1, height: 7, width: 5, channels: 3, filters: 2, kernel: (3, 3), strides: (1, 1),
    same: false),
  ConvolutionGeometry(
    batch: 3, height: 9, width: 9, channels: 1, filters: 5, kernel: (5, 5), strides: (1, 1),
    same: true),
  ConvolutionGeometry(
    batch: 2, height: 8, width: 7, channels: 4, filters: 3, kernel: (3, 2), strides: (2, 2),
    same: true),
  ConvolutionGeometry(
    batch: 2, height: 9, width: 9, channels: 2, filters: 33, kernel: (3, 3), strides: (1, 1),
    dilation: (2, 2), same: true),
  ConvolutionGeometry(
    batch: 7, height: 1, width: 1, channels: 33, filters: 7, kernel: (1, 1), strides: (1, 1),
    same: false),
])
func dnnlConvolutionMatchesReference(_ g: ConvolutionGeometry) {
  #expect(
    DNNLRuntime.shared != nil, "oneDNN did not start: the backend would fall back to the reference")
  var generator = SeededGenerator(seed: UInt64(g.outputCount))
  let x = random(g.inputCount, &generator), k = random(g.kernelCount, &generator),
    b = random(g.filters, &generator)
  let dy = random(g.outputCount, &generator)
  let backends: [any Kernels] = [ReferenceKernels(), DNNLKernels()]
  let results = backends.map { kernels -> [[Float]] in
    var y = [Float](repeating: .nan, count: g.outputCount),
      dx = [Float](repeating: .nan, count: g.inputCount)
    var dk = [Float](repeating: .nan, count: g.kernelCount),
      db = [Float](repeating: .nan, count: g.filters)
    x.withUnsafeBufferPointer { xs in
      k.withUnsafeBufferPointer { ks in
        b.withUnsafeBufferPointer { bs in
          dy.withUnsafeBufferPointer { dys in
            y.withUnsafeMutableBufferPointer {
              kernels.convolution(g, input: xs, kernel: ks, bias: bs, output: $0)
            }
            dx.withUnsafeMutableBufferPointer {
              kernels.convolutionBackwardData(g, outputGradient: dys, kernel: ks, inputGradient: $0)
            }
            dk.withUnsafeMutableBufferPointer { dks in
              db.withUnsafeMutableBufferPointer { dbs in
                kernels.convolutionBackwardWeights(
                  g, input: xs, outputGradient: dys, kernelGradient: dks, biasGradient: dbs)
              }
            }
          }
        }
      }
    }
    return [y, dx, dk, db]
  }
  for (name, (actual, expected)) in zip(
    ["forward", "backward data", "backward weights", "bias"], zip(results[1], results[0]))
  {
    let worst = zip(actual, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    #expect(worst < 1e-4, "\(g) \(name): \(worst)")
  }
}

/// Max pooling's forward and backward pass on `kernels` (outputs start as NaN, so a pixel a backend
/// leaves unwritten shows).
func maxPooling(_ kernels: any Kernels, _ g: PoolingGeometry, _ x: [Float], _ dy: [Float]) -> (
  [Float], [Float]
) {
  var workspace = [UInt8](repeating: 0, count: max(1, kernels.maxPoolingWorkspaceBytes(g)))
  var y = [Float](repeating: .nan, count: g.outputCount)
  var dx = [Float](repeating: .nan, count: g.inputCount)
  x.withUnsafeBufferPointer { xs in
    workspace.withUnsafeMutableBytes { w in
      y.withUnsafeMutableBufferPointer {
        kernels.maxPooling(g, input: xs, output: $0, workspace: w)
      }
      dy.withUnsafeBufferPointer { dys in
        dx.withUnsafeMutableBufferPointer {
          kernels.maxPoolingBackward(
            g, input: xs, outputGradient: dys, inputGradient: $0,
            workspace: UnsafeRawBufferPointer(w))
        }
      }
    }
  }
  return (y, dx)
}

/// Pooling geometries the backends are checked on: windows that tile the image, leave pixels out,
/// overlap or skip some; padding; more channels than one SIMD chunk of 64.
let poolingGeometries = [
  // batch, height, width, channels, pool, strides, "same" padding
  (2, 4, 6, 3, (2, 2), (2, 2), false), (2, 7, 7, 5, (2, 2), (2, 2), false),
  (1, 7, 5, 70, (3, 3), (2, 2), true), (3, 5, 6, 2, (2, 3), (1, 2), true),
  (1, 8, 9, 4, (2, 2), (3, 3), false), (2, 28, 28, 32, (2, 2), (2, 2), true),
].map {
  PoolingGeometry(
    batch: $0.0, height: $0.1, width: $0.2, channels: $0.3, pool: $0.4, strides: $0.5, same: $0.6)
}

@Test(arguments: poolingGeometries)
func dnnlPoolingMatchesReference(_ g: PoolingGeometry) {
  #expect(
    DNNLKernels.isAvailable, "oneDNN did not start: the backend would fall back to the reference")
  var generator = SeededGenerator(seed: UInt64(g.outputCount))
  // Distinct values: a tie could route a max-pooling gradient to either element.
  var x = Array(0..<g.inputCount).map { Float($0) * 0.01 }
  x.shuffle(using: &generator)
  let dy = random(g.outputCount, &generator)
  let backends: [any Kernels] = [ReferenceKernels(), DNNLKernels()]
  let results = backends.map { kernels -> [[Float]] in
    let (maxY, maxDx) = maxPooling(kernels, g, x, dy)
    var avgY = maxY, avgDx = maxDx
    x.withUnsafeBufferPointer { xs in
      dy.withUnsafeBufferPointer { dys in
        avgY.withUnsafeMutableBufferPointer { kernels.averagePooling(g, input: xs, output: $0) }
        avgDx.withUnsafeMutableBufferPointer {
          kernels.averagePoolingBackward(g, outputGradient: dys, inputGradient: $0)
        }
      }
    }
    return [maxY, maxDx, avgY, avgDx]
  }
  for (name, (actual, expected)) in zip(
    ["max", "max backward", "average", "average backward"], zip(results[1], results[0]))
  {
    let worst = zip(actual, expected).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    #expect(worst < 1e-5, "\(g) \(name): \(worst)")
  }
}

/// Primitives are made once per geometry and reused; a ragged last batch gets its own set.
@Test func dnnlPrimitivesAreCachedPerGeometry() throws {
  let kernels = DNNLKernels()
  let model = try Sequential(
    [Input(shape: [8, 8, 1]), Conv2D(4, kernelSize: 3), MaxPooling2D(), Flatten(), Dense(3)],
    seed: 1)
  model.kernels = kernels
  try model.compile(optimizer: "sgd", loss: "mse")
  var x = Tensor(shape: [20, 8, 8, 1])
  x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = Float(i % 7) * 0.1 } }
  let y = Tensor(shape: [20, 3], repeating: 0.5)
  try model.fit(x, y, batchSize: 8, epochs: 1, verbose: 0)
  // Batches of 8 and a last batch of 4: for each size a convolution set, a pooling set and Dense's
  // three products (forward, weight gradient, input gradient).
  #expect(kernels.primitiveSets == 10)
  try model.fit(x, y, batchSize: 8, epochs: 2, verbose: 0)
  #expect(kernels.primitiveSets == 10)
}

/// The SIMD backend's max pooling (C loops along the channels, the `cpu` backend's choice) gives the
/// reference's values and gradients bit for bit: windows that tile the image, leave pixels out, overlap
/// or skip some; padding; more channels than one chunk of 64; ties (the first maximum takes the
/// gradient); NaN (never wins) and all-NaN windows (-∞, no gradient).
@Test(arguments: poolingGeometries)
func simdMaxPoolingMatchesReferenceExactly(_ g: PoolingGeometry) {
  var generator = SeededGenerator(seed: UInt64(g.inputCount))
  // Few distinct values, so windows hold ties; some NaN, and one pixel all NaN.
  var x = (0..<g.inputCount).map { _ in Float(Int(generator.next() % 7)) - 3 }
  for i in stride(from: 5, to: g.inputCount, by: 11) { x[i] = .nan }
  // The first window all NaN.
  for py in 0..<g.poolHeight where py < g.height {
    for px in 0..<g.poolWidth where px < g.width {
      for c in 0..<g.channels { x[(py * g.width + px) * g.channels + c] = .nan }
    }
  }
  let dy = random(g.outputCount, &generator)
  let results = [ReferenceKernels() as any Kernels, SIMDKernels()].map {
    let (y, dx) = maxPooling($0, g, x, dy)
    return [y, dx]
  }
  #expect(results[1][0] == results[0][0], "\(g) forward")
  #expect(results[1][1] == results[0][1], "\(g) backward")
  #expect(results[0][0].prefix(g.channels).allSatisfy { $0 == -.infinity })
  #expect(results[0][1].filter { $0 != 0 }.count > g.outputCount / 2, "\(g): gradients routed")
}

/// Once a convolution has run, the `cpu` backend sends products of 2·10⁷ multiply-adds and more to
/// oneDNN's matmul (the threads the convolutions use) and smaller ones to OpenBLAS; both agree with
/// OpenBLAS alone, for every transposition.
@Test func cpuBackendSendsLargeProductsToOneDNNOnceConvolutionsRun() throws {
  let cpu = DefaultKernels()  // its own primitive cache: the registry's is shared with other tests
  let model = try Sequential([Input(shape: [6, 6, 1]), Conv2D(2, kernelSize: 3)], seed: 1)
  model.kernels = cpu
  _ = try model.predict(Tensor(shape: [2, 6, 6, 1], repeating: 0.5))
  let before = cpu.dnnl.primitiveSets
  var generator = SeededGenerator(seed: 5)
  for (m, n, k, large) in [(260, 300, 280, true), (32, 128, 784, false)] {
    for transposeA in [false, true] {
      for transposeB in [false, true] {
        let a = randomArray(m * k, &generator), b = randomArray(k * n, &generator)
        var expected = [Float](repeating: 0, count: m * n), actual = expected
        a.withUnsafeBufferPointer { a in
          b.withUnsafeBufferPointer { b in
            expected.withUnsafeMutableBufferPointer {
              BLASKernels().gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a,
                b: b, beta: 0, c: $0)
            }
            actual.withUnsafeMutableBufferPointer {
              cpu.gemm(
                transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a,
                b: b, beta: 0, c: $0)
            }
          }
        }
        #expect(
          maxDifference(actual, expected) < 1e-4, "\(m)x\(n)x\(k) tA \(transposeA) tB \(transposeB)"
        )
      }
    }
    // Four new matmul primitives for the large shape (one per transposition), none for the small one.
    #expect(cpu.dnnl.primitiveSets == before + 4, "\(m)x\(n)x\(k) large \(large)")
  }
}

/// 3x3 convolutions of whole 16-channel blocks run for inference as oneDNN's Winograd convolutions,
/// a few images at a time between reorders to and from NHWC: the reference's numbers within rounding,
/// with bias and relu, "same" and "valid", one chunk and several (a 96x64x64 output is 1.5 MB: a
/// chunk of two would not divide 3 images, so one image per chunk); a residual sum, 3 channels or a
/// stride keep the direct algorithm.
@Test func winogradInferenceConvolutionsMatchTheReference() throws {
  try #require(DNNLKernels.isAvailable)
  let cases: [(ConvolutionGeometry, ConvolutionEpilogue, Bool)] = [
    (
      ConvolutionGeometry(
        batch: 3, height: 96, width: 64, channels: 16, filters: 64, kernel: (3, 3),
        strides: (1, 1), same: true), ConvolutionEpilogue(activation: .relu), true
    ),
    (
      ConvolutionGeometry(
        batch: 3, height: 10, width: 9, channels: 32, filters: 16, kernel: (3, 3),
        strides: (1, 1), same: false), ConvolutionEpilogue(), true
    ),
    (
      ConvolutionGeometry(
        batch: 2, height: 10, width: 10, channels: 16, filters: 16, kernel: (3, 3),
        strides: (1, 1), same: true), ConvolutionEpilogue(addsToOutput: true), false
    ),
    (
      ConvolutionGeometry(
        batch: 2, height: 10, width: 10, channels: 3, filters: 16, kernel: (3, 3),
        strides: (1, 1), same: true), ConvolutionEpilogue(), false
    ),
    (
      ConvolutionGeometry(
        batch: 2, height: 10, width: 10, channels: 16, filters: 16, kernel: (3, 3),
        strides: (2, 2), same: true), ConvolutionEpilogue(), false
    ),
  ]
  for (g, epilogue, winograd) in cases {
    let kernels = DNNLKernels()
    var generator = SeededGenerator(seed: UInt64(g.inputCount))
    let x = random(g.inputCount, &generator)
    let w = random(g.kernelCount, &generator)
    let b = random(g.filters, &generator)
    let residual = random(g.outputCount, &generator)
    var results: [[Float]] = []
    for backend in [ReferenceKernels() as any Kernels, kernels] {
      var y = epilogue.addsToOutput ? residual : [Float](repeating: 0, count: g.outputCount)
      x.withUnsafeBufferPointer { x in
        w.withUnsafeBufferPointer { w in
          b.withUnsafeBufferPointer { b in
            y.withUnsafeMutableBufferPointer { y in
              backend.inferenceConvolution(
                g, groups: 1, input: x, kernel: w, kernelVersion: 1, bias: b, output: y,
                epilogue: epilogue)
            }
          }
        }
      }
      results.append(y)
    }
    #expect(kernels.winogradConvolutions == (winograd ? 1 : 0), "\(g)")
    let scale = results[0].map(abs).max() ?? 1
    let worst = zip(results[1], results[0]).map { abs($0 - $1) }.max() ?? .infinity
    #expect(worst / scale < 1e-5, "\(g): \(worst) of \(scale)")
  }
}
