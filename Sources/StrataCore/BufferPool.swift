import Foundation
import Synchronization

/// The float buffers of tensors that ops computed, kept when their last tensor goes for the next op
/// result of the same size: a training step written with ops takes back what the step before it
/// allocated instead of asking the system again (Keras' backends keep such pools too).
///
/// A buffer returns here when its ``TensorStorage`` is freed; the pool keeps at most
/// ``limitBytes`` and frees what does not fit. Buffers are whole `posix_memalign` allocations, keyed
/// by their capacity in floats.
package enum BufferPool {
  /// The most memory the pool keeps for reuse: 1 GiB, a batch's activations of a large model in
  /// inference (ResNet50 at batch 32 frees 100 MB buffers layer after layer; with 256 MiB most went
  /// back to the system and came again as page faults, a third of the time).
  package static let limitBytes = 1 << 30

  private struct Shelves {
    /// Free buffers by capacity, as addresses.
    var free: [Int: [UInt]] = [:]
    var bytes = 0
    var taken = 0
    var allocated = 0
  }

  private static let shelves = Mutex(Shelves())

  /// The smallest request (256 KiB) that may take a larger free buffer: below it the system's
  /// allocator reuses memory without page faults.
  static let largeCapacity = 65_536

  /// A buffer of at least `capacity` floats from the pool, and how many it holds, or `nil` when none
  /// fits; counts the request. A buffer of exactly that size is taken first, else, for a large
  /// request (``largeCapacity`` floats and more), the smallest free one up to twice as large: a graph
  /// whose values grow a little at a time (DenseNet's concatenations) reuses what the last batch freed
  /// instead of asking the system again, whose fresh pages cost a fault each.
  static func take(_ capacity: Int) -> (UnsafeMutablePointer<Float>, capacity: Int)? {
    let taken: (UInt, Int)? = shelves.withLock { shelves in
      var size = capacity
      if shelves.free[capacity]?.isEmpty ?? true {
        guard capacity >= largeCapacity else {
          shelves.allocated += 1
          return nil
        }
        let limit = capacity > Int.max / 2 ? Int.max : capacity * 2
        guard
          let larger = shelves.free.lazy.filter({ $0.key > capacity && $0.key <= limit })
            .filter({ !$0.value.isEmpty }).min(by: { $0.key < $1.key })?.key
        else {
          shelves.allocated += 1
          return nil
        }
        size = larger
      }
      guard let address = shelves.free[size]?.popLast() else { return nil }
      if shelves.free[size]?.isEmpty ?? false { shelves.free[size] = nil }
      shelves.bytes -= max(1, size) * MemoryLayout<Float>.stride
      shelves.taken += 1
      return (address, size)
    }
    return taken.flatMap { address, size in
      UnsafeMutablePointer(bitPattern: address).map { ($0, size) }
    }
  }

  /// Keeps `base`, a buffer of `capacity` floats, for reuse; `false` when the pool is full (the caller
  /// frees it).
  static func give(_ base: UnsafeMutablePointer<Float>, capacity: Int) -> Bool {
    let bytes = max(1, capacity) * MemoryLayout<Float>.stride
    return shelves.withLock { shelves in
      guard shelves.bytes + bytes <= limitBytes else { return false }
      shelves.free[capacity, default: []].append(UInt(bitPattern: base))
      shelves.bytes += bytes
      return true
    }
  }

  /// How many pooled requests were served from the pool and how many allocated fresh memory, since
  /// the process started: what `bench` reports for a training step.
  package static var statistics: (reused: Int, allocated: Int) {
    shelves.withLock { ($0.taken, $0.allocated) }
  }

  /// The memory the pool holds now, in bytes.
  package static var heldBytes: Int { shelves.withLock { $0.bytes } }

  /// Frees every buffer the pool keeps.
  package static func drain() {
    let addresses = shelves.withLock { shelves in
      defer {
        shelves.free = [:]
        shelves.bytes = 0
      }
      return shelves.free.values.flatMap { $0 }
    }
    for address in addresses { free(UnsafeMutableRawPointer(bitPattern: address)) }
  }
}
