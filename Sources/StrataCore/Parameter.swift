import Synchronization

/// A weight of a layer (a kernel, a bias, a moving mean) with its gradient.
///
/// Layers and optimizers share a `Parameter` by reference: the layer writes `gradient` in `backward`,
/// the optimizer reads it and updates `value` in place.
public final class Parameter: @unchecked Sendable {
  /// The Keras weight name: `kernel`, `bias`, `alpha`, `moving_mean`.
  public let name: String
  /// The weight itself.
  public var value: Tensor {
    get { storedValue }
    set {
      storedValue = newValue
      version &+= 1
    }
    // In place: an optimizer writes a weight of 100 MB every step. (A `didSet` observer made
    // `value.withUnsafeMutableBufferPointer` copy the whole weight first, the copy holding a
    // reference while it was written.)
    _modify {
      version &+= 1
      yield &storedValue
    }
  }
  private var storedValue: Tensor
  /// Counts the writes to ``value`` (an optimizer's update, loaded weights): what is derived from the
  /// weight (an inference plan's folded kernel) is worked out again when it changed.
  public private(set) var version: UInt64 = 0
  /// `d(loss)/d(value)`, the same shape as `value`; written by the layer's `backward`.
  ///
  /// Zeros until first used: a model that only predicts (a loaded VGG16 holds 553 MB of weights)
  /// never allocates its gradients.
  public var gradient: Tensor {
    get {
      if let storedGradient { return storedGradient }
      let zeros = Tensor(shape: value.shape)
      storedGradient = zeros
      return zeros
    }
    set { storedGradient = newValue }
    _modify {
      if storedGradient == nil { storedGradient = Tensor(shape: value.shape) }
      yield &storedGradient!
    }
  }
  private var storedGradient: Tensor?
  /// Non-trainable parameters (batch normalization's moving statistics, the weights of a frozen layer)
  /// are saved and counted but never updated by an optimizer.
  public var isTrainable: Bool
  /// Adds its penalty to the loss and its gradient to ``gradient`` (Keras' `kernel_regularizer`).
  public var regularizer: (any Regularizer)?
  /// Applied to the value after each optimizer update (Keras' `kernel_constraint`).
  public var constraint: (any Constraint)?
  /// Whether the weight is trainable by nature (a kernel, not a moving mean): what it goes back to when
  /// its layer is unfrozen.
  public let isTrainableByNature: Bool

  /// A weight with a zero gradient of its shape (allocated when first used).
  public init(name: String, value: Tensor, isTrainable: Bool = true) {
    self.name = name
    storedValue = value
    self.isTrainable = isTrainable
    isTrainableByNature = isTrainable
    ParameterTracker.current?.record(self)
  }

  /// The weight's shape.
  public var shape: [Int] { value.shape }
  /// Its number of scalars.
  public var count: Int { value.count }
}

/// Records every ``Parameter`` made while it is in force (a task-local), so a conformance check can
/// tell whether a layer lists in ``Layer/parameters`` every weight its `build` created: a weight it
/// forgets would never be trained, saved or counted.
public final class ParameterTracker: Sendable {
  /// The tracker in force for the current task, if any.
  @TaskLocal public static var current: ParameterTracker?
  private let made = Mutex<[Parameter]>([])

  /// A new instance, with nothing cached yet.
  public init() {}

  func record(_ parameter: Parameter) { made.withLock { $0.append(parameter) } }

  /// The parameters made while this tracker was in force, in order.
  public var parameters: [Parameter] { made.withLock { $0 } }
}
