import CStrataHook
import Synchronization

/// A module that adds layers, activations, losses, optimizers, initializers, metrics or kernels.
///
/// Each plugin module has one type conforming to `Plugin`. An application registers it once with
/// `try register(AcmePlugin.self)`; Strata's own built-ins are registered the same way, automatically.
public protocol Plugin: SendableMetatype {
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
  /// - Throws: ``StrataError/invalidArgument(owner:argument:value:expected:)`` for a type that conforms
  ///   to `Registrable` directly rather than through one of the kinds, which has no registry.
  public func register<R: Registrable>(_ type: R.Type, aliases: [String] = []) throws {
    guard let registry = registries.registry(of: R.Product.self) else {
      throw StrataError.invalidArgument(
        owner: "Registrar", argument: "type", value: "\(R.self) (products \(R.Product.self))",
        expected:
          "a Layer, Activation, Initializer, Loss, Optimizer, Metric, Regularizer, Constraint or LearningRateSchedule"
      )
    }
    try registry.register(R.identifier, aliases: aliases, package: package) { config in
      R.upcast(try R(config: ConfigCoding.decode(R.Config.self, from: config, owner: R.identifier)))
    }
  }

  /// Registers several types, each under its `identifier` alone:
  /// `try registrar.register(types: ReLU.self, Sigmoid.self)`.
  public func register<each R: Registrable>(types: repeat (each R).Type) throws {
    for type in repeat each types { try register(type) }
  }

  /// Registers each type under its `identifier` and the aliases beside it:
  /// `try registrar.register(aliased: [(Conv2D.self, ["Convolution2D"]), (L2.self, ["l2"])])`.
  public func register(aliased entries: [(any Registrable.Type, [String])]) throws {
    for (type, aliases) in entries { try register(type, aliases: aliases) }
  }

  /// Registers a kernels backend under `identifier`.
  public func register(kernels: any Kernels, as identifier: String) throws {
    try registries.kernels.register(identifier, package: package) { _ in kernels }
  }
}

/// One of Strata's built-in plugins: its names are Strata's own (Keras' plain ones). The `Strata`
/// module lists them all (`BuiltIns.plugins`).
public protocol BuiltInPlugin: Plugin {}

extension BuiltInPlugin {
  /// Strata's own package: the names are Keras' plain ones.
  public static var package: String { Registrar.builtInPackage }
}

/// What a ``Registrar`` registers by type: a kind (layer, activation, …) with a Keras identifier and a
/// config. Each of ``Layer``, ``Activation``, ``Initializer``, ``Loss``, ``Optimizer``, ``Metric``,
/// ``Regularizer``, ``Constraint`` and ``LearningRateSchedule`` refines it with its `Product`
/// (`any Layer`, …), which names the registry of its kind, so a conforming type needs nothing more.
/// `SendableMetatype`: factories made from the type run on any thread.
public protocol Registrable: SendableMetatype {
  /// What the registry of this kind hands out: `any Layer`, `any Activation`, …
  associatedtype Product
  /// The Keras arguments; ``NoConfig`` for a type that takes none.
  associatedtype Config: Codable & Sendable = NoConfig
  /// The registry key: Keras' name (`"Dense"`, `"relu"`, `"glorot_uniform"`, `"adam"`, …; optimizers
  /// match in any case), with its aliases registered beside it.
  static var identifier: String { get }
  /// Made from Keras' arguments; a bad one is refused by name.
  init(config: Config) throws
  /// The Keras arguments it was made from.
  var config: Config { get }
}

extension Registrable {
  /// The value as the registry's product (`Self` conforms to the kind whose existential `Product` is,
  /// so the cast cannot fail).
  static func upcast(_ value: Self) -> Product { value as! Product }

  /// The config as a Keras-style dictionary (snake_case keys).
  public var configDictionary: ConfigDictionary { (try? ConfigCoding.encode(config)) ?? [:] }
}

extension Registrable where Config == NoConfig {
  /// No arguments.
  public var config: NoConfig { NoConfig() }
}

/// A component whose Keras arguments are all it holds, so it is its own config: a ``KerasConfig``
/// struct whose properties are the arguments, as Keras' own classes are (`L1(l1: 0.01)` is Keras'
/// `L1(l1=0.01)`), and whose `validate()` refuses a bad one by name, on every path that makes it.
///
/// ```swift
/// /// `l1 · Σ|x|`. Keras: `L1(l1=0.01)`.
/// public struct L1: Regularizer, SelfConfigured, Equatable {
///   public var l1: Float = 0.01
///   public static let identifier = "L1"
///   public init() {}
///   public init(l1: Float) throws { self.l1 = l1; try validate() }
///   public func validate() throws { try checkFactor(l1, "l1", owner: "L1") }
///   …
/// }
/// ```
public protocol SelfConfigured: Registrable, KerasConfig where Config == Self {
  /// Throws ``StrataError/invalidArgument(owner:argument:value:expected:)`` for a bad argument;
  /// by default every value is accepted.
  func validate() throws
}

extension SelfConfigured {
  /// Accepts every value.
  public func validate() throws {}
  /// `config`, once ``validate()`` accepts it.
  public init(config: Self) throws {
    try config.validate()
    self = config
  }
  /// Itself: its arguments are all it holds.
  public var config: Self { self }
}
