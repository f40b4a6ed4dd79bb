import StrataCore

/// What the element-wise merge layers share: inputs of one shape, or of shapes that broadcast to
/// one (Keras 3: `Multiply()([x, se])` with `x` of `(None, 8, 8, 32)` and `se` of `(None, 1, 1, 32)`,
/// as squeeze-and-excitation blocks do), and an output of that shape.
public protocol ElementwiseMerge: MergeLayer where Config == NoConfig {
  /// The fewest inputs the layer takes (2), and the most (`nil`: any number).
  static var inputCount: (minimum: Int, maximum: Int?) { get }
  /// The output of `inputs`, all of the output's size, written into `output`.
  func combine(
    _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>)
  /// Each input's gradient given the output's, written into `gradients`.
  func split(
    _ outputGradient: UnsafeBufferPointer<Float>, inputs: [UnsafeBufferPointer<Float>],
    into gradients: [UnsafeMutableBufferPointer<Float>])
  /// Whether ``split(_:inputs:into:)`` reads the inputs (they are kept from `forward` when it does).
  var keepsInputs: Bool { get }
  /// What `forward` keeps for `backward`.
  var saved: MergeState { get }
  /// The operation on two inputs, for a layer that is one (`+`, `*`): inference then runs it in one
  /// pass, a per-sample input (`(None, 1, 1, C)`) broadcast as it goes instead of expanded first.
  var pairwise: ((SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>)? { get }
}

/// The per-call state of an element-wise merge layer.
public final class MergeState {
  /// The output shape without the batch axis, once built.
  public var shape: [Int] = []
  /// Each input's shape without the batch axis, once built: ``shape`` or one that broadcasts to it.
  public var inputShapes: [[Int]] = []
  /// The inputs of the last training `forward`, when the layer needs them.
  public var inputs: [Tensor] = []
  /// How many inputs the last `forward` took.
  public var count = 0
  /// A new state.
  public init() {}
}

extension ElementwiseMerge {
  /// No arguments.
  public var config: NoConfig { NoConfig() }
  /// None: the inputs go through ``combine(_:into:)``.
  public var pairwise: ((SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>)? { nil }
  /// Two inputs or more.
  public static var inputCount: (minimum: Int, maximum: Int?) { (2, nil) }
  /// Checks the number and shapes of the inputs: of one rank, each axis equal or 1 (broadcast), as
  /// Keras 3's merge layers take them.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    let (minimum, maximum) = Self.inputCount
    try checkArgument(
      inputShapes.count >= minimum && (inputShapes.count <= (maximum ?? Int.max)),
      owner: Self.identifier, argument: "inputs", value: "\(inputShapes.count) tensors",
      expected: maximum == minimum ? "exactly \(minimum)" : "at least \(minimum)")
    var shape = inputShapes[0]
    for other in inputShapes.dropFirst() {
      guard other.count == shape.count,
        let broadcast = try? Ops.broadcastShape(shape, other, op: Self.identifier)
      else {
        throw StrataError.shapeMismatch(
          layer: Self.identifier,
          received: inputShapes.map { kerasShape($0) }.joined(separator: ", "),
          expected: "inputs of one shape, or of one rank with axes equal or 1 (broadcast)")
      }
      shape = broadcast
    }
    saved.shape = shape
    saved.inputShapes = inputShapes
    return shape
  }

  /// Combines a batch of each input.
  public func forward(_ inputs: [Tensor], in context: Context) throws -> Tensor {
    try checkArgument(
      inputs.count >= Self.inputCount.minimum,
      owner: Self.identifier, argument: "inputs", value: "\(inputs.count) tensors",
      expected: "at least \(Self.inputCount.minimum)")
    let expected = saved.inputShapes.count == inputs.count ? saved.inputShapes : []
    if !context.isTraining, inputs.count == 2, let pairwise,
      let output = try inferencePair(inputs, expected: expected, pairwise)
    {
      saved.count = 2
      return output
    }
    var inputs = inputs
    for (i, input) in inputs.enumerated() {
      let shape = expected.isEmpty ? saved.shape : expected[i]
      try checkInput(input, layer: Self.identifier, expected: shape)
      // A broadcast input is repeated to the output's shape first.
      if shape != saved.shape { inputs[i] = Ops.expand(input, to: [input.shape[0]] + saved.shape) }
    }
    var output = Tensor(uninitializedPooledShape: inputs[0].shape)  // combine writes all
    withBuffers(inputs) { buffers in
      output.withUnsafeMutableBufferPointer { combine(buffers, into: $0) }
    }
    saved.count = inputs.count
    if context.isTraining && keepsInputs { saved.inputs = inputs }
    return output
  }

