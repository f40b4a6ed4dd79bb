import Dispatch
import Foundation

/// The threads a recurrent loop may split its batch over: `OMP_NUM_THREADS` when set (as oneDNN
/// reads it; one per process of a distributed run on one machine), else the cores.
let recurrentThreads: Int = {
  if let text = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"],
    let count = Int(text.split(separator: ",").first ?? ""), count > 0
  {
    return count
  }
  return max(ProcessInfo.processInfo.activeProcessorCount, 1)
}()

/// How many blocks a loop over `rows` rows splits into: one per thread, each of at least
/// `minimumRows` rows and 4·10⁶ multiply-adds (below that a thread does not pay for itself).
func rowBlockCount(rows: Int, minimumRows: Int = 8, multiplyAdds: Int) -> Int {
  max(1, min(recurrentThreads, rows / max(minimumRows, 1), multiplyAdds / 4_000_000))
}

/// Runs `body` on blocks of a batch's rows, each block on a thread of its own: in a recurrent loop
/// a row's steps depend only on its own earlier steps, so each block runs the whole sequence alone,
/// with no hand-over between steps. One block when the loop's work would not pay for a thread
/// (``rowBlockCount(rows:minimumRows:multiplyAdds:)``).
func forEachRowBlock(
  rows: Int, multiplyAdds: Int, kernels: any Kernels, _ body: @Sendable (Range<Int>) -> Void
) {
  forEachRowBlock(
    rows: rows, blocks: rowBlockCount(rows: rows, multiplyAdds: multiplyAdds), kernels: kernels
  ) { _, rows in body(rows) }
}

/// Runs `body(k, rows)` for `blocks` blocks of `rows` rows, on as many threads.
///
/// The blocks' products run single-threaded (each far below the size at which OpenBLAS wakes its
/// threads); a one-element product first settles OpenBLAS on one thread before the blocks start,
/// so that no block changes its thread count while another multiplies.
func forEachRowBlock(
  rows: Int, blocks: Int, kernels: any Kernels, _ body: @Sendable (Int, Range<Int>) -> Void
) {
  guard blocks > 1 else { return body(0, 0..<rows) }
  var one: [Float] = [0]
  let unit: [Float] = [0]
  unit.withUnsafeBufferPointer { a in
    one.withUnsafeMutableBufferPointer { c in
      kernels.gemm(
        transposeA: false, transposeB: false, m: 1, n: 1, k: 1, alpha: 1, a: a, b: a, beta: 0,
        c: c)
    }
  }
  DispatchQueue.concurrentPerform(iterations: blocks) { k in
    body(k, (rows * k / blocks)..<(rows * (k + 1) / blocks))
  }
}
