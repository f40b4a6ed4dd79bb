import StrataCore

/// Registers every built-in optimizer; names match in any case (`"adam"`, `"Adam"`), as in Keras.
public enum OptimizersPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(SGD.self)
    try registrar.register(RMSprop.self)
    try registrar.register(Adagrad.self)
    try registrar.register(Adadelta.self)
    try registrar.register(Adam.self)
    try registrar.register(AdamW.self)
    try registrar.register(Adamax.self)
    try registrar.register(Nadam.self)
    try registrar.register(ExponentialDecay.self)
    try registrar.register(PiecewiseConstantDecay.self)
    try registrar.register(InverseTimeDecay.self)
    try registrar.register(PolynomialDecay.self)
    try registrar.register(CosineDecay.self)
    try registrar.register(CosineDecayRestarts.self)
  }
}