  /// Two inputs in one pass: of the output's shape, or one of them a row per sample
  /// (`(None, 1, …, 1, C)`) repeated over the other's rows. `nil` for other shapes.
  private func inferencePair(
    _ inputs: [Tensor], expected: [[Int]],
    _ pairwise: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>
  ) throws -> Tensor? {
    for (i, input) in inputs.enumerated() {
      try checkInput(
        input, layer: Self.identifier, expected: expected.isEmpty ? saved.shape : expected[i])
    }
    let (a, b) = (inputs[0], inputs[1])
    let batch = a.shape[0], full = [batch] + saved.shape
    let channels = saved.shape.last ?? 1
    func isRow(_ t: Tensor) -> Bool {
      t.shape.dropFirst().dropLast().allSatisfy { $0 == 1 } && t.shape.last == channels
        && t.shape.count == full.count
    }
    let bothFull = a.shape == full && b.shape == full
    let rowSecond = a.shape == full && isRow(b), rowFirst = b.shape == full && isRow(a)
    guard bothFull || rowSecond || rowFirst else { return nil }
    var output = Tensor(uninitializedPooledShape: full)
    let (big, row) = rowFirst ? (b, a) : (a, b)
    output.withUnsafeMutableBufferPointer { out in
      big.withUnsafeBufferPointer { x in
        row.withUnsafeBufferPointer { r in
          if bothFull { return simdZip(x, r, into: out, pairwise) }
          let perSample = out.count / max(batch, 1)
          for n in 0..<batch {
            let s = UnsafeBufferPointer(rebasing: r[(n * channels)..<((n + 1) * channels)])
            var start = n * perSample
            while start < (n + 1) * perSample {
              let rows = UnsafeBufferPointer(rebasing: x[start..<(start + channels)])
              let target = UnsafeMutableBufferPointer(rebasing: out[start..<(start + channels)])
              if rowFirst {
                simdZip(s, rows, into: target, pairwise)
              } else {
                simdZip(rows, s, into: target, pairwise)
              }
              start += channels
            }
          }
        }
      }
    }
    return output
  }

  /// Each input's gradient.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> [Tensor] {
    if saved.count == 0 || (keepsInputs && saved.inputs.isEmpty) {
      throw missingForward(Self.identifier)
    }
    var gradients = (0..<saved.count).map { _ in Tensor(shape: outputGradient.shape) }
    withBuffers(saved.inputs) { inputs in
      outputGradient.withUnsafeBufferPointer { dy in
        withMutableBuffers(&gradients) { split(dy, inputs: inputs, into: $0) }
      }
    }
    // A broadcast input's gradient is summed over the axes it was repeated along.
    for (i, shape) in saved.inputShapes.enumerated()
    where i < gradients.count && shape != saved.shape {
      gradients[i] = Ops.reduce(gradients[i], to: [outputGradient.shape[0]] + shape)
    }
    return gradients
  }

  /// The inputs are read back in `backward` only when the gradient needs them.
  public var keepsInputs: Bool { false }
}

private func withBuffers<R>(
  _ tensors: [Tensor], _ body: ([UnsafeBufferPointer<Float>]) -> R
) -> R {
  func nest(_ index: Int, _ collected: [UnsafeBufferPointer<Float>]) -> R {
    if index == tensors.count { return body(collected) }
    return tensors[index].withUnsafeBufferPointer { nest(index + 1, collected + [$0]) }
  }
  return nest(0, [])
}

