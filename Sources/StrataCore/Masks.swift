/// Keras' masks: which steps of a sequence are real and which are padding, carried from the layer
/// that knows (`Embedding(mask_zero=True)`, `Masking`) to the layers that skip padding (recurrent
/// layers, `GlobalAveragePooling1D`). A mask is a tensor `[batch, steps]` of 1 (a real step) and 0.
///
/// Models carry masks as Keras does: a ``MaskingLayer`` makes its output's mask, a
/// ``MaskPreservingLayer`` passes its input's on, and any other layer drops it (Keras' layers
/// without `supports_masking`). A ``MaskReadingLayer`` is given its input's mask before each call.
public protocol MaskingLayer: Layer {
  /// The mask of the output for a batch `x` that carries `inputMask` (`nil`: none), or `nil`.
  func outputMask(for x: Tensor, inputMask: Tensor?) throws -> Tensor?
}

/// A layer whose output keeps its input's mask (Keras' `supports_masking` with the default
/// `compute_mask`): `Dense`, `Dropout`, activations, `LayerNormalization`.
public protocol MaskPreservingLayer: Layer {}

/// A layer that reads its input's mask (Keras' `call(inputs, mask=None)`): set before each call,
/// `nil` when the input carries none.
public protocol MaskReadingLayer: Layer {
  /// The mask of the input of the next call.
  var inputMask: Tensor? { get set }
}

extension Layer {
  /// Runs the layer on `x`, which carries `mask`, and returns the output and the output's mask.
  package func forward(_ x: Tensor, mask: Tensor?, in context: Context) throws -> (Tensor, Tensor?)
  {
    if let reader = self as? any MaskReadingLayer {
      if let mask { try checkMask(mask, for: x, layer: Self.identifier) }
      reader.inputMask = mask
    }
    let y = try forward(x, in: context)
    if let masking = self as? any MaskingLayer {
      return (y, try masking.outputMask(for: x, inputMask: mask))
    }
    return (y, self is any MaskPreservingLayer ? mask : nil)
  }
}

/// A layer of several inputs that reads their masks and gives its output's (Keras' `query_mask`,
/// `value_mask` of `MultiHeadAttention`): set before each call, one per input.
public protocol MaskReadingMergeLayer: MergeLayer {
  /// The mask of each input of the next call (`nil` where an input carries none).
  var inputMasks: [Tensor?] { get set }
  /// The output's mask for inputs carrying `inputMasks`.
  func outputMask(inputMasks: [Tensor?]) throws -> Tensor?
}

extension MergeLayer {
  /// Runs the layer on `xs`, which carry `masks`, and returns the output and its mask: a
  /// ``MaskReadingMergeLayer`` reads them and says; any other keeps the steps every input keeps.
  package func forward(_ xs: [Tensor], masks: [Tensor?], in context: Context) throws -> (
    Tensor, Tensor?
  ) {
    guard let reader = self as? any MaskReadingMergeLayer else {
      let given = masks.compactMap { $0 }
      let mask = try given.dropFirst().reduce(given.first) { all, next in
        try all.map { try $0 * next }
      }
      return (try forward(xs, in: context), mask)
    }
    for (x, mask) in zip(xs, masks) {
      if let mask { try checkMask(mask, for: x, layer: Self.identifier) }
    }
    reader.inputMasks = masks
    let y = try forward(xs, in: context)
    return (y, try reader.outputMask(inputMasks: masks))
  }
}

/// Refuses a mask that is not `(batch, steps)` of `x`, naming `layer`.
private func checkMask(_ mask: Tensor, for x: Tensor, layer: String) throws {
  guard mask.rank == 2, x.rank >= 2, Array(x.shape.prefix(2)) == mask.shape else {
    throw StrataError.shapeMismatch(
      layer: layer, received: "a mask of shape \(mask.shape)",
      expected: "a mask (batch, steps) for an input of shape \(x.shape)")
  }
}
