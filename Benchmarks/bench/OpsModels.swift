import Foundation
import Strata
import StrataCore
import StrataData

/// Keras' `Dense` written forward-only with ops, as a plugin author would: the tape differentiates it.
final class OpsDense: OpsLayer {
  struct Config: KerasConfig, Equatable {
    var units = 1
    var activation: Spec = "linear"
    init() {}
  }
  static let identifier = "bench>OpsDense"
  let config: Config
  private(set) var kernel: Parameter?
  private(set) var bias: Parameter?

  init(config: Config) throws { self.config = config }

  convenience init(_ units: Int, activation: Spec) throws {
    var config = Config()
    config.units = units
    config.activation = activation
    try self.init(config: config)
  }

  var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let initializer = try Registries.shared.initializer("glorot_uniform")
    kernel = Parameter(
      name: "kernel",
      value: try initializer.make(shape: [inputShape[0], config.units], generator: &generator))
    bias = Parameter(name: "bias", value: Tensor(shape: [config.units]))
    return [config.units]
  }

  func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let kernel, let bias else { throw StrataError.invalidState("OpsDense: not built") }
    return try Ops.activation(config.activation, Ops.matmul(x, kernel.value) + bias.value)
  }
}

/// `train mlp-ops b32`: the beginner MLP with its Dense layers written with ops, beside
/// `train mlp b32`; and the tape's memory for one of its steps.
func opsModelRows(_ options: Options) throws -> [Row] {
  guard options.wantsAny("train mlp-ops b32", "tape memory mlp-ops b32", "op buffers mlp-ops b32")
  else { return [] }
  let (train, _) = try FashionMNIST.load()
  let batch = 32, steps = options.quick ? 50 : 400
  let data = train.prefix(steps * batch)
  let x = data.normalizedImages(), y = data.labelTensor()
  let model = try Sequential(seed: 1)
  try model.add(Flatten(inputShape: [28, 28]))
  try model.add(OpsDense(128, activation: "relu"))
  try model.add(Dropout(0.2))
  try model.add(OpsDense(10, activation: "softmax"))
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  var rows: [Row] = []
  if options.wantsAny("train mlp-ops b32") {
    rows.append(
      try trainingRow(
        "train mlp-ops b32", model, x: x, y: y, batch: batch, steps: steps,
        note: "; Dense written with ops"))
  }
  if options.wantsAny("op buffers mlp-ops b32") {
    // Steps after the first take their op results' memory back from the pool.
    let few = 20
    let xs = try x.slice(rows: 0..<few * batch), ys = try y.slice(rows: 0..<few * batch)
    try model.fit(xs, ys, batchSize: batch, epochs: 1, verbose: 0, shuffle: false)
    let before = BufferPool.statistics
    try model.fit(xs, ys, batchSize: batch, epochs: 1, verbose: 0, shuffle: false)
    let after = BufferPool.statistics
    let fresh = Double(after.allocated - before.allocated) / Double(few)
    let reused = Double(after.reused - before.reused) / Double(few)
    rows.append(
      Row(
        name: "op buffers mlp-ops b32", backend: "cpu", shape: "\(few) steps",
        milliseconds: 0, rate: fresh, unit: "fresh/step",
        ofPeak: nil, overDirect: nil, validated: nil,
        note: String(format: "%.0f op results per step reuse a buffer", reused)))
  }
  if options.wantsAny("tape memory mlp-ops b32") {
    // One step's forward pass recorded on one tape: the Dense layers' ops and the loss.
    let hidden = model.layers[1] as! OpsDense, output = model.layers[3] as! OpsDense
    let tape = GradientTape()
    let sample = try x.slice(rows: 0..<batch).reshaped(to: [batch, 784])
    _ = try tape.record(watching: hidden.parameters + output.parameters) {
      let h = try hidden.call(sample, training: true)
      return try Ops.loss(
        "sparse_categorical_crossentropy", y.slice(rows: 0..<batch), output.call(h, training: true))
    }
    rows.append(
      Row(
        name: "tape memory mlp-ops b32", backend: "cpu", shape: "one step",
        milliseconds: 0, rate: Double(tape.recordedBytes) / 1024, unit: "KiB",
        ofPeak: nil, overDirect: nil, validated: nil,
        note: "\(tape.recordedCount) nodes; the values their pullbacks keep"))
  }
  return rows
}
