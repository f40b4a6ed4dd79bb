import StrataCore

/// Registers every built-in initializer under its Keras name and its Keras class name.
public enum InitializersPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(aliased: [
      (GlorotUniform.self, ["GlorotUniform"]),
      (GlorotNormal.self, ["GlorotNormal"]),
      (HeNormal.self, ["HeNormal"]),
      (HeUniform.self, ["HeUniform"]),
      (LecunNormal.self, ["LecunNormal"]),
      (LecunUniform.self, ["LecunUniform"]),
      (VarianceScaling.self, ["VarianceScaling"]),
      (RandomNormal.self, ["RandomNormal"]),
      (RandomUniform.self, ["RandomUniform"]),
      (TruncatedNormal.self, ["TruncatedNormal"]),
      (Zeros.self, ["Zeros", "zero"]),
      (Ones.self, ["Ones", "one"]),
      (Constant.self, ["Constant"]),
      (Orthogonal.self, ["Orthogonal", "orthogonal_initializer"]),
    ])
  }
}
