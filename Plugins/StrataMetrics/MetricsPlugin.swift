import StrataCore

/// Registers the built-in metrics. `"accuracy"` / `"acc"` are resolved by the model from the loss and
/// the shapes, as Keras does; any loss name also works as a metric.
public enum MetricsPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(aliased: [
      (Accuracy.self, ["acc", "Accuracy"]),
      (SparseCategoricalAccuracy.self, ["SparseCategoricalAccuracy"]),
      (CategoricalAccuracy.self, ["CategoricalAccuracy"]),
      (BinaryAccuracy.self, ["BinaryAccuracy"]),
      (TopKCategoricalAccuracy.self, ["TopKCategoricalAccuracy"]),
      (SparseTopKCategoricalAccuracy.self, ["SparseTopKCategoricalAccuracy"]),
      (MeanSquaredErrorMetric.self, ["mse", "MeanSquaredError"]),
      (MeanAbsoluteErrorMetric.self, ["mae", "MeanAbsoluteError"]),
      (Precision.self, ["precision"]),
      (Recall.self, ["recall"]),
      (AUC.self, ["auc"]),
      (F1Score.self, ["f1_score"]),
    ])
    try registrar.register(types: LossMetric.self)
  }
}
