import StrataCore

/// Registers the package's identifiers: the `LeakyReLU`, `PReLU` and `Linear` layers and the `LeakyReLU`
/// activation. An application calls `try register(CustomLayersPlugin.self)` once.
public enum CustomLayersPlugin: Plugin {
  public static let package = "CustomLayers"
  public static func register(in registrar: Registrar) throws {
    try registrar.register(LeakyReLU.self)
    try registrar.register(PReLU.self)
    try registrar.register(Linear.self)
    try registrar.register(LeakyReLUFunction.self)
  }
}
