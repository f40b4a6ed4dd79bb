import CMPI
import Foundation
import StrataCore

/// Open MPI as a ``Communicator``: the same program from two local processes
/// (`mpirun -np 2 strata …`) to many hosts (`--hostfile`). Only the thread that created it calls MPI
/// (`MPI_THREAD_FUNNELED`); OpenBLAS and oneDNN keep their own threads.
///
/// ```swift
/// let model = try Sequential(…)
/// model.communicator = try MPICommunicator()   // rank and size from mpirun
/// try model.fit(x, y, batchSize: 64)            // the global batch, shared by the ranks
/// ```
///
/// MPI's errors come back as thrown errors naming the call; ``abort(message:)`` (which `fit` calls
/// after an error on one rank) prints the message and ends every rank with `MPI_Abort`.
public final class MPICommunicator: Communicator {
  /// This process's rank in `MPI_COMM_WORLD`.
  public let rank: Int
  /// The number of processes in `MPI_COMM_WORLD`.
  public let size: Int
  private let world = strata_mpi_comm_world()

  /// Whether this process was started by Open MPI's `mpirun` (its environment says so); started
  /// alone, MPI would make it rank 0 of 1.
  public static var isLaunchedByMPIRun: Bool {
    ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_SIZE"] != nil
  }

  /// Initializes MPI once per process (finalized when the process exits) and reads the rank and size.
  /// - Throws: ``StrataError/invalidState(_:)`` when MPI cannot start.
  public init() throws {
    var initialized: Int32 = 0
    MPI_Initialized(&initialized)
    if initialized == 0 {
      var provided: Int32 = 0
      guard
        MPI_Init_thread(nil, nil, strata_mpi_thread_funneled(), &provided) == strata_mpi_success()
      else { throw StrataError.invalidState("MPI_Init_thread failed: Open MPI could not start") }
      atexit {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
      }
    }
    strata_mpi_errors_return()
    var rank: Int32 = 0, size: Int32 = 0
    MPI_Comm_rank(world, &rank)
    MPI_Comm_size(world, &size)
    self.rank = Int(rank)
    self.size = Int(size)
  }

  private func check(_ code: Int32, _ call: String) throws {
    guard code != strata_mpi_success() else { return }
    var text = [CChar](repeating: 0, count: 512)
    var length: Int32 = 0
    MPI_Error_string(code, &text, &length)
    throw StrataError.invalidState(
      "rank \(rank) of \(size): \(call) failed: \(String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self))"
    )
  }

  /// Splits `count` elements into runs MPI's `Int32` counts can hold.
  private func chunks(_ count: Int, _ body: (Int, Int32) throws -> Void) rethrows {
    var start = 0
    while start < count {
      let length = min(count - start, Int(Int32.max))
      try body(start, Int32(length))
      start += length
    }
  }

  /// `MPI_Allreduce` in place, summing.
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
    guard let base = buffer.baseAddress else { return }
    try chunks(buffer.count) { start, count in
      try check(
        MPI_Allreduce(
          strata_mpi_in_place(), base + start, count, strata_mpi_float(), strata_mpi_sum(), world),
        "MPI_Allreduce")
    }
  }

  /// `MPI_Allreduce` in place, summing.
  public func allreduceSum(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
    guard let base = buffer.baseAddress else { return }
    try chunks(buffer.count) { start, count in
      try check(
        MPI_Allreduce(
          strata_mpi_in_place(), base + start, count, strata_mpi_double(), strata_mpi_sum(), world),
        "MPI_Allreduce")
    }
  }

  /// `MPI_Bcast` of the bytes.
  public func broadcast(_ buffer: UnsafeMutableRawBufferPointer, root: Int) throws {
    guard let base = buffer.baseAddress else { return }
    try chunks(buffer.count) { start, count in
      try check(
        MPI_Bcast(base + start, count, strata_mpi_byte(), Int32(root), world), "MPI_Bcast")
    }
  }

  /// `MPI_Allreduce` of one integer, taking the maximum.
  public func allreduceMax(_ value: Int32) throws -> Int32 {
    var value = value
    try check(
      MPI_Allreduce(strata_mpi_in_place(), &value, 1, strata_mpi_int(), strata_mpi_max(), world),
      "MPI_Allreduce")
    return value
  }

  /// `MPI_Barrier`.
  public func barrier() throws { try check(MPI_Barrier(world), "MPI_Barrier") }

  /// Prints `message` with the rank on standard error, then `MPI_Abort`: every rank ends.
  public func abort(message: String) {
    FileHandle.standardError.write(Data("rank \(rank) of \(size): \(message)\n".utf8))
    // A build instrumented for coverage writes its profile now: MPI_Abort ends the process
    // without the exit handlers that would.
    strata_write_coverage_profile()
    MPI_Abort(world, 1)
  }
}
