import Foundation
@testable import Strata
import StrataCore
import Testing

/// Generated data: `count` samples of `shape`, labels of 3 classes that depend on the inputs.
func distributedData(count: Int, shape: [Int]) -> (x: Tensor, y: Tensor) {
  var generator = SeededGenerator(seed: 17)
  let size = shape.reduce(1, *)
  var x = Tensor(shape: [count] + shape)
  var labels = [Float](repeating: 0, count: count)
  x.withUnsafeMutableBufferPointer { values in
    for i in 0..<count {
      var sum: Float = 0
      for j in 0..<size {
        let v = Float.random(in: -1...1, using: &generator)
        values[i * size + j] = v
        sum += j % 2 == 0 ? v : -0.5 * v
      }
      labels[i] = sum > 0.5 ? 2 : sum > -0.5 ? 1 : 0
    }
  }
  return (x, Tensor(labels))
}

/// Carries test data into the rank threads (read only there).
struct Carried<Value>: @unchecked Sendable {
  let value: Value
  init(_ value: Value) { self.value = value }
}

enum DistributedModel: String, CaseIterable, Sendable {
  case mlp, cnn, batchNormalization

  var inputShape: [Int] { self == .mlp ? [16] : [8, 8, 1] }

  func make() throws -> Sequential {
    switch self {
    case .mlp:
      return try Sequential(
        [Dense(12, activation: "relu", inputShape: [16]), Dense(3, activation: "softmax")], seed: 3)
    case .cnn:
      return try Sequential(
        [
          Conv2D(4, kernelSize: 3, activation: "relu", inputShape: [8, 8, 1]), MaxPooling2D(),
          Flatten(), Dense(3, activation: "softmax"),
        ], seed: 3)
    case .batchNormalization:
      return try Sequential(
        [
          Conv2D(4, kernelSize: 3, inputShape: [8, 8, 1]), BatchNormalization(),
          ActivationLayer("relu"), Flatten(), Dropout(0.3), Dense(3, activation: "softmax"),
        ], seed: 3)
    }
  }
}

/// What one training run ends with.
struct RunResult: Sendable {
  var weights: [[Float]]
  var history: [String: [Float]]
  var iterations: Int
}

