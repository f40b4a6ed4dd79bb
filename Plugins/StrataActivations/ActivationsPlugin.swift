import StrataCore

/// Registers every built-in activation under its Keras name and aliases.
public enum ActivationsPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    try registrar.register(
      types: Linear.self, ReLU.self, ReLU6.self, LeakyReLUActivation.self, ELU.self, SELU.self,
      Sigmoid.self, HardSigmoid.self, Tanh.self, Softmax.self, LogSoftmax.self, Softplus.self,
      Softsign.self, Exponential.self, GELU.self, Mish.self)
    try registrar.register(aliased: [
      (Swish.self, ["silu"]),
      (HardSwish.self, ["hard_silu"]),
    ])
  }
}
