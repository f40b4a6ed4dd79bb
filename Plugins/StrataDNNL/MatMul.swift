import CDNNL
import Foundation
import StrataCore

/// One matrix product's shape: `C (m×n) = op(A) · op(B)`, row-major, `op` transposing an operand
/// stored transposed.
struct ProductShape: Hashable {
  let transposeA: Bool, transposeB: Bool
  let m: Int, n: Int, k: Int
}

/// A f32 memory descriptor of `dimensions` with explicit `strides` (elements), so that a transposed
/// operand is read where it lies instead of being copied.
private func stridedDescriptor(_ dimensions: [Int], _ strides: [Int]) -> dnnl_memory_desc_t {
  var descriptor = dnnl_memory_desc_t()
  check(
    dnnl_memory_desc_init_by_strides(
      &descriptor, Int32(dimensions.count), dims(dimensions), dnnl_f32, dims(strides)),
    "memory descriptor \(dimensions) strides \(strides)")
  return descriptor
}

/// oneDNN's matmul primitive for one product shape, made once and reused. It runs on the OpenMP
/// threads the convolutions already keep busy, where OpenBLAS' own threads would compete with them.
final class MatMulPrimitive: @unchecked Sendable {
  private let runtime: DNNLRuntime
  private let descriptor: dnnl_primitive_desc_t
  private let primitive: dnnl_primitive_t
  private let memories: [dnnl_memory_t]
  /// The memories' data handles are set per call: one call at a time.
  private let lock = NSLock()

  init(_ shape: ProductShape, runtime: DNNLRuntime) {
    self.runtime = runtime
    var source = stridedDescriptor(
      [shape.m, shape.k], shape.transposeA ? [1, shape.m] : [shape.k, 1])
    var weights = stridedDescriptor(
      [shape.k, shape.n], shape.transposeB ? [1, shape.k] : [shape.n, 1])
    var destination = stridedDescriptor([shape.m, shape.n], [shape.n, 1])
    var operation = dnnl_matmul_desc_t()
    check(
      dnnl_matmul_desc_init(&operation, &source, &weights, nil, &destination), "matmul \(shape)")
    (descriptor, primitive) = runtime.primitive(&operation, what: "matmul \(shape)")
    memories = [source, weights, destination].map { runtime.memory($0) }
  }

  deinit {
    dnnl_primitive_destroy(primitive)
    dnnl_primitive_desc_destroy(descriptor)
    memories.forEach { dnnl_memory_destroy($0) }
  }

  /// `c = op(a) · op(b)`.
  func run(a: UnsafeRawPointer, b: UnsafeRawPointer, c: UnsafeMutableRawPointer) {
    lock.withLock {
      runtime.execute(
        primitive,
        [
          (DNNL_ARG_SRC, memories[0], a), (DNNL_ARG_WEIGHTS, memories[1], b),
          (DNNL_ARG_DST, memories[2], UnsafeRawPointer(c)),
        ])
    }
  }
}
