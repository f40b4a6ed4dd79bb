import StrataCore

/// Registers every built-in loss under its Keras name, short aliases and class name.
public enum LossesPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(MeanSquaredError.self, aliases: ["mse", "MSE", "MeanSquaredError"])
    try registrar.register(MeanAbsoluteError.self, aliases: ["mae", "MAE", "MeanAbsoluteError"])
    try registrar.register(
      MeanAbsolutePercentageError.self, aliases: ["mape", "MAPE", "MeanAbsolutePercentageError"])
    try registrar.register(
      MeanSquaredLogarithmicError.self, aliases: ["msle", "MSLE", "MeanSquaredLogarithmicError"])
    try registrar.register(Hinge.self, aliases: ["Hinge"])
    try registrar.register(SquaredHinge.self, aliases: ["SquaredHinge"])
    try registrar.register(CategoricalHinge.self, aliases: ["CategoricalHinge"])
    try registrar.register(LogCosh.self, aliases: ["logcosh", "LogCosh"])
    try registrar.register(CategoricalCrossentropy.self, aliases: ["CategoricalCrossentropy"])
    try registrar.register(
      SparseCategoricalCrossentropy.self, aliases: ["SparseCategoricalCrossentropy"])
    try registrar.register(BinaryCrossentropy.self, aliases: ["BinaryCrossentropy"])
    try registrar.register(
      KLDivergence.self, aliases: ["kld", "KLD", "kullback_leibler_divergence", "KLDivergence"])
    try registrar.register(Poisson.self, aliases: ["Poisson"])
    try registrar.register(
      CosineSimilarity.self, aliases: ["cosine_proximity", "CosineSimilarity"])
    try registrar.register(Huber.self, aliases: ["huber_loss", "Huber"])
  }
}
