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
  /// Where the plugin registers.
  public let registries: Registries

  /// A registrar for `package`'s identifiers in `registries`.
  public init(package: String, registries: Registries) {
    self.package = package == Registrar.builtInPackage ? nil : package
    self.registries = registries
  }

  /// Registers a layer, activation, initializer, loss, optimizer or metric type under its
  /// `identifier` (and `aliases`), in the registry of its kind: one path for every kind. Its config is
  /// decoded from Keras-style dictionaries by ``ConfigCoding``.
  public func register<R: Registrable>(_ type: R.Type, aliases: [String] = []) throws {
    try R.registry(in: registries).register(R.identifier, aliases: aliases, package: package) {
      config in
      R.upcast(try R(config: ConfigCoding.decode(R.Config.self, from: config, owner: R.identifier)))
    }
  }

  /// Registers a kernels backend under `identifier`.
  public func register(kernels: any Kernels, as identifier: String) throws {
    try registries.kernels.register(identifier, package: package) { _ in kernels }
  }
}

/// What a ``Registrar`` registers by type: a kind (layer, activation, …) with a Keras identifier and a
/// config. Each of ``Layer``, ``Activation``, ``Initializer``, ``Loss``, ``Optimizer`` and ``Metric``
/// refines it and says which registry holds its kind, so a conforming type needs nothing more.
/// `SendableMetatype`: factories made from the type run on any thread.
public protocol Registrable: SendableMetatype {
  /// What the registry of this kind hands out: `any Layer`, `any Activation`, …
  associatedtype Product
  associatedtype Config: Codable & Sendable
  /// The registry key: Keras' name.
  static var identifier: String { get }
  init(config: Config) throws
  /// The registry of this kind among `registries`.
  static func registry(in registries: Registries) -> Registry<Product>
  /// The value as the registry's product.
  static func upcast(_ value: Self) -> Product
}

extension Layer {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any Layer> {
    registries.layers
  }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any Layer { value }
}

extension Activation {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any Activation> {
    registries.activations
  }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any Activation { value }
}

extension Initializer {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any Initializer> {
    registries.initializers
  }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any Initializer { value }
}

extension Loss {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any Loss> { registries.losses }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any Loss { value }
}

extension Optimizer {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any Optimizer> {
    registries.optimizers
  }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any Optimizer { value }
}

extension Metric {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any Metric> {
    registries.metrics
  }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any Metric { value }
}
