import CBLAS
import CStrataKernels
import Foundation
import Strata

/// The machine's own limits, measured at start.
struct Machine {
  let isa: String
  let coreGFLOPS: Double
  let bandwidthGBs: Double
  let cores: Int
}

/// A kernel backend by its bench name.
func kernels(_ name: String) -> any Kernels {
  switch name {
  case "reference": ReferenceKernels()
  case "simd": SIMDKernels()
  case "blas": BLASKernels()
  default: DNNLKernels()
  }
}

// MARK: GEMM

struct GEMMShape {
  let name: String
  let m: Int, n: Int, k: Int
  let transposeA: Bool, transposeB: Bool
}

/// The Dense products of the seed models: forward (x·W), weight gradient (xᵀ·dy), input gradient (dy·Wᵀ).
func gemmShapes(quick: Bool) -> [GEMMShape] {
  var shapes: [GEMMShape] = []
  let dense: [(String, Int, Int, [Int])] = [
    ("784x128", 784, 128, quick ? [32] : [32, 256, 1024]),
    ("128x10", 128, 10, quick ? [32] : [32, 256, 1024]),
    ("3136x1024", 3136, 1024, [50]),
  ]
  for (label, inputs, outputs, batches) in dense {
    for batch in batches {
      shapes.append(
        GEMMShape(
          name: "gemm \(label) b\(batch) forward", m: batch, n: outputs, k: inputs,
          transposeA: false, transposeB: false))
      shapes.append(
        GEMMShape(
          name: "gemm \(label) b\(batch) weight-grad", m: inputs, n: outputs, k: batch,
          transposeA: true, transposeB: false))
      shapes.append(
        GEMMShape(
          name: "gemm \(label) b\(batch) input-grad", m: batch, n: inputs, k: outputs,
          transposeA: false, transposeB: true))
    }
  }
  if !quick {
    shapes.append(
      GEMMShape(
        name: "gemm 1024^3", m: 1024, n: 1024, k: 1024, transposeA: false, transposeB: false))
  }
  return shapes
}

func gemmRows(_ options: Options, _ machine: Machine, runs: Int) -> [Row] {
  var rows: [Row] = []
  for shape in gemmShapes(quick: options.quick)
  where ["blas", "dnnl", "reference"].contains(where: { options.wants(shape.name, backend: $0) }) {
    let a = randomArray(shape.m * shape.k, seed: 1), b = randomArray(shape.k * shape.n, seed: 2)
    var c = [Float](repeating: 0, count: shape.m * shape.n)
    let flops = 2.0 * Double(shape.m * shape.n * shape.k)
    for backend in ["blas", "dnnl", "reference"] where options.wants(shape.name, backend: backend) {
      if backend == "reference" && (flops > 2e8 || options.quick) { continue }
      // oneDNN's matmul: what the cpu backend uses for large products once convolutions run.
      if backend == "dnnl" && flops < 4e7 { continue }
      let kernels = kernels(backend)
      func run() {
        a.withUnsafeBufferPointer { a in
          b.withUnsafeBufferPointer { b in
            c.withUnsafeMutableBufferPointer {
              kernels.gemm(
                transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n,
                k: shape.k, alpha: 1, a: a, b: b, beta: 0, c: $0)
            }
          }
        }
      }
      let seconds = measure(runs: runs, run)
      let threads =
        backend == "blas"
        ? Int(openblas_get_num_threads())
        : backend == "dnnl" ? ProcessInfo.processInfo.activeProcessorCount : 1
      // Validation: 32 sampled entries against a dot product in Double.
      var generator = SeededGenerator(seed: 3)
      var worst = 0.0
      for _ in 0..<32 {
        let i = Int(generator.next() % UInt64(shape.m)), j = Int(generator.next() % UInt64(shape.n))
        var sum = 0.0
        for p in 0..<shape.k {
          let av = shape.transposeA ? a[p * shape.m + i] : a[i * shape.k + p]
          let bv = shape.transposeB ? b[j * shape.k + p] : b[p * shape.n + j]
          sum += Double(av) * Double(bv)
        }
        worst = max(worst, abs(Double(c[i * shape.n + j]) - sum) / max(1, abs(sum)))
      }
      var direct: Double?
      if backend == "blas" {
        // The same call straight to OpenBLAS, with the thread count the backend chose.
        let directSeconds = measure(runs: runs) {
          a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
              c.withUnsafeMutableBufferPointer { cc in
                cblas_sgemm(
                  CblasRowMajor, shape.transposeA ? CblasTrans : CblasNoTrans,
                  shape.transposeB ? CblasTrans : CblasNoTrans,
                  Int32(shape.m), Int32(shape.n), Int32(shape.k), 1, a.baseAddress,
                  Int32(shape.transposeA ? shape.m : shape.k),
                  b.baseAddress, Int32(shape.transposeB ? shape.k : shape.n), 0, cc.baseAddress,
                  Int32(shape.n))
              }
            }
          }
        }
        direct = seconds / directSeconds
      }
      rows.append(
        Row(
          name: shape.name, backend: backend, shape: "\(shape.m)x\(shape.n)x\(shape.k)",
          milliseconds: seconds * 1e3,
          rate: flops / seconds * 1e-9, unit: "GFLOP/s",
          ofPeak: flops / seconds * 1e-9 / (machine.coreGFLOPS * Double(threads)),
          overDirect: direct, validated: worst < 1e-3,
          note: "\(threads) thread\(threads == 1 ? "" : "s")"))
    }
  }
  return rows
}