private func withMutableBuffers<R>(
  _ tensors: inout [Tensor], _ body: ([UnsafeMutableBufferPointer<Float>]) -> R
) -> R {
  // Each gradient tensor is freshly made and uniquely owned: its storage stays put during `body`.
  let buffers = tensors.indices.map { i in
    tensors[i].withUnsafeMutableBufferPointer { $0 }
  }
  return body(buffers)
}

/// Writes the element-wise sum of `inputs` into `output`.
private func sum(
  _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>
) {
  _ = output.initialize(from: inputs[0])
  for input in inputs.dropFirst() { simdZip(UnsafeBufferPointer(output), input, into: output, +) }
}

/// The sum of its inputs. Keras: `Add()`.
public final class Add: ElementwiseMerge {
  /// The registry key: Keras' `Add`.
  public static let identifier = "Add"
  /// What `forward` keeps for `backward`.
  public let saved = MergeState()
  /// A new layer.
  public init(config: NoConfig = NoConfig()) {}
  /// The output of the inputs, element by element.
  public func combine(
    _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>
  ) {
    sum(inputs, into: output)
  }
  /// `a + b`.
  public var pairwise: ((SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>)? { (+) }
  /// Each input's gradient from the output's.
  public func split(
    _ dy: UnsafeBufferPointer<Float>, inputs: [UnsafeBufferPointer<Float>],
    into gradients: [UnsafeMutableBufferPointer<Float>]
  ) {
    for dx in gradients { _ = dx.initialize(from: dy) }
  }
}

/// The first input minus the second. Keras: `Subtract()`.
public final class Subtract: ElementwiseMerge {
  /// The registry key: Keras' `Subtract`.
  public static let identifier = "Subtract"
  /// Exactly two inputs.
  public static let inputCount: (minimum: Int, maximum: Int?) = (2, 2)
  /// What `forward` keeps for `backward`.
  public let saved = MergeState()
  /// A new layer.
  public init(config: NoConfig = NoConfig()) {}
  /// The output of the inputs, element by element.
  public func combine(
    _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>
  ) {
    simdZip(inputs[0], inputs[1], into: output, -)
  }
  /// Each input's gradient from the output's.
  public func split(
    _ dy: UnsafeBufferPointer<Float>, inputs: [UnsafeBufferPointer<Float>],
    into gradients: [UnsafeMutableBufferPointer<Float>]
  ) {
    _ = gradients[0].initialize(from: dy)
    simdMap(dy, into: gradients[1]) { -$0 }
  }
}

/// The element-wise product of its inputs. Keras: `Multiply()`.
public final class Multiply: ElementwiseMerge {
  /// The registry key: Keras' `Multiply`.
  public static let identifier = "Multiply"
  /// What `forward` keeps for `backward`.
  public let saved = MergeState()
  /// `backward` reads the inputs.
  public var keepsInputs: Bool { true }
  /// A new layer.
  public init(config: NoConfig = NoConfig()) {}
  /// The output of the inputs, element by element.
  public func combine(
    _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>
  ) {
    _ = output.initialize(from: inputs[0])
    for input in inputs.dropFirst() { simdZip(UnsafeBufferPointer(output), input, into: output, *) }
  }
  /// `a · b`.
  public var pairwise: ((SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>)? { (*) }
  /// Each input's gradient from the output's.
  public func split(
    _ dy: UnsafeBufferPointer<Float>, inputs: [UnsafeBufferPointer<Float>],
    into gradients: [UnsafeMutableBufferPointer<Float>]
  ) {
    for (i, dx) in gradients.enumerated() {
      _ = dx.initialize(from: dy)
      for (j, input) in inputs.enumerated() where j != i {
        simdZip(UnsafeBufferPointer(dx), input, into: dx, *)
      }
    }
  }
}

/// The element-wise mean of its inputs. Keras: `Average()`.
public final class Average: ElementwiseMerge {
  /// The registry key: Keras' `Average`.
  public static let identifier = "Average"
  /// What `forward` keeps for `backward`.
  public let saved = MergeState()
  /// A new layer.
  public init(config: NoConfig = NoConfig()) {}
  /// The output of the inputs, element by element.
  public func combine(
    _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>
  ) {
    sum(inputs, into: output)
    let scale = 1 / Float(inputs.count)
    simdMap(UnsafeBufferPointer(output), into: output) { $0 * scale }
  }
  /// Each input's gradient from the output's.
  public func split(
    _ dy: UnsafeBufferPointer<Float>, inputs: [UnsafeBufferPointer<Float>],
    into gradients: [UnsafeMutableBufferPointer<Float>]
  ) {
    let scale = 1 / Float(gradients.count)
    for dx in gradients { simdMap(dy, into: dx) { $0 * scale } }
  }
}

/// The element-wise maximum or minimum of its inputs; on a tie the earliest input gets the gradient,
/// as TensorFlow's `maximum` and `minimum` give it. `Maximum` and `Minimum` are its two kinds.
public class ElementwiseExtremum: ElementwiseMerge {
  /// The registry key of each kind.
  public class var identifier: String { "Maximum" }
  /// `true` for the maximum.
  class var greater: Bool { true }
  /// What `forward` keeps for `backward`.
  public let saved = MergeState()
  /// `backward` reads the inputs.
  public var keepsInputs: Bool { true }
  /// A new layer.
  public required init(config: NoConfig = NoConfig()) {}
  /// The output of the inputs, element by element.
  public func combine(
    _ inputs: [UnsafeBufferPointer<Float>], into output: UnsafeMutableBufferPointer<Float>
  ) {
    for i in 0..<output.count {
      output[i] = inputs[winner(inputs, at: i, greater: Self.greater)][i]
    }
  }
  /// Each input's gradient from the output's.
  public func split(
    _ dy: UnsafeBufferPointer<Float>, inputs: [UnsafeBufferPointer<Float>],
    into gradients: [UnsafeMutableBufferPointer<Float>]
  ) {
    for dx in gradients { dx.initialize(repeating: 0) }
    for i in 0..<dy.count { gradients[winner(inputs, at: i, greater: Self.greater)][i] = dy[i] }
  }
}

/// The element-wise maximum of its inputs. Keras: `Maximum()`.
public final class Maximum: ElementwiseExtremum {
  /// The registry key.
  public override class var identifier: String { "Maximum" }
}

/// The element-wise minimum of its inputs. Keras: `Minimum()`.
public final class Minimum: ElementwiseExtremum {
  /// The registry key.
  public override class var identifier: String { "Minimum" }
  override class var greater: Bool { false }
}

/// The index of the winning input for each element: the first one holding the maximum (minimum). NaN
/// propagates: a NaN input wins.
private func winner(_ inputs: [UnsafeBufferPointer<Float>], at i: Int, greater: Bool) -> Int {
  var best = 0
  for k in 1..<inputs.count {
    let value = inputs[k][i], current = inputs[best][i]
    if current.isNaN { break }
    if value.isNaN || (greater ? value > current : value < current) { best = k }
  }
  return best
}

/// Joins its inputs along an axis. Keras: `Concatenate(axis=-1)`.
public final class Concatenate: MergeLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `axis`, counting the batch axis (`-1`: the last).
    public var axis: Int = -1

