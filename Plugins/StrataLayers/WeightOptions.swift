import StrataCore

/// What a layer with a kernel and a bias takes besides them, resolved once from its config: Keras'
/// `kernel_constraint`, `bias_constraint`, `kernel_regularizer`, `bias_regularizer` and
/// `activity_regularizer`.
struct WeightOptions {
  let kernelConstraint: (any Constraint)?
  let biasConstraint: (any Constraint)?
  let kernelRegularizer: (any Regularizer)?
  let biasRegularizer: (any Regularizer)?
  let activityRegularizer: (any Regularizer)?

  init(
    kernelConstraint: Spec?, biasConstraint: Spec?, kernelRegularizer: Spec?,
    biasRegularizer: Spec?, activityRegularizer: Spec?
  ) throws {
    let registries = Registries.shared
    self.kernelConstraint = try kernelConstraint.map { try registries.constraint($0) }
    self.biasConstraint = try biasConstraint.map { try registries.constraint($0) }
    self.kernelRegularizer = try kernelRegularizer.map { try registries.regularizer($0) }
    self.biasRegularizer = try biasRegularizer.map { try registries.regularizer($0) }
    self.activityRegularizer = try activityRegularizer.map { try registries.regularizer($0) }
  }

  /// Gives the new weights their constraints and regularizers.
  func attach(kernel: Parameter?, bias: Parameter?) {
    kernel?.constraint = kernelConstraint
    bias?.constraint = biasConstraint
    kernel?.regularizer = kernelRegularizer
    bias?.regularizer = biasRegularizer
  }
}
