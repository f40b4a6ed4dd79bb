import CZlib
import StrataCore

/// Sums every rank's gradients once per step: each rank's gradients (means over its rows) are weighted
/// by its rows and packed into one preallocated buffer, with the row count and a stop flag at the end;
/// one allreduce; then divided by the global row count, so ragged shares weigh right and N ranks step
/// exactly as one process on the whole global batch would, up to the order of the sums.
final class GradientAllreduce: GradientStage {
  let communicator: any Communicator
  private var buffer: [Float] = []
  /// Set before the step when this rank wants to stop (a callback set `stopTraining`).
  var stopRequested = false
  /// Whether any rank asked to stop, as of the last step.
  private(set) var stopAgreed = false

  init(communicator: any Communicator) { self.communicator = communicator }

  func process(_ parameters: [Parameter], rows: Int) throws {
    let total = parameters.reduce(0) { $0 + $1.count }
    if buffer.count != total + 2 { buffer = [Float](repeating: 0, count: total + 2) }
    let weight = Float(rows)
    buffer.withUnsafeMutableBufferPointer { packed in
      var offset = 0
      for parameter in parameters {
        parameter.gradient.withUnsafeBufferPointer { g in
          let target = UnsafeMutableBufferPointer(rebasing: packed[offset..<(offset + g.count)])
          if rows == 0 {
            target.update(repeating: 0)  // a rank without rows this step adds nothing
          } else {
            simdMap(g, into: target) { $0 * weight }
          }
        }
        offset += parameter.count
      }
      packed[total] = weight
      packed[total + 1] = stopRequested ? 1 : 0
    }
    try buffer.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
    let rowsSeen = buffer[total]
    stopAgreed = buffer[total + 1] > 0
    guard rowsSeen > 0 else { return }
    let scale = 1 / rowsSeen
    buffer.withUnsafeBufferPointer { packed in
      var offset = 0
      for parameter in parameters {
        parameter.gradient.withUnsafeMutableBufferPointer { g in
          simdMap(UnsafeBufferPointer(rebasing: packed[offset..<(offset + g.count)]), into: g) {
            $0 * scale
          }
        }
        offset += parameter.count
      }
    }
  }
}

/// Rank `rank`'s contiguous share of `range` split among `size` ranks (sizes differ by at most one).
func share(of range: Range<Int>, rank: Int, size: Int) -> Range<Int> {
  let base = range.count / size, extra = range.count % size
  let start = range.lowerBound + rank * base + min(rank, extra)
  return start..<(start + base + (rank < extra ? 1 : 0))
}

extension Model {
  /// Whether `fit` and `evaluate` share their work with other ranks.
  var isDistributed: Bool { communicator.size > 1 }

  /// Every rank must hold the same samples (each trains on its share of every global batch): the
  /// sample count, the shapes of inputs and targets and, for arrays in memory, a CRC-32 of every
  /// value and weight are compared with rank 0's. A difference is an error on every rank, naming
  /// what differs, before any step.
  func checkSameData(_ data: any Dataset, argument: String) throws {
    let local = dataFingerprint(data)
    var reference = local
    try communicator.broadcast(&reference)
    let differs = try communicator.allreduceMax(reference == local ? 0 : 1) > 0
    guard differs else { return }
    let what =
      reference[0] != local[0]
      ? "\(local[0]) samples where rank 0 has \(reference[0])"
      : reference[1] != local[1]
        ? "samples of other shapes than rank 0's" : "other values than rank 0's (CRC-32)"
    throw StrataError.invalidArgument(
      owner: "fit", argument: argument,
      value: reference == local
        ? "matching rank 0's on rank \(communicator.rank), but not on another rank"
        : "with \(what) on rank \(communicator.rank)",
      expected: "the same data on every rank (each trains on its share of every global batch)")
  }

  /// The sample count, a hash of the shapes and a CRC-32 of the values of arrays in memory.
  private func dataFingerprint(_ data: any Dataset) -> [UInt64] {
    var shapes: UInt64 = 14_695_981_039_346_656_037  // FNV-1a over every dimension
    for dimension in (data.inputShapes + [[-1]] + data.targetShapes).joined() {
      shapes = (shapes ^ UInt64(bitPattern: Int64(dimension))) &* 1_099_511_628_211
    }
    var crc: UInt = 0
    if let arrays = data as? ArrayDataset {
      for tensor in arrays.x + arrays.y + (arrays.sampleWeight.map { [$0] } ?? []) {
        tensor.withUnsafeBufferPointer { values in
          let bytes = UnsafeRawBufferPointer(values)
          var offset = 0
          while offset < bytes.count {  // zlib takes 32-bit lengths
            let length = min(bytes.count - offset, 1 << 30)
            crc = CZlib.crc32(
              crc, bytes.baseAddress!.assumingMemoryBound(to: Bytef.self) + offset, uInt(length))
            offset += length
          }
        }
      }
    }
    return [UInt64(data.count), shapes, UInt64(crc)]
  }

