import Synchronization

/// The bounds Strata keeps to when a number from outside (a config, a file, a command-line option)
/// decides how much memory to take.
///
/// Every shape that comes from a user or a file goes through ``elementCount(of:owner:argument:)``
/// before anything is allocated, so a `units: 1e12` in a model's JSON or a `[2^31, 2^31]` tensor in a
/// crafted file is a thrown error that names the layer and the size, never a trap or an abort in the
/// allocator.
public enum Limits {
  /// The most elements one tensor may hold: 2^31 (8 GiB of Float32). Far above any layer of the
  /// models Strata trains on a CPU, far below what would exhaust a machine before the error is seen.
  public static let maximumTensorElements = 1 << 31
  /// The longest a model file, a JSON config or an IDX file may be before it is refused unread: 4 GiB.
  public static let maximumFileBytes = 1 << 32
}

/// The number of elements of `shape`, checked: every dimension non-negative, the product without
/// overflow and at most ``Limits/maximumTensorElements``.
/// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` naming `owner`,
///   `argument` and the shape received.
public func elementCount(of shape: [Int], owner: String, argument: String = "shape") throws -> Int {
  func refuse(_ expected: String) -> StrataError {
    .invalidArgument(owner: owner, argument: argument, value: "\(shape)", expected: expected)
  }
  var count = 1
  for dimension in shape {
    guard dimension >= 0 else { throw refuse("no negative dimension") }
    let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
    guard !overflow, product <= Limits.maximumTensorElements else {
      throw refuse("at most \(Limits.maximumTensorElements) elements in one tensor")
    }
    count = product
  }
  return count
}

/// A bound on the elements that weights may take while it is in force, so that loading a file cannot
/// allocate more than the file's own size justifies.
///
/// `ModelFile` binds one, sized by the tensors the file holds, while it builds the architecture the
/// file describes: a header that claims `units: 1048576` for a file of 155 KB is refused at the first
/// weight that does not fit, before that weight is allocated. ``Initializer/make(shape:generator:)``
/// charges every weight it creates to the budget in force, if any.
public final class AllocationBudget: Sendable {
  /// The budget in force for the current task or thread, if any.
  @TaskLocal public static var current: AllocationBudget?

  private let remaining: Mutex<Int>
  /// What the budget is for, named in the error (`"the file's tensors"`).
  public let purpose: String

  /// Whether the weights made under this budget are read from a file right after (every one of
  /// them, or the load fails): initializers then leave their memory unwritten (untouched pages
  /// until the file's values arrive) instead of drawing values that would be thrown away (VGG16
  /// would draw 138 M).
  public let valuesFollow: Bool

  /// A budget of `elements`, described in errors as `purpose`; `valuesFollow` when every weight
  /// made under it is then read from the file.
  public init(elements: Int, purpose: String, valuesFollow: Bool = false) {
    remaining = Mutex(elements)
    self.purpose = purpose
    self.valuesFollow = valuesFollow
  }

  /// Takes `count` elements from the budget.
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` when they do not fit.
  public func charge(_ count: Int, owner: String, shape: [Int]) throws {
    try remaining.withLock { left in
      try checkArgument(
        count <= left,
        owner: owner, argument: "shape", value: "\(shape)",
        expected: "a weight that fits in \(purpose) (\(left) elements left)")
      left -= count
    }
  }
}
