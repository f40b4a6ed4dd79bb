import StrataCore

/// Compares a layer's `backward` with central finite differences, computed in Double.
///
/// The loss is `L = Σ w ⊙ layer(x)` with a random `w`. Inputs are drawn from ±[0.1, 1] so that kinks
/// (ReLU at 0) are not straddled. Every input and every trainable parameter is perturbed by ±`epsilon`.
/// The error of one derivative is `|analytic - numeric| / max(1, |analytic|, |numeric|)`: relative
/// for large derivatives, absolute for small ones.
///
/// - Parameters:
///   - layer: the layer, built or not (it is built for `inputShape` when it has no parameters yet and
///     needs them).
///   - inputShape: the input shape with the batch axis.
///   - input: an input to use instead of a random one.
/// - Returns: the largest error over all inputs and parameters.
public func maxGradientError(
  of layer: any Layer, inputShape: [Int], input: Tensor? = nil, epsilon: Float = 1e-2,
  seed: UInt64 = 7,
  kernels: any Kernels = ReferenceKernels(), build: Bool = true
) throws -> Double {
  var generator = SeededGenerator(seed: seed)
  if build { _ = try layer.build(inputShape: Array(inputShape.dropFirst()), generator: &generator) }
  let x = input ?? awayFromZero(inputShape, &generator)
  let context = Context(kernels: kernels, isTraining: true)
  let firstOutput = try layer.forward(x, in: context)
  var w = Tensor(shape: firstOutput.shape)
  w.withUnsafeMutableBufferPointer { values in
    for i in values.indices { values[i] = Float(generator.nextNormal()) }
  }
  let dx = try layer.backward(w, in: context)
  let trainable = layer.parameters.filter(\.isTrainable)
  let analyticParameters = trainable.map(\.gradient)

  func loss(_ input: Tensor) throws -> Double {
    let y = try layer.forward(input, in: context)
    var sum = 0.0
    y.withUnsafeBufferPointer { ys in
      w.withUnsafeBufferPointer { ws in for i in ys.indices { sum += Double(ys[i]) * Double(ws[i]) }
      }
    }
    return sum
  }
  var inputs = [x]
  return try perturbationError(
    inputs: &inputs, analytic: [dx], parameters: trainable, analyticParameters: analyticParameters,
    epsilon: epsilon, loss: { try loss($0[0]) })
}

/// The largest error between the analytic gradients of `inputs` and `parameters` and central
/// finite differences of `loss`, each element perturbed by ±`epsilon` in turn.
private func perturbationError(
  inputs: inout [Tensor], analytic: [Tensor], parameters: [Parameter],
  analyticParameters: [Tensor], epsilon: Float, loss: ([Tensor]) throws -> Double
) throws -> Double {
  func error(_ analytic: Float, _ numeric: Double) -> Double {
    abs(Double(analytic) - numeric) / max(1, abs(Double(analytic)), abs(numeric))
  }
  var worst = 0.0
  for (k, gradient) in zip(inputs.indices, analytic) {
    for i in 0..<inputs[k].count {
      let original = inputs[k].withUnsafeBufferPointer { $0[i] }
      inputs[k].withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
      let plus = try loss(inputs)
      inputs[k].withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
      let minus = try loss(inputs)
      inputs[k].withUnsafeMutableBufferPointer { $0[i] = original }
      let numeric = (plus - minus) / (2 * Double(epsilon))
      worst = max(worst, error(gradient.withUnsafeBufferPointer { $0[i] }, numeric))
    }
  }
  for (parameter, gradient) in zip(parameters, analyticParameters) {
    for i in 0..<parameter.count {
      let original = parameter.value.withUnsafeBufferPointer { $0[i] }
      parameter.value.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
      let plus = try loss(inputs)
      parameter.value.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
      let minus = try loss(inputs)
      parameter.value.withUnsafeMutableBufferPointer { $0[i] = original }
      let numeric = (plus - minus) / (2 * Double(epsilon))
      worst = max(worst, error(gradient.withUnsafeBufferPointer { $0[i] }, numeric))
    }
  }
  return worst
}

/// ``maxGradientError(of:inputShape:input:epsilon:seed:kernels:build:)`` for a layer of several
/// inputs: every element of every input (built for `inputShapes`, batch axis first, unless given
/// as `inputs`) and of every trainable weight is perturbed in turn.
public func maxGradientError(
  of layer: any MergeLayer, inputShapes: [[Int]], inputs given: [Tensor]? = nil,
  epsilon: Float = 1e-2, seed: UInt64 = 7, kernels: any Kernels = ReferenceKernels()
) throws -> Double {
  var generator = SeededGenerator(seed: seed)
  _ = try layer.build(inputShapes: inputShapes.map { Array($0.dropFirst()) }, generator: &generator)
  var inputs = given ?? inputShapes.map { awayFromZero($0, &generator) }
  let context = Context(kernels: kernels, isTraining: true)
  let firstOutput = try layer.forward(inputs, in: context)
  var w = Tensor(shape: firstOutput.shape)
  w.withUnsafeMutableBufferPointer { values in
    for i in values.indices { values[i] = Float(generator.nextNormal()) }
  }
  let gradients = try layer.backward(w, in: context)
  let trainable = layer.parameters.filter(\.isTrainable)
  let analyticParameters = trainable.map(\.gradient)
  return try perturbationError(
    inputs: &inputs, analytic: gradients, parameters: trainable,
    analyticParameters: analyticParameters, epsilon: epsilon
  ) { inputs in
    let y = try layer.forward(inputs, in: context)
    var sum = 0.0
    y.withUnsafeBufferPointer { ys in
      w.withUnsafeBufferPointer { ws in for i in ys.indices { sum += Double(ys[i]) * Double(ws[i]) }
      }
    }
    return sum
  }
}

