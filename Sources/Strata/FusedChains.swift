import CStrataKernels
import StrataCore
import StrataLayers

/// A `BatchNormalization` not after a convolution, and the activation after it: one pass.
final class FusedNormalization: FusedChain {
  let nodes: [Int]
  let source: Int
  var residual: Int? { nil }
  let normalization: BatchNormalization
  var foldedNormalization: BatchNormalization? { normalization }
  /// `strata_bn_inference`'s activation code.
  let activation: Int32
  private let parameters: [Parameter]
  private var versions: [UInt64] = []
  private var scale: [Float] = [], shift: [Float] = []

  init(nodes: [Int], source: Int, normalization: BatchNormalization, activation: Int32) {
    self.nodes = nodes
    self.source = source
    self.normalization = normalization
    self.activation = activation
    parameters = normalization.statisticsParameters
  }

  private(set) var runs = 0

  func run(_ input: Tensor, residual: inout Tensor?, in context: Context) throws -> Tensor {
    try run(firstChannelsOf: input, inPlace: false)
  }

  /// The chain's output for `input`; with `inPlace`, for the first channels of each of its rows (a
  /// ``ConcatenationBlock``'s buffer), read where they are.
  func run(firstChannelsOf input: Tensor, inPlace: Bool) throws -> Tensor {
    runs += 1
    let current = parameters.map(\.version)
    if current != versions || scale.isEmpty {
      guard let (scale, shift) = normalization.inferenceScaleShift else {
        throw StrataError.invalidState("BatchNormalization: forward was called before build.")
      }
      (self.scale, self.shift, versions) = (scale, shift, current)
    }
    let channels = scale.count
    let stride = input.shape.last ?? 0
    guard stride == channels || (inPlace && stride > channels) else {
      throw StrataError.shapeMismatch(
        layer: "BatchNormalization", received: kerasShape(input.shape, batch: false),
        expected: "a last axis of \(channels)")
    }
    var output = Tensor(uninitializedPooledShape: Array(input.shape.dropLast()) + [channels])
    input.withUnsafeBufferPointer { x in
      output.withUnsafeMutableBufferPointer { y in
        strata_bn_inference_strided(
          x.baseAddress, stride, scale, shift, y.baseAddress, x.count / max(stride, 1), channels,
          activation)
      }
    }
    return output
  }
}

/// A `Dense` layer (no activation of its own) and the `BatchNormalization` after it, folded into one
/// product: `x · (W · diag(scale)) + (b · scale + shift)`, then the `Activation` layer after them, if
/// any.
final class FusedDense: FusedChain {
  let nodes: [Int]
  let source: Int
  var residual: Int? { nil }
  let dense: Dense
  let normalization: BatchNormalization
  var foldedNormalization: BatchNormalization? { normalization }
  let activation: (any Activation)?
  private(set) var runs = 0
  private let parameters: [Parameter]
  private var versions: [UInt64] = []
  private var kernel = Tensor(shape: [0])
  private var bias: [Float] = []

  init(
    nodes: [Int], source: Int, dense: Dense, normalization: BatchNormalization,
    activation: (any Activation)?
  ) {
    self.nodes = nodes
    self.source = source
    self.dense = dense
    self.normalization = normalization
    self.activation = activation
    parameters = dense.parameters + normalization.statisticsParameters
  }

  func run(_ input: Tensor, residual: inout Tensor?, in context: Context) throws -> Tensor {
    runs += 1
    guard let weights = dense.kernel else {
      throw StrataError.invalidState("Dense: forward was called before build.")
    }
    let (features, units) = (weights.shape[0], weights.shape[1])
    guard input.rank >= 2, input.shape.last == features else {
      throw StrataError.shapeMismatch(
        layer: "Dense", received: kerasShape(Array(input.shape.dropFirst())),
        expected: "a last axis of \(features), like (None, \(features))")
    }
    let current = parameters.map(\.version)
    if current != versions || bias.isEmpty {
      guard let (scale, shift) = normalization.inferenceScaleShift, scale.count == units else {
        throw StrataError.invalidState("BatchNormalization: forward was called before build.")
      }
      var folded = weights.value
      folded.withUnsafeMutableBufferPointer { w in
        for i in 0..<features {
          for u in 0..<units { w[i * units + u] *= scale[u] }
        }
      }
      let b = dense.bias?.value.scalars ?? [Float](repeating: 0, count: units)
      (kernel, bias, versions) = (
        folded, (0..<units).map { b[$0] * scale[$0] + shift[$0] }, current
      )
    }
    let rows = input.count / features
    let shape = Array(input.shape.dropLast()) + [units]
    var product = Tensor(uninitializedPooledShape: shape)
    context.kernels.gemm(input, kernel, into: &product, m: rows, n: units, k: features)
    bias.withUnsafeBufferPointer { b in
      product.withUnsafeMutableBufferPointer { context.kernels.addBias(b, to: $0) }
    }
    guard let activation, !activation.isIdentity else { return product }
    var output = Tensor(uninitializedPooledShape: shape)
    product.withUnsafeBufferPointer { z in
      output.withUnsafeMutableBufferPointer { activation.forward(z, into: $0, rowLength: units) }
    }
    return output
  }
}