/// Trains `kind` with `optimizer` on `samples` generated samples at global batch 64, in one process
/// (`ranks` nil) or in a thread group of `ranks`; returns each rank's result.
func train(
  _ kind: DistributedModel, optimizer: String, samples: Int, epochs: Int = 1, ranks: Int?,
  callbacks: @escaping @Sendable () -> [any Callback] = { [] }
) throws -> [RunResult] {
  let (x, y) = distributedData(count: samples, shape: kind.inputShape)
  let data = Carried((x, y))
  let body: @Sendable (any Communicator) throws -> RunResult = { communicator in
    let model = try kind.make()
    model.communicator = communicator
    try model.compile(
      optimizer: optimizer, loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    let history = try model.fit(
      data.value.0, data.value.1, batchSize: 64, epochs: epochs, verbose: 0, callbacks: callbacks())
    return RunResult(
      weights: model.weights.map(\.scalars), history: history.history,
      iterations: model.optimizer?.iterations ?? 0)
  }
  guard let ranks else { return [try body(SingleProcess())] }
  return try ThreadGroup.run(size: ranks) { try body($0) }
}

/// The largest difference between two runs' weights, relative to the largest weight of each tensor.
func relativeDifference(_ a: RunResult, _ b: RunResult) -> Float {
  var worst: Float = 0
  for (x, y) in zip(a.weights, b.weights) {
    let scale = max(y.map(abs).max() ?? 0, 1e-3)
    for (u, v) in zip(x, y) { worst = max(worst, abs(u - v) / scale) }
  }
  return worst
}

@Suite("Distributed training")
struct DistributedTests {
  @Test("the thread group's collectives: sums in rank order, maximum, broadcast, barrier")
  func collectives() throws {
    let results = try ThreadGroup.run(size: 3) { communicator -> [Double] in
      var floats: [Float] = [1, 2, Float(communicator.rank)]
      try floats.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
      var doubles: [Double] = [0.1 * Double(communicator.rank + 1)]
      try communicator.allreduceSum(&doubles)
      let largest = try communicator.allreduceMax(Int32(communicator.rank == 1 ? 7 : 2))
      var words: [UInt64] = [UInt64(communicator.rank + 10), 5]
      try communicator.broadcast(&words, root: 2)
      try communicator.barrier()
      return floats.map { Double($0) } + doubles + [Double(largest)] + words.map { Double($0) }
    }
    for result in results { #expect(result == [3, 6, 3, (0.1 + 0.2) + 0.3, 7, 12, 5]) }
  }

  @Test(
    "N ranks train as one process at the same global batch",
    arguments: [
      (DistributedModel.mlp, "sgd", 2), (.mlp, "adam", 3), (.cnn, "sgd", 3), (.cnn, "adam", 2),
    ])
  func matchesOneProcess(kind: DistributedModel, optimizer: String, ranks: Int) throws {
    // 20 steps of 64; then 1,000 samples, whose last batch of 40 splits unevenly.
    for samples in [1280, 1000] {
      let single = try train(kind, optimizer: optimizer, samples: samples, ranks: nil)[0]
      let distributed = try train(kind, optimizer: optimizer, samples: samples, ranks: ranks)
      for replica in distributed {
        #expect(replica.weights == distributed[0].weights, "replicas differ")
        #expect(replica.iterations == single.iterations)
      }
      let difference = relativeDifference(distributed[0], single)
      print(
        "Distributed \(kind) \(optimizer), \(ranks) ranks, \(samples) samples: weights within \(difference) (relative) of one process"
      )
      #expect(
        difference < 1e-6, "\(kind) \(optimizer) \(ranks) ranks, \(samples) samples: \(difference)")
      // The epoch's loss and accuracy are reduced exactly.
      for key in ["loss", "accuracy"] {
        let (a, b) = (distributed[0].history[key]![0], single.history[key]![0])
        #expect(abs(a - b) <= 1e-6 * max(abs(b), 1), "\(key): \(a) vs \(b)")
      }
      let again = try train(kind, optimizer: optimizer, samples: samples, ranks: ranks)
      #expect(again[0].weights == distributed[0].weights, "reruns differ")
    }
  }

  @Test("BatchNormalization and Dropout: replicas end identical, and each rank draws its own masks")
  func batchNormalizationReplicasAgree() throws {
    let results = try train(
      .batchNormalization, optimizer: "adam", samples: 640, epochs: 2, ranks: 2)
    #expect(results[0].weights == results[1].weights)
    let single = try train(
      .batchNormalization, optimizer: "adam", samples: 640, epochs: 2, ranks: nil)
    #expect(results[0].weights != single[0].weights)  // local batch statistics and masks differ
    #expect(results[0].iterations == single[0].iterations)
  }

  @Test("a run resumed from rank 0's backup ends as the uninterrupted run does")
  func resumesFromBackup() throws {
    let whole = try train(.batchNormalization, optimizer: "adam", samples: 320, epochs: 2, ranks: 2)
    let directory = temporaryURL("backup").deletingLastPathComponent().appendingPathComponent("b")
    let path = directory.path
    // The first run stops after epoch 1 and keeps its backup, as a run killed then would.
    _ = try train(
      .batchNormalization, optimizer: "adam", samples: 320, epochs: 1, ranks: 2,
      callbacks: { [BackupAndRestore(path, deleteCheckpoint: false)] })
    let resumed = try train(
      .batchNormalization, optimizer: "adam", samples: 320, epochs: 2, ranks: 2,
      callbacks: { [BackupAndRestore(path)] })
    #expect(resumed[0].weights == whole[0].weights)
    #expect(resumed[1].weights == whole[1].weights)
    #expect(resumed[0].history["loss"]?.count == 1)  // only epoch 2 ran
    #expect(resumed.map(\.iterations) == whole.map(\.iterations))
  }

  @Test("a stop asked for on one rank stops every rank after the same step")
  func stopOnOneRankStopsAll() throws {
    final class StopOnRankOne: Callback, @unchecked Sendable {
      func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {
        if model.communicator.rank == 1 && batch == 3 { model.stopTraining = true }
      }
    }
    let results = try train(
      .mlp, optimizer: "sgd", samples: 1280, epochs: 3, ranks: 3, callbacks: { [StopOnRankOne()] })
    // Asked for after step 4, added up with step 5's gradients: every rank stops after 5 steps.
    #expect(results.map(\.iterations) == [5, 5, 5])
    #expect(results[0].weights == results[2].weights)
  }

  @Test("an error on one rank ends every rank with its message instead of a hang")
  func errorOnOneRankAbortsAll() throws {
    final class FailOnRankTwo: GradientStage, @unchecked Sendable {
      let rank: Int
      var steps = 0
      init(rank: Int) { self.rank = rank }
      func process(_ parameters: [Parameter], rows: Int) throws {
        steps += 1
        if rank == 2 && steps == 3 { throw StrataError.invalidState("disk full on rank 2") }
      }
    }
    let (x, y) = distributedData(count: 640, shape: [16])
    let data = Carried((x, y))
    #expect {
      _ = try ThreadGroup.run(size: 3) { communicator in
        let model = try DistributedModel.mlp.make()
        model.communicator = communicator
        model.gradientStages = [FailOnRankTwo(rank: communicator.rank)]
        try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy")
        try model.fit(data.value.0, data.value.1, batchSize: 64, epochs: 1, verbose: 0)
      }
    } throws: { error in
      "\(error)".contains("rank 2 of 3 failed") && "\(error)".contains("disk full on rank 2")
    }
  }

  @Test("evaluate shares the work and adds up exactly")
  func evaluateMatches() throws {
    let (x, y) = distributedData(count: 333, shape: [16])
    let single = try DistributedModel.mlp.make()
    try single.compile(
      optimizer: "sgd", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    let expected = try single.evaluate(x, y, verbose: 0)
    let data = Carried((x, y))
    let logs = try ThreadGroup.run(size: 3) { communicator in
      let model = try DistributedModel.mlp.make()
      model.communicator = communicator
      try model.compile(
        optimizer: "sgd", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
      return try model.evaluate(data.value.0, data.value.1, batchSize: 50, verbose: 0)
    }
    for rank in logs {
      #expect(rank["accuracy"] == expected["accuracy"])
      #expect(abs(rank["loss"]! - expected["loss"]!) < 1e-6)
    }
  }
}