    /// Keras' defaults.
    public init() {}

    /// The arguments given, Keras' defaults for the others.
    public init(axis: Int = Config().axis) {
      self.axis = axis
    }
  }
  /// The registry key: Keras' `Concatenate`.
  public static let identifier = "Concatenate"
  /// The Keras arguments.
  public let config: Config
  private var inputShapes: [[Int]] = []
  /// The axis of a sample (without the batch axis) the inputs are joined along.
  private var sampleAxis = 0

  /// Made from Keras' arguments (a bad one is refused by name).
  public init(config: Config = Config()) throws {
    try checkArgument(
      config.axis != 0,
      owner: "Concatenate", argument: "axis", value: "0",
      expected: "an axis other than the batch axis")
    self.config = config
  }

  /// `Concatenate(axis: 1)`.
  public convenience init(axis: Int) throws { try self.init(config: Config(axis: axis)) }

  /// Checks that the shapes differ only along the axis; returns the joined shape.
  public func build(inputShapes: [[Int]], generator: inout SeededGenerator) throws -> [Int] {
    try checkArgument(
      inputShapes.count >= 2,
      owner: "Concatenate", argument: "inputs", value: "\(inputShapes.count) tensors",
      expected: "at least 2")
    let rank = inputShapes[0].count + 1
    let axis = config.axis < 0 ? rank + config.axis : config.axis
    try checkArgument(
      axis >= 1 && axis < rank,
      owner: "Concatenate", argument: "axis", value: "\(config.axis)",
      expected: "an axis of inputs of rank \(rank) other than the batch axis")
    let along = axis - 1
    func rest(_ shape: [Int]) -> [Int] {
      shape.enumerated().filter { $0.offset != along }.map(\.element)
    }
    for shape in inputShapes where shape.count != rank - 1 || rest(shape) != rest(inputShapes[0]) {
      throw StrataError.shapeMismatch(
        layer: "Concatenate",
        received: inputShapes.map { kerasShape($0) }.joined(separator: ", "),
        expected: "inputs whose shapes differ only along axis \(config.axis)")
    }
    self.inputShapes = inputShapes
    sampleAxis = along
    var output = inputShapes[0]
    var total = 0
    for shape in inputShapes {
      let (sum, overflow) = total.addingReportingOverflow(shape[along])
      try checkArgument(
        !overflow,
        owner: "Concatenate", argument: "inputs",
        value: inputShapes.map { kerasShape($0) }.joined(separator: ", "),
        expected: "an output of at most \(Limits.maximumTensorElements) elements per sample")
      total = sum
    }
    output[along] = total
    _ = try elementCount(of: output, owner: "Concatenate", argument: "output shape")
    return output
  }