/// Compares an activation's `backward` with central finite differences of `Σ w ⊙ f(x)`, in Double.
/// Inputs are drawn from ±[0.1, 1] (or given). Returns the largest error as ``maxGradientError(of:inputShape:input:epsilon:seed:kernels:build:)`` defines it.
public func maxGradientError(
  of activation: any Activation, shape: [Int], input: Tensor? = nil, epsilon: Float = 1e-2,
  seed: UInt64 = 7
) -> Double {
  var generator = SeededGenerator(seed: seed)
  var x = input ?? awayFromZero(shape, &generator)
  var w = Tensor(shape: x.shape)
  w.withUnsafeMutableBufferPointer { values in
    for i in values.indices { values[i] = Float(generator.nextNormal()) }
  }
  let dx = activation.gradient(at: x, upstream: w)
  func loss(_ input: Tensor) -> Double {
    let y = activation(input)
    var sum = 0.0
    y.withUnsafeBufferPointer { ys in
      w.withUnsafeBufferPointer { ws in for i in ys.indices { sum += Double(ys[i]) * Double(ws[i]) }
      }
    }
    return sum
  }
  var worst = 0.0
  for i in 0..<x.count {
    let original = x.withUnsafeBufferPointer { $0[i] }
    x.withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
    let plus = loss(x)
    x.withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
    let minus = loss(x)
    x.withUnsafeMutableBufferPointer { $0[i] = original }
    let numeric = (plus - minus) / (2 * Double(epsilon))
    let analytic = Double(dx.withUnsafeBufferPointer { $0[i] })
    worst = max(worst, abs(analytic - numeric) / max(1, abs(analytic), abs(numeric)))
  }
  return worst
}

/// A tensor of `shape` whose values are drawn uniformly from `range` with `generator`.
public func randomTensor(
  _ shape: [Int], in range: ClosedRange<Float> = -1...1, using generator: inout SeededGenerator
) throws -> Tensor {
  try Tensor(
    shape: shape,
    scalars: (0..<shape.reduce(1, *)).map { _ in Float.random(in: range, using: &generator) })
}

/// Values drawn from ±[0.1, 1]: away from the kinks at 0 that finite differences would straddle.
func awayFromZero(_ shape: [Int], _ generator: inout SeededGenerator) -> Tensor {
  var x = Tensor(shape: shape)
  x.withUnsafeMutableBufferPointer { values in
    for i in values.indices {
      let magnitude = 0.1 + 0.9 * generator.nextUniform()
      values[i] = generator.nextUniform() < 0.5 ? -magnitude : magnitude
    }
  }
  return x
}

/// Compares the gradients a ``GradientTape`` gives for a function of tensors written with ``Ops``
/// with central finite differences of `L = Σ w ⊙ f(inputs)` (random `w`), in Double. Every element of
/// every input is perturbed by ±`epsilon`. Returns the largest error as
/// ``maxGradientError(of:inputShape:input:epsilon:seed:kernels:build:)`` defines it.
public func maxGradientError(
  of function: ([Tensor]) throws -> Tensor, at inputs: [Tensor], epsilon: Float = 1e-2,
  seed: UInt64 = 7, kernels: any Kernels = ReferenceKernels()
) throws -> Double {
  var generator = SeededGenerator(seed: seed)
  return try Ops.withKernels(kernels) {
    let probe = try function(inputs)
    var w = Tensor(shape: probe.shape)
    w.withUnsafeMutableBufferPointer { values in
      for i in values.indices { values[i] = Float(generator.nextNormal()) }
    }
    let tape = GradientTape()
    let watched = inputs.map { tape.watch($0) }
    let output = try tape.record { try function(watched) }
    let analytic = try tape.gradients(of: output, seed: w, for: watched).tensors

    func loss(_ values: [Tensor]) throws -> Double {
      let y = try function(values)
      var sum = 0.0
      y.withUnsafeBufferPointer { ys in
        w.withUnsafeBufferPointer { ws in
          for i in ys.indices { sum += Double(ys[i]) * Double(ws[i]) }
        }
      }
      return sum
    }
    var values = inputs
    var worst = 0.0
    for (k, gradient) in analytic.enumerated() {
      for i in 0..<values[k].count {
        let original = values[k].withUnsafeBufferPointer { $0[i] }
        values[k].withUnsafeMutableBufferPointer { $0[i] = original + epsilon }
        let plus = try loss(values)
        values[k].withUnsafeMutableBufferPointer { $0[i] = original - epsilon }
        let minus = try loss(values)
        values[k].withUnsafeMutableBufferPointer { $0[i] = original }
        let numeric = (plus - minus) / (2 * Double(epsilon))
        let value = Double(gradient.withUnsafeBufferPointer { $0[i] })
        worst = max(worst, abs(value - numeric) / max(1, abs(value), abs(numeric)))
      }
    }
    return worst
  }
}

/// Values drawn from ±[0.1, 1] with a generator seeded with `seed`: away from the kinks at 0 that
/// finite differences would straddle.
public func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
  var generator = SeededGenerator(seed: seed)
  return awayFromZero(shape, &generator)
}
