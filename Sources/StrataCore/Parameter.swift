/// A weight of a layer (a kernel, a bias, a moving mean) with its gradient.
///
/// Layers and optimizers share a `Parameter` by reference: the layer writes `gradient` in `backward`,
/// the optimizer reads it and updates `value` in place.
public final class Parameter: @unchecked Sendable {
  /// The Keras weight name: `kernel`, `bias`, `alpha`, `moving_mean`.
  public let name: String
  public var value: Tensor
  /// `d(loss)/d(value)`, the same shape as `value`; written by the layer's `backward`.
  public var gradient: Tensor
  /// Non-trainable parameters (batch normalization's moving statistics) are saved and counted but never
  /// updated by an optimizer.
  public var isTrainable: Bool

  public init(name: String, value: Tensor, isTrainable: Bool = true) {
    self.name = name
    self.value = value
    self.gradient = Tensor(shape: value.shape)
    self.isTrainable = isTrainable
  }

  public var shape: [Int] { value.shape }
  public var count: Int { value.count }
}
