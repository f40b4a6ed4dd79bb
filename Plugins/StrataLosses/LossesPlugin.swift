import StrataCore

/// Registers every built-in loss under its Keras name, short aliases and class name.
public enum LossesPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(aliased: [
      (MeanSquaredError.self, ["mse", "MSE", "MeanSquaredError"]),
      (MeanAbsoluteError.self, ["mae", "MAE", "MeanAbsoluteError"]),
      (MeanAbsolutePercentageError.self, ["mape", "MAPE", "MeanAbsolutePercentageError"]),
      (MeanSquaredLogarithmicError.self, ["msle", "MSLE", "MeanSquaredLogarithmicError"]),
      (Hinge.self, ["Hinge"]),
      (SquaredHinge.self, ["SquaredHinge"]),
      (CategoricalHinge.self, ["CategoricalHinge"]),
      (LogCosh.self, ["logcosh", "LogCosh"]),
      (CategoricalCrossentropy.self, ["CategoricalCrossentropy"]),
      (SparseCategoricalCrossentropy.self, ["SparseCategoricalCrossentropy"]),
      (BinaryCrossentropy.self, ["BinaryCrossentropy"]),
      (KLDivergence.self, ["kld", "KLD", "kullback_leibler_divergence", "KLDivergence"]),
      (Poisson.self, ["Poisson"]),
      (CosineSimilarity.self, ["cosine_proximity", "CosineSimilarity"]),
      (Huber.self, ["huber_loss", "Huber"]),
    ])
  }
}