  /// The sizes of a sample's blocks: (outer count, each input's inner run).
  private func runs() -> (outer: Int, inner: [Int]) {
    let outer = inputShapes[0][..<sampleAxis].reduce(1, *)
    let inner = inputShapes.map { $0[sampleAxis...].reduce(1, *) }
    return (outer, inner)
  }

  /// Joins a batch of each input along the axis.
  public func forward(_ inputs: [Tensor], in context: Context) throws -> Tensor {
    try checkArgument(
      inputs.count == inputShapes.count,
      owner: "Concatenate", argument: "inputs", value: "\(inputs.count) tensors",
      expected: "\(inputShapes.count), as built")
    for (input, shape) in zip(inputs, inputShapes) {
      try checkInput(input, layer: "Concatenate", expected: shape)
    }
    let batch = inputs[0].shape[0]
    var outputShape = inputShapes[0]
    outputShape[sampleAxis] = inputShapes.reduce(0) { $0 + $1[sampleAxis] }
    var output = Tensor(uninitializedPooledShape: [batch] + outputShape)
    let (outer, inner) = runs()
    let total = inner.reduce(0, +)
    output.withUnsafeMutableBufferPointer { out in
      var offset = 0
      for (input, run) in zip(inputs, inner) {
        input.withUnsafeBufferPointer { x in
          for block in 0..<(batch * outer) {
            (out.baseAddress! + block * total + offset).update(
              from: x.baseAddress! + block * run, count: run)
          }
        }
        offset += run
      }
    }
    return output
  }

  /// Each input's part of the output's gradient.
  public func backward(_ outputGradient: Tensor, in context: Context) throws -> [Tensor] {
    guard !inputShapes.isEmpty else { throw missingForward("Concatenate") }
    let batch = outputGradient.shape[0]
    let (outer, inner) = runs()
    let total = inner.reduce(0, +)
    var offset = 0
    return zip(inputShapes, inner).map { shape, run in
      var dx = Tensor(shape: [batch] + shape)
      outputGradient.withUnsafeBufferPointer { dy in
        dx.withUnsafeMutableBufferPointer { d in
          for block in 0..<(batch * outer) {
            (d.baseAddress! + block * run).update(
              from: dy.baseAddress! + block * total + offset, count: run)
          }
        }
      }
      offset += run
      return dx
    }
  }
}
