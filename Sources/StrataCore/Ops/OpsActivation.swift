/// An activation written forward-only with ``Ops``; its backward pass comes from a ``GradientTape``.
///
/// ```swift
/// public struct Swish: OpsActivation {
///   public static let identifier = "my_swish"
///   public init(config: NoConfig = NoConfig()) {}
///   public func call(_ x: Tensor) throws -> Tensor { try x * Ops.sigmoid(x) }
/// }
/// ```
///
/// `x` is the whole batch with its last axis as it is in the layer (for row-wise functions). The
/// buffers are copied into tensors and back: built-ins use ``VectorActivation`` for speed.
/// `call` must return `x`'s shape; a formula that throws is a bug in the plugin and stops the program
/// with its error.
public protocol OpsActivation: Activation {
  /// `f(x)` on ops.
  func call(_ x: Tensor) throws -> Tensor
}

extension OpsActivation {
  public func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    let input = tensor(x, rowLength: rowLength)
    let output = evaluate { try Ops.running(kernels: Ops.kernels, layer: nil) { try call(input) } }
    output.withUnsafeBufferPointer { _ = y.update(fromContentsOf: $0) }
  }

  public func backward(
    input x: UnsafeBufferPointer<Float>, output y: UnsafeBufferPointer<Float>,
    outputGradient dy: UnsafeBufferPointer<Float>, into dx: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    let gradient = evaluate {
      let tape = GradientTape()
      let input = tape.watch(tensor(x, rowLength: rowLength))
      let output = try tape.record(layer: "activation \(Self.identifier)") { try call(input) }
      return try tape.gradients(of: output, seed: tensor(dy, rowLength: rowLength), for: [input])
        .tensors[0]
    }
    gradient.withUnsafeBufferPointer { _ = dx.update(fromContentsOf: $0) }
  }

  private func tensor(_ buffer: UnsafeBufferPointer<Float>, rowLength: Int) -> Tensor {
    let row = Swift.max(rowLength, 1)
    var x = Tensor(shape: buffer.count % row == 0 ? [buffer.count / row, row] : [buffer.count])
    x.withUnsafeMutableBufferPointer { _ = $0.update(fromContentsOf: buffer) }
    return x
  }

  private func evaluate(_ body: () throws -> Tensor) -> Tensor {
    do {
      return try body()
    } catch {
      fatalError("The activation \(Self.identifier) failed on its own input: \(error)")
    }
  }
}
