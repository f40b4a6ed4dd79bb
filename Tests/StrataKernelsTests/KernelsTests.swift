import Foundation
import Strata
import StrataBLAS
import Testing

/// Every registered backend but the reference it is compared with: a new backend is tested by being
/// registered.
let backends: [(String, any Kernels)] = Registries.shared.kernels.identifiers.filter {
  $0 != "reference"
}.map {
  ($0, try! Registries.shared.kernels.make($0))
}

func randomArray(_ count: Int, _ generator: inout SeededGenerator) -> [Float] {
  (0..<count).map { _ in Float(generator.nextNormal()) }
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
  zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
}

@Test(arguments: backends.map(\.0), [1, 7, 33])
func gemmMatchesReference(_ backendName: String, size: Int) {
  let kernels = backends.first { $0.0 == backendName }!.1
  var generator = SeededGenerator(seed: UInt64(size))
  // k = 0 too: an empty inner dimension leaves c = beta · c on every backend.
  // (…, 64, …) and (…, 96, 40): few rows by a multiple of 32 columns, the cpu backend's own kernel
  // on AVX-512 (blocks of 8 rows and the rows after them).
  for (m, n, k) in [
    (size, size, size), (size, 5, 3), (2, size, 9), (size, 1, size + 2), (size, 3, 0),
    (size, 64, size + 2), (size + 8, 96, 40),
  ] {
    for transposeA in [false, true] {
      for transposeB in [false, true] {
        for (alpha, beta): (Float, Float) in [(0.5, 0), (0.5, 1), (1, 0), (1, 1)] {
          let a = randomArray(m * k, &generator), b = randomArray(k * n, &generator)
          let c0 = randomArray(m * n, &generator)
          var expected = c0, actual = c0
          a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
              expected.withUnsafeMutableBufferPointer {
                ReferenceKernels().gemm(
                  transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, b: b, beta: beta, c: $0)
              }
              actual.withUnsafeMutableBufferPointer {
                kernels.gemm(
                  transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                  a: a, b: b, beta: beta, c: $0)
              }
            }
          }
          #expect(
            maxDifference(actual, expected) < 1e-5,
            "\(backendName) gemm \(m)x\(n)x\(k) tA \(transposeA) tB \(transposeB) α \(alpha) β \(beta)"
          )
        }
      }
    }
  }
}

@Test(arguments: backends.map(\.0), [1, 7, 33])
func elementwiseMatchesReference(_ backendName: String, size: Int) {
  let kernels = backends.first { $0.0 == backendName }!.1
  let reference = ReferenceKernels()
  var generator = SeededGenerator(seed: 99 + UInt64(size))
  let rows = 3
  let x = randomArray(rows * size, &generator), y = randomArray(rows * size, &generator)
  let bias = randomArray(size, &generator)
  func run(_ k: any Kernels) -> [[Float]] {
    var withBias = x, sums = [Float](repeating: 0, count: size), product = x, axpy = y
    x.withUnsafeBufferPointer { xs in
      y.withUnsafeBufferPointer { ys in
        bias.withUnsafeBufferPointer { b in
          withBias.withUnsafeMutableBufferPointer { k.addBias(b, to: $0) }
        }
        sums.withUnsafeMutableBufferPointer { k.sumRows(xs, into: $0) }
        product.withUnsafeMutableBufferPointer { k.multiply(xs, ys, into: $0) }
        axpy.withUnsafeMutableBufferPointer { k.axpy(alpha: -1.5, x: xs, y: $0) }
      }
    }
    return [withBias, sums, product, axpy]
  }
  for (actual, expected) in zip(run(kernels), run(reference)) {
    #expect(maxDifference(actual, expected) < 1e-5, "\(backendName) size \(size)")
  }
}

@Test func backendsAreRegistered() throws {
  // The built-ins, in registration order (a new backend registers after them).
  #expect(
    Registries.shared.kernels.identifiers.prefix(5) == ["simd", "blas", "dnnl", "reference", "cpu"])
  #expect(
    throws: StrataError.unknownIdentifier(
      kind: "kernels backend", identifier: "cuda", suggestions: [])
  ) { try Registries.shared.kernels.make("cuda") }
}

/// The OpenBLAS core Strata asks for when OpenBLAS fell back to a generic one: the newest kernels
/// the CPU's flags allow (a Sapphire Rapids gets Cooperlake, a Zen 3 Haswell).
@Test func openBLASCoreTypeFollowsTheCPUFlags() {
  let avx512: Set<String> = [
    "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx2", "fma",
  ]
  #expect(BLASCore.better(forFlags: avx512.union(["avx512_bf16"])) == "Cooperlake")
  #expect(BLASCore.better(forFlags: avx512) == "SkylakeX")
  #expect(BLASCore.better(forFlags: ["avx", "avx2", "fma", "sse3"]) == "Haswell")
  #expect(BLASCore.better(forFlags: ["avx", "sse3"]) == "Sandybridge")
  #expect(BLASCore.better(forFlags: ["sse2", "sse3"]) == nil)
  // This machine: flags from /proc/cpuinfo (an x86-64 CPU has SSE2), and a recommendation only
  // when OpenBLAS' own choice is generic and the user set none.
  let flags = BLASCore.cpuFlags
  #expect(flags.contains("sse2"), "\(flags.count) flags")
  #expect(!BLASCore.name.isEmpty)
  let userChose = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil
  #expect(
    BLASCore.recommendedCoreType
      == (BLASCore.isGeneric && !userChose ? BLASCore.better(forFlags: flags) : nil))
}
