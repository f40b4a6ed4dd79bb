import StrataCore

/// Registers every built-in activation under its Keras name and aliases.
public enum ActivationsPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(Linear.self)
    try registrar.register(ReLU.self)
    try registrar.register(ReLU6.self)
    try registrar.register(LeakyReLUActivation.self)
    try registrar.register(ELU.self)
    try registrar.register(SELU.self)
    try registrar.register(Sigmoid.self)
    try registrar.register(HardSigmoid.self)
    try registrar.register(Tanh.self)
    try registrar.register(Softmax.self)
    try registrar.register(LogSoftmax.self)
    try registrar.register(Softplus.self)
    try registrar.register(Softsign.self)
    try registrar.register(Exponential.self)
    try registrar.register(Swish.self, aliases: ["silu"])
    try registrar.register(HardSwish.self, aliases: ["hard_silu"])
    try registrar.register(GELU.self)
    try registrar.register(Mish.self)
  }
}
