import Foundation
import Synchronization

/// The collectives data-parallel training needs, free of any transport: every process (a "rank")
/// calls the same collectives in the same order, and each call returns the same result on every rank.
///
/// Implementations: ``SingleProcess`` (rank 0 of 1, every collective a no-op), ``ThreadGroup``
/// (ranks as threads of one process, so `swift test` runs every distributed path without MPI), and
/// `MPICommunicator` in the `StrataMPI` module (Open MPI, from two local processes to many hosts).
public protocol Communicator: AnyObject {
  /// This process's index, from 0 to ``size`` − 1.
  var rank: Int { get }
  /// How many ranks take part.
  var size: Int { get }
  /// Replaces `buffer` on every rank by the element-wise sum over the ranks (the same bits everywhere).
  func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws
  /// Replaces `buffer` on every rank by the element-wise sum over the ranks.
  func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws
  /// Copies `root`'s `buffer` into every other rank's (of the same size).
  func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws
  /// The largest `value` over the ranks: a flag any rank may raise.
  func allreduceMax(_ value: Int32) throws -> Int32
  /// Returns once every rank has called it.
  func barrier() throws
  /// Ends the run on every rank after an error on this one, with `message`: the others must not wait
  /// forever in a collective this rank will never call. MPI ends the processes; a ``ThreadGroup``
  /// makes the others' collectives throw.
  func abort(message: String)
}

extension Communicator {
  /// ``broadcast(_:root:)`` of a tensor's values.
  public func broadcast(_ tensor: inout Tensor, root: Int = 0) throws {
    try tensor.withUnsafeMutableBufferPointer {
      try broadcast(UnsafeMutableRawBufferPointer($0), root: root)
    }
  }

  /// ``broadcast(_:root:)`` of an array of 64-bit words.
  public func broadcast(_ words: inout [UInt64], root: Int = 0) throws {
    try words.withUnsafeMutableBytes { try broadcast($0, root: root) }
  }

  /// ``allreduceSum(_:)-(UnsafeMutableBufferPointer<Double>)`` of an array.
  public func allreduceSum(_ values: inout [Double]) throws {
    try values.withUnsafeMutableBufferPointer { try allreduceSum($0) }
  }
}

/// One process alone: rank 0 of 1; every collective leaves its buffer as it is.
public final class SingleProcess: Communicator {
  /// The communicator of a run that is not distributed.
  public init() {}
  /// Always 0.
  public var rank: Int { 0 }
  /// Always 1.
  public var size: Int { 1 }
  /// Nothing to add.
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {}
  /// Nothing to add.
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {}
  /// Nothing to send.
  public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {}
  /// `value` itself.
  public func allreduceMax(_ value: Int32) throws -> Int32 { value }
  /// Returns at once.
  public func barrier() throws {}
  /// Nothing to tell: the error reaches the caller.
  public func abort(message: String) {}
}

/// Ranks as threads of one process: ``ThreadGroup/make(size:)`` returns one communicator per rank, to
/// be used each from its own thread. Sums are taken in rank order, so results are deterministic and
/// the same on every rank. For tests and for trying distributed code without MPI.
public final class ThreadGroup: Communicator {
  /// What the ranks share: the buffers they brought to the current collective, and a generation
  /// counter that moves when a collective completes.
  final class Shared: @unchecked Sendable {
    let size: Int
    let condition = NSCondition()
    var arrived = 0
    var generation = 0
    var buffers: [UnsafeMutableRawPointer?]
    var byteCount = 0
    var failure: String?
    init(size: Int) {
      self.size = size
      buffers = Array(repeating: nil, count: size)
    }
  }

  /// This rank's index.
  public let rank: Int
  /// The number of threads in the group.
  public var size: Int { shared.size }
  let shared: Shared

  init(rank: Int, shared: Shared) {
    self.rank = rank
    self.shared = shared
  }

  /// `size` communicators of one group, rank 0 first.
  /// - Throws: for a size below 1.
  public static func make(size: Int) throws -> [ThreadGroup] {
    try checkArgument(
      size >= 1,
      owner: "ThreadGroup", argument: "size", value: "\(size)", expected: "at least 1")
    let shared = Shared(size: size)
    return (0..<size).map { ThreadGroup(rank: $0, shared: shared) }
  }