// MARK: Element-wise

/// A scalar loop of the same function, for the reference rows.
func scalarActivation(_ name: String) -> ((Float) -> Float, (Float, Float) -> Float) {
  switch name {
  case "relu": ({ max($0, 0) }, { x, dy in x > 0 ? dy : 0 })
  case "sigmoid":
    (
      { 1 / (1 + exp(-$0)) },
      { x, dy in
        let s = 1 / (1 + exp(-x)); return dy * s * (1 - s)
      }
    )
  default:
    (
      { tanh($0) },
      { x, dy in
        let t = tanh(x); return dy * (1 - t * t)
      }
    )
  }
}

func elementwiseRows(_ options: Options, _ machine: Machine, runs: Int) throws -> [Row] {
  var rows: [Row] = []
  let sizes: [(String, [Int])] = [("32x128", [32, 128]), ("16M", [4096, 4096])]
  for name in ["relu", "sigmoid", "tanh", "softmax"] {
    let activation = try Registries.shared.activations.make(name)
    for (label, shape) in sizes
    where ["simd", "reference"].contains(where: { backend in
      ["forward", "backward"].contains { options.wants("\(name) \(label) \($0)", backend: backend) }
    }) {
      let count = shape.reduce(1, *), row = shape[1]
      let x = randomArray(count, seed: 4), dy = randomArray(count, seed: 5)
      var y = [Float](repeating: 0, count: count), dx = y
      let large = count > 1_000_000
      let repeats = large ? 1 : 2000  // a cache-resident tensor is timed over many passes
      for backend in ["simd", "reference"] where backend == "simd" || name != "softmax" {
        for direction in ["forward", "backward"] {
          let rowName = "\(name) \(label) \(direction)"
          guard options.wants(rowName, backend: backend) else { continue }
          let (f, df) = scalarActivation(name)
          let seconds =
            measure(runs: large ? runs : max(3, runs / 2)) {
              x.withUnsafeBufferPointer { xs in
                dy.withUnsafeBufferPointer { dys in
                  y.withUnsafeMutableBufferPointer { ys in
                    dx.withUnsafeMutableBufferPointer { dxs in
                      for _ in 0..<repeats {
                        switch (backend, direction) {
                        case ("simd", "forward"): activation.forward(xs, into: ys, rowLength: row)
                        case ("simd", _):
                          activation.backward(
                            input: xs, output: UnsafeBufferPointer(ys), outputGradient: dys,
                            into: dxs, rowLength: row)
                        case (_, "forward"): for i in 0..<count { ys[i] = f(xs[i]) }
                        default: for i in 0..<count { dxs[i] = df(xs[i], dys[i]) }
                        }
                      }
                    }
                  }
                }
              }
            } / Double(repeats)
          // Validation: the SIMD result against the scalar function.
          var validated: Bool?
          if backend == "simd" && name != "softmax" {
            let (f, df) = scalarActivation(name)
            validated = (0..<min(count, 4096)).allSatisfy { i in
              direction == "forward"
                ? abs(y[i] - f(x[i])) <= 1e-5 * max(1, abs(f(x[i])))
                : abs(dx[i] - df(x[i], dy[i])) <= 1e-5 * max(1, abs(df(x[i], dy[i])))
            }
          }
          let bytes = Double(count) * (direction == "forward" ? 8 : 12)
          rows.append(
            Row(
              name: rowName, backend: backend, shape: shape.map(String.init).joined(separator: "x"),
              milliseconds: seconds * 1e3,
              rate: large ? bytes / seconds * 1e-9 : Double(count) / seconds * 1e-9,
              unit: large ? "GB/s" : "Gelem/s",
              ofPeak: large ? bytes / seconds * 1e-9 / machine.bandwidthGBs : nil, overDirect: nil,
              validated: validated,
              note: large ? nil : "cache-resident"))
        }
      }
    }
  }
  // Softmax with cross-entropy, fused, as the last step of a classifier.
  for batch in [32, 1024] where options.wants("softmax-crossentropy b\(batch)", backend: "simd") {
    let logits = randomArray(batch * 10, seed: 6)
    var probabilities = [Float](repeating: 0, count: batch * 10), gradient = probabilities
    let labels = (0..<batch).map { Float($0 % 10) }
    let loss = SparseCategoricalCrossentropy()
    let softmax = Softmax()
    let repeats = 200
    let seconds =
      try measure(runs: runs) {
        for _ in 0..<repeats {
          try logits.withUnsafeBufferPointer { z in
            try probabilities.withUnsafeMutableBufferPointer { p in
              softmax.forward(z, into: p, rowLength: 10)
              try labels.withUnsafeBufferPointer { t in
                try gradient.withUnsafeMutableBufferPointer {
                  _ = try loss.computeFromSoftmax(
                    logits: z, probabilities: UnsafeBufferPointer(p), target: t,
                    shape: [batch, 10], logitsGradient: $0)
                }
              }
            }
          }
        }
      } / Double(repeats)
    rows.append(
      Row(
        name: "softmax-crossentropy b\(batch)", backend: "simd", shape: "\(batch)x10",
        milliseconds: seconds * 1e3,
        rate: Double(batch * 10) / seconds * 1e-9, unit: "Gelem/s", ofPeak: nil, overDirect: nil,
        validated: abs(gradient.reduce(0, +)) < 1e-4, note: "forward, loss and gradient"))
  }
  // Adam over 100k and 3M parameters: reads w, g, m, v and writes w, m, v (28 bytes a parameter).
  for count in [100_000, 3_000_000] {
    for backend in ["simd", "reference"] where options.wants("adam \(count)", backend: backend) {
      var w = randomArray(count, seed: 7), m = [Float](repeating: 0, count: count), v = m
      let g = randomArray(count, seed: 8)
      let seconds = measure(runs: runs) {
        w.withUnsafeMutableBufferPointer { wp in
          m.withUnsafeMutableBufferPointer { mp in
            v.withUnsafeMutableBufferPointer { vp in
              g.withUnsafeBufferPointer { gp in
                if backend == "simd" {
                  strata_adam(
                    wp.baseAddress, gp.baseAddress, mp.baseAddress, vp.baseAddress, nil, count,
                    1e-3, 0.9, 0.999, 1e-7)
                } else {
                  for i in 0..<count {
                    mp[i] += (gp[i] - mp[i]) * 0.1
                    vp[i] += (gp[i] * gp[i] - vp[i]) * 0.001
                    wp[i] -= mp[i] * 1e-3 / (vp[i].squareRoot() + 1e-7)
                  }
                }
              }
            }
          }
        }
      }
      let bytes = 28.0 * Double(count)
      rows.append(
        Row(
          name: "adam \(count)", backend: backend, shape: "\(count)", milliseconds: seconds * 1e3,
          rate: bytes / seconds * 1e-9,
          unit: "GB/s", ofPeak: bytes / seconds * 1e-9 / machine.bandwidthGBs, overDirect: nil,
          validated: w.allSatisfy(\.isFinite),
          note: count > 1_000_000 ? "memory-bound" : nil))
    }
  }
  return rows
}
