import StrataCore

/// Registers the built-in metrics. `"accuracy"` / `"acc"` are resolved by the model from the loss and
/// the shapes, as Keras does; any loss name also works as a metric.
public enum MetricsPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(Accuracy.self, aliases: ["acc", "Accuracy"])
    try registrar.register(SparseCategoricalAccuracy.self, aliases: ["SparseCategoricalAccuracy"])
    try registrar.register(CategoricalAccuracy.self, aliases: ["CategoricalAccuracy"])
    try registrar.register(BinaryAccuracy.self, aliases: ["BinaryAccuracy"])
    try registrar.register(TopKCategoricalAccuracy.self, aliases: ["TopKCategoricalAccuracy"])
    try registrar.register(
      SparseTopKCategoricalAccuracy.self, aliases: ["SparseTopKCategoricalAccuracy"])
    try registrar.register(MeanSquaredErrorMetric.self, aliases: ["mse", "MeanSquaredError"])
    try registrar.register(MeanAbsoluteErrorMetric.self, aliases: ["mae", "MeanAbsoluteError"])
    try registrar.register(LossMetric.self)
    try registrar.register(Precision.self, aliases: ["precision"])
    try registrar.register(Recall.self, aliases: ["recall"])
    try registrar.register(AUC.self, aliases: ["auc"])
    try registrar.register(F1Score.self, aliases: ["f1_score"])
  }
}
