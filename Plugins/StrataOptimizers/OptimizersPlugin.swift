import StrataCore

/// Registers every built-in optimizer; names match in any case (`"adam"`, `"Adam"`), as in Keras.
public enum OptimizersPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(
      types: SGD.self, RMSprop.self, Adagrad.self, Adadelta.self, Adam.self, AdamW.self,
      Adamax.self, Nadam.self, ExponentialDecay.self, PiecewiseConstantDecay.self,
      InverseTimeDecay.self, PolynomialDecay.self, CosineDecay.self, CosineDecayRestarts.self)
  }
}
