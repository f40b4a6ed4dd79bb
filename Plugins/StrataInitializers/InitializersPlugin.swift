import StrataCore

/// Registers every built-in initializer under its Keras name and its Keras class name.
public enum InitializersPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(GlorotUniform.self, aliases: ["GlorotUniform"])
    try registrar.register(GlorotNormal.self, aliases: ["GlorotNormal"])
    try registrar.register(HeNormal.self, aliases: ["HeNormal"])
    try registrar.register(HeUniform.self, aliases: ["HeUniform"])
    try registrar.register(LecunNormal.self, aliases: ["LecunNormal"])
    try registrar.register(LecunUniform.self, aliases: ["LecunUniform"])
    try registrar.register(VarianceScaling.self, aliases: ["VarianceScaling"])
    try registrar.register(RandomNormal.self, aliases: ["RandomNormal"])
    try registrar.register(RandomUniform.self, aliases: ["RandomUniform"])
    try registrar.register(TruncatedNormal.self, aliases: ["TruncatedNormal"])
    try registrar.register(Zeros.self, aliases: ["Zeros", "zero"])
    try registrar.register(Ones.self, aliases: ["Ones", "one"])
    try registrar.register(Constant.self, aliases: ["Constant"])
    try registrar.register(Orthogonal.self, aliases: ["Orthogonal", "orthogonal_initializer"])
  }
}