  /// Makes every rank's replica rank 0's: every weight (trainable or not), the optimizer's step count,
  /// learning rate and slots, the shuffling and dropout generators and the epoch to go on from.
  func synchronizeReplicas() throws {
    let communicator = self.communicator
    for parameter in parameters { try communicator.broadcast(&parameter.value) }
    if let optimizer = compiled?.optimizer {
      let local = optimizer.state
      var words: [UInt64] = [
        UInt64(optimizer.iterations), UInt64(optimizer.learningRate.bitPattern),
        UInt64(local.count),
      ]
      try communicator.broadcast(&words)
      let count = Int(words[2])
      var state = local
      if state.count != count {
        let perParameter = optimizer.kerasSlots.perParameter
        state = parameters.filter(\.isTrainable).flatMap {
          Array(repeating: Tensor(shape: $0.shape), count: perParameter)
        }
      }
      guard state.count == count else {
        throw StrataError.invalidState(
          "rank \(communicator.rank): the optimizer holds \(state.count) slots, rank 0's \(count)")
      }
      for index in state.indices { try communicator.broadcast(&state[index]) }
      if count > 0 || words[0] > 0 {
        try optimizer.restore(state: state, iterations: Int(words[0]), parameters: parameters)
      }
      optimizer.learningRate = Float(bitPattern: UInt32(truncatingIfNeeded: words[1]))
    }
    var shuffle = shuffleGenerator.state
    try communicator.broadcast(&shuffle)
    shuffleGenerator.state = shuffle
    try synchronizeGenerators()
    var epoch: [UInt64] = [UInt64(bitPattern: Int64(resumeEpoch ?? -1))]
    try communicator.broadcast(&epoch)
    let resumed = Int64(bitPattern: epoch[0])
    resumeEpoch = resumed >= 0 ? Int(resumed) : nil
  }

  /// Gives every random layer rank 0's generator state. Each rank draws for the whole global batch
  /// (``Context/globalBatch``), so the states stay equal; a rank left without rows in a last small
  /// batch skips its draws, which this puts right at the end of each epoch.
  func synchronizeGenerators() throws {
    for layer in layers {
      guard let random = layer as? any RandomizedLayer else { continue }
      var state = random.generatorState
      try communicator.broadcast(&state)
      random.generatorState = state
    }
  }

  /// Averages the weights that are not trained by gradients (BatchNormalization's moving statistics)
  /// over the ranks, so the replicas end each epoch identical.
  func averageMovingStatistics() throws {
    let moving = parameters.filter { !$0.isTrainableByNature }
    guard !moving.isEmpty else { return }
    var packed = [Float](repeating: 0, count: moving.reduce(0) { $0 + $1.count })
    var offset = 0
    for parameter in moving {
      parameter.value.withUnsafeBufferPointer { v in
        for i in 0..<v.count { packed[offset + i] = v[i] }
      }
      offset += parameter.count
    }
    try packed.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
    let scale = 1 / Float(communicator.size)
    offset = 0
    for parameter in moving {
      parameter.value.withUnsafeMutableBufferPointer { v in
        for i in 0..<v.count { v[i] = packed[offset + i] * scale }
      }
      offset += parameter.count
    }
  }

  /// Adds up an epoch's loss sums, penalty sum, sample count and metric statistics over the ranks:
  /// exact sums and counts, not averages of averages.
  func reduceEpoch(
    lossSums: inout [Double], penaltySum: inout Double, seen: inout Int, metrics: [RunningMetric]
  ) throws {
    var statistics = metrics.map { $0.metric.statistics }
    // Lengths first: a metric that saw no batch on some rank has no statistics there yet.
    for index in statistics.indices {
      let length = Int(try communicator.allreduceMax(Int32(statistics[index].count)))
      statistics[index] += [Double](repeating: 0, count: length - statistics[index].count)
    }
    var packed = lossSums + [penaltySum, Double(seen)] + statistics.flatMap { $0 }
    try communicator.allreduceSum(&packed)
    lossSums = Array(packed[0..<lossSums.count])
    penaltySum = packed[lossSums.count]
    seen = Int(packed[lossSums.count + 1])
    var offset = lossSums.count + 2
    for (metric, values) in zip(metrics, statistics) {
      metric.metric.statistics = Array(packed[offset..<(offset + values.count)])
      offset += values.count
    }
  }

  /// Runs `body`; an error on this rank ends the run on every rank (with its message) instead of
  /// leaving the others waiting in a collective.
  func abortingOnError<Result>(_ body: () throws -> Result) throws -> Result {
    guard isDistributed else { return try body() }
    do {
      return try body()
    } catch {
      communicator.abort(message: "\(error)")
      throw error
    }
  }
}
