import StrataCore

/// Announces ``LossesPlugin`` as a built-in when this module is linked (`BuiltInPlugins`).
@used @section("strata_plugins") let announceLossesPlugin: @convention(c) () -> Void = {
  BuiltInPlugins.announce(LossesPlugin.self, rank: 13)
}

/// Registers every built-in loss under its Keras name, short aliases and class name.
public enum LossesPlugin: Plugin {
  public static let package = Registrar.builtInPackage
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
