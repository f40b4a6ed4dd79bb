import StrataCore

/// Registers the built-in layers under their Keras class names.
public enum LayersPlugin: Plugin {
  public static let package = Registrar.builtInPackage
  public static func register(in registrar: Registrar) throws {
    try registrar.register(InputLayer.self, aliases: ["Input"])
    try registrar.register(Dense.self)
    try registrar.register(Flatten.self)
    try registrar.register(Reshape.self)
    try registrar.register(Dropout.self)
    try registrar.register(ActivationLayer.self)
  }
}