  /// Runs `body` with every rank's communicator on its own thread and returns each rank's result in
  /// rank order; an error on a rank aborts the group and is rethrown (the first one).
  public static func run<Result: Sendable>(
    size: Int, _ body: @escaping @Sendable (ThreadGroup) throws -> Result
  ) throws -> [Result] {
    let group = try make(size: size)
    let results = Mutex<[Int: Result]>([:])
    let errors = Mutex<[Int: String]>([:])
    let done = DispatchGroup()
    for communicator in group {
      done.enter()
      let box = UncheckedBox((communicator, done))
      Thread.detachNewThread {
        let (communicator, done) = box.value
        do {
          let value = try body(communicator)
          results.withLock { $0[communicator.rank] = value }
        } catch {
          communicator.abort(message: "\(error)")
          errors.withLock { $0[communicator.rank] = "\(error)" }
        }
        done.leave()
      }
    }
    done.wait()
    if let (rank, message) = errors.withLock({ $0.min { $0.key < $1.key } }) {
      throw StrataError.invalidState("rank \(rank) of \(size) failed: \(message)")
    }
    return results.withLock { values in (0..<size).compactMap { values[$0] } }
  }

  /// Waits for every rank to bring its buffer, lets `combine` run once (on the last to arrive) over
  /// all of them, then waits until every rank has taken its result.
  private func collective(
    _ buffer: UnsafeMutableRawPointer?, bytes: Int, combine: ([UnsafeMutableRawPointer?]) -> Void
  ) throws {
    let shared = self.shared
    shared.condition.lock()
    defer { shared.condition.unlock() }
    if let failure = shared.failure { throw StrataError.invalidState(failure) }
    if shared.arrived == 0 {
      shared.byteCount = bytes
    } else if shared.byteCount != bytes {
      let message =
        "rank \(rank) called a collective with \(bytes) bytes, the others with \(shared.byteCount)"
      shared.failure = message
      shared.condition.broadcast()
      throw StrataError.invalidState(message)
    }
    shared.buffers[rank] = buffer
    shared.arrived += 1
    let generation = shared.generation
    if shared.arrived == shared.size {
      combine(shared.buffers)
      shared.arrived = 0
      shared.generation += 1
      shared.condition.broadcast()
      return
    }
    while shared.generation == generation && shared.failure == nil { shared.condition.wait() }
    if shared.generation == generation, let failure = shared.failure {
      throw StrataError.invalidState(failure)
    }
  }

  private func sum<Element: FloatingPoint>(
    _ buffer: UnsafeMutableBufferPointer<Element>
  ) throws {
    let count = buffer.count
    try collective(
      UnsafeMutableRawPointer(buffer.baseAddress), bytes: count * MemoryLayout<Element>.stride
    ) { all in
      guard count > 0 else { return }
      let ranks = all.compactMap { $0?.assumingMemoryBound(to: Element.self) }
      guard ranks.count == all.count else { return }
      // Rank order, element by element: the same sum whichever thread computes it.
      for i in 0..<count {
        var total = ranks[0][i]
        for r in 1..<ranks.count { total += ranks[r][i] }
        for r in ranks.indices { ranks[r][i] = total }
      }
    }
  }

  /// The sum over the ranks, in rank order.
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws { try sum(buffer) }
  /// The sum over the ranks, in rank order.
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws { try sum(buffer) }

  /// `root`'s bytes into every rank's buffer.
  public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
    try checkArgument(
      (0..<size).contains(root),
      owner: "ThreadGroup.broadcast", argument: "root", value: "\(root)",
      expected: "a rank from 0 to \(size - 1)")
    let count = buffer.count
    try collective(buffer.baseAddress, bytes: count) { all in
      guard count > 0 else { return }
      guard let source = all[root] else { return }
      for case let (r, target?) in all.enumerated() where r != root {
        target.copyMemory(from: source, byteCount: count)
      }
    }
  }

  /// The largest value over the ranks.
  public func allreduceMax(_ value: Int32) throws -> Int32 {
    var value = value
    try withUnsafeMutablePointer(to: &value) { pointer in
      try collective(UnsafeMutableRawPointer(pointer), bytes: 4) { all in
        let values = all.compactMap { $0?.assumingMemoryBound(to: Int32.self) }
        let largest = values.map(\.pointee).max() ?? 0
        for v in values { v.pointee = largest }
      }
    }
    return value
  }

  /// Waits for every rank.
  public func barrier() throws { try collective(nil, bytes: 0) { _ in } }

  /// Makes every rank's current and next collective throw with `message`.
  public func abort(message: String) {
    shared.condition.lock()
    if shared.failure == nil { shared.failure = "rank \(rank) of \(size) failed: \(message)" }
    shared.condition.broadcast()
    shared.condition.unlock()
  }
}

/// Carries a value the caller knows to be used safely across a thread hop.
struct UncheckedBox<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}
