/// A module that adds layers, activations, losses, optimizers, initializers, metrics or kernels.
///
/// Each plugin module has one type conforming to `Plugin`. An application registers it once with
/// `try register(AcmePlugin.self)`; Strata's own built-ins are registered the same way, automatically.
public protocol Plugin {
  /// The package that namespaces the plugin's identifiers (`"Acme"` → `"Acme>LeakyReLU"`).
  /// `"Strata"` is reserved for the built-ins.
  static var package: String { get }
  /// Registers every identifier of the plugin.
  static func register(in registrar: Registrar) throws
}

/// What a ``Plugin`` registers its types with; it knows the plugin's package.
public struct Registrar {
  /// The package of Strata's own built-in plugins, whose identifiers are Keras' plain names.
  public static let builtInPackage = "Strata"

  /// The plugin's package, `nil` for Strata's built-ins (their names are not qualified).
  public let package: String?
  public let registries: Registries

  public init(package: String, registries: Registries) {
    self.package = package == Registrar.builtInPackage ? nil : package
    self.registries = registries
  }

  /// Registers a layer under its ``Layer/identifier``.
  public func register<L: Layer>(_ type: L.Type, aliases: [String] = []) throws {
    try registries.layers.register(L.identifier, aliases: aliases, package: package) { config in
      try L(config: ConfigCoding.decode(L.Config.self, from: config, owner: L.identifier))
    }
  }

  /// Registers an activation under its ``Activation/identifier``.
  public func register<A: Activation>(_ type: A.Type, aliases: [String] = []) throws {
    try registries.activations.register(A.identifier, aliases: aliases, package: package) { config in
      try A(config: ConfigCoding.decode(A.Config.self, from: config, owner: A.identifier))
    }
  }

  /// Registers an initializer under its ``Initializer/identifier``.
  public func register<I: Initializer>(_ type: I.Type, aliases: [String] = []) throws {
    try registries.initializers.register(I.identifier, aliases: aliases, package: package) { config in
      try I(config: ConfigCoding.decode(I.Config.self, from: config, owner: I.identifier))
    }
  }

  /// Registers a loss under its ``Loss/identifier``.
  public func register<L: Loss>(_ type: L.Type, aliases: [String] = []) throws {
    try registries.losses.register(L.identifier, aliases: aliases, package: package) { config in
      try L(config: ConfigCoding.decode(L.Config.self, from: config, owner: L.identifier))
    }
  }

  /// Registers an optimizer under its ``Optimizer/identifier``.
  public func register<O: Optimizer>(_ type: O.Type, aliases: [String] = []) throws {
    try registries.optimizers.register(O.identifier, aliases: aliases, package: package) { config in
      try O(config: ConfigCoding.decode(O.Config.self, from: config, owner: O.identifier))
    }
  }

  /// Registers a metric under its ``Metric/identifier``.
  public func register<M: Metric>(_ type: M.Type, aliases: [String] = []) throws {
    try registries.metrics.register(M.identifier, aliases: aliases, package: package) { config in
      try M(config: ConfigCoding.decode(M.Config.self, from: config, owner: M.identifier))
    }
  }

  /// Registers a kernels backend under `identifier`.
  public func register(kernels: any Kernels, as identifier: String) throws {
    try registries.kernels.register(identifier, package: package) { _ in kernels }
  }
}
