import StrataCore

/// Announces ``OptimizersPlugin`` as a built-in when this module is linked (`BuiltInPlugins`).
@used @section("strata_plugins") let announceOptimizersPlugin: @convention(c) () -> Void = {
  BuiltInPlugins.announce(OptimizersPlugin.self, rank: 14)
}

/// Registers every built-in optimizer; names match in any case (`"adam"`, `"Adam"`), as in Keras.
public enum OptimizersPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(
      types: SGD.self, RMSprop.self, Adagrad.self, Adadelta.self, Adam.self, AdamW.self,
      Adamax.self, Nadam.self, ExponentialDecay.self, PiecewiseConstantDecay.self,
      InverseTimeDecay.self, PolynomialDecay.self, CosineDecay.self, CosineDecayRestarts.self)
  }
}
