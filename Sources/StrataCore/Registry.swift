import CStrataHook
import Synchronization

/// A thread-safe table from string identifiers to factories: how `"relu"` becomes an activation.
///
/// Built-in identifiers are Keras' (`"Dense"`, `"relu"`, `"adam"`), with Keras' aliases. A plugin's
/// identifiers are registered under its package: `"LeakyReLU"` from package `Acme` is found as
/// `"Acme>LeakyReLU"` always, and as `"LeakyReLU"` while no other package registers that name.
public final class Registry<Product>: Sendable {
  /// Makes a product from a Keras-style config dictionary.
  public typealias Factory = @Sendable (_ config: ConfigDictionary) throws -> Product

  /// What this registry holds, for messages: `"layer"`, `"activation"`, …
  public let kind: String
  /// Optimizer names are matched in any case (`"adam"`, `"Adam"`), as in Keras.
  public let isCaseInsensitive: Bool

  private struct Entry: Sendable {
    var canonical: String
    var package: String?
    var factory: Factory
  }

  private struct State: Sendable {
    var entries: [String: Entry] = [:]  // key: normalized name (identifier, alias or package>name)
    // plain name → qualified names registered by several packages
    var ambiguous: [String: [String]] = [:]
    var canonicalNames: [String] = []  // one per registered product, in registration order
  }

  private let state = Mutex(State())

  /// An empty registry of `kind` (named in errors).
  public init(kind: String, caseInsensitive: Bool = false) {
    self.kind = kind
    self.isCaseInsensitive = caseInsensitive
  }

  private func key(_ name: String) -> String { isCaseInsensitive ? name.lowercased() : name }

  /// Registers `identifier` (and `aliases`) for `factory`.
  /// - Parameter package: the plugin's package; `nil` for Strata's built-ins.
  /// - Throws: ``StrataError/duplicateIdentifier(kind:identifier:)`` if a name is taken, including a
  ///   plugin name that collides with a built-in.
  public func register(
    _ identifier: String, aliases: [String] = [], package: String? = nil,
    factory: @escaping Factory
  ) throws {
    let qualified = package.map { "\($0)>\(identifier)" } ?? identifier
    try state.withLock { state in
      let plainNames = [identifier] + aliases
      var newKeys: [String] = []
      if package != nil { newKeys.append(key(qualified)) }
      for name in plainNames {
        let k = key(name)
        if let existing = state.entries[k], existing.package == nil || package == nil {
          throw StrataError.duplicateIdentifier(kind: kind, identifier: name)
        }
        newKeys.append(k)
      }
      if state.entries[key(qualified)] != nil {
        throw StrataError.duplicateIdentifier(kind: kind, identifier: qualified)
      }
      let entry = Entry(canonical: qualified, package: package, factory: factory)
      for k in newKeys {
        if let existing = state.entries[k], existing.canonical != qualified {
          // Two plugins share a plain name: only the qualified names find them from now on.
          state.ambiguous[k, default: [existing.canonical]].append(qualified)
          state.entries[k] = nil
        } else if state.ambiguous[k] != nil {
          state.ambiguous[k]!.append(qualified)
        } else {
          state.entries[k] = entry
        }
      }
      state.entries[key(qualified)] = entry
      state.canonicalNames.append(qualified)
    }
  }

  /// Makes the product registered as `identifier` from `config`.
  /// - Throws: ``StrataError/unknownIdentifier(kind:identifier:suggestions:)`` with the closest names,
  ///   or whatever the factory throws for a bad config.
  public func make(_ identifier: String, config: ConfigDictionary = [:]) throws -> Product {
    Registries.ensureBuiltIns()
    return try entry(identifier).factory(config)
  }

  /// The identifier under which `identifier` (possibly an alias) is registered.
  public func canonicalName(of identifier: String) throws -> String {
    Registries.ensureBuiltIns()
    return try entry(identifier).canonical
  }

  /// The package that registered `identifier`, `nil` for a built-in.
  public func package(of identifier: String) throws -> String? {
    Registries.ensureBuiltIns()
    return try entry(identifier).package
  }

  /// Whether `identifier` finds a product.
  public func contains(_ identifier: String) -> Bool {
    Registries.ensureBuiltIns()
    return (try? entry(identifier)) != nil
  }

  /// Every name that finds a product (identifiers, aliases and qualified plugin names), sorted.
  public var names: [String] {
    Registries.ensureBuiltIns()
    return state.withLock { state in
      Set(state.entries.values.map(\.canonical) + state.entries.keys).sorted()
    }
  }

  /// One identifier per registered product, in registration order.
  public var identifiers: [String] {
    Registries.ensureBuiltIns()
    return state.withLock { $0.canonicalNames }
  }

  private func entry(_ identifier: String) throws -> Entry {
    try state.withLock { state in
      let k = key(identifier)
      if let entry = state.entries[k] { return entry }
      if let candidates = state.ambiguous[k] {
        throw StrataError.ambiguousIdentifier(
          kind: kind, identifier: identifier, candidates: candidates.sorted())
      }
      let known = Array(Set(state.entries.values.map(\.canonical) + state.entries.keys))
      throw StrataError.unknownIdentifier(
        kind: kind, identifier: identifier, suggestions: closestNames(to: identifier, in: known))
    }
  }
}

/// Every registry Strata looks names up in.
public final class Registries: Sendable {
  /// The registries every model, layer and name look-up uses.
  public static let shared = Registries()

  /// Layers, by Keras class name (`"Dense"`).
  public let layers = Registry<any Layer>(kind: "layer")
  /// Activations (`"relu"`).
  public let activations = Registry<any Activation>(kind: "activation")
  /// Initializers (`"glorot_uniform"`).
  public let initializers = Registry<any Initializer>(kind: "initializer")
  /// Losses (`"mse"`).
  public let losses = Registry<any Loss>(kind: "loss")
  /// Optimizers, in any case (`"adam"`).
  public let optimizers = Registry<any Optimizer>(kind: "optimizer", caseInsensitive: true)
  /// Metrics (`"accuracy"`).
  public let metrics = Registry<any Metric>(kind: "metric")
  /// Regularizers (`"l2"`, `"L1L2"`).
  public let regularizers = Registry<any Regularizer>(kind: "regularizer")
  /// Weight constraints (`"max_norm"`, `"MaxNorm"`).
  public let constraints = Registry<any Constraint>(kind: "constraint")
  /// Learning-rate schedules (`"ExponentialDecay"`).
  public let schedules = Registry<any LearningRateSchedule>(kind: "learning rate schedule")
  /// Kernels backends (`"cpu"`, `"reference"`).
  public let kernels = Registry<any Kernels>(kind: "kernels backend")

  private let plugins = Mutex<Set<String>>([])

  /// The registry whose products are `Product` (`any Layer` → ``layers``), if there is one.
  func registry<Product>(of _: Product.Type) -> Registry<Product>? {
    let all: [AnyObject] = [
      layers, activations, initializers, losses, optimizers, metrics, regularizers, constraints,
      schedules, kernels,
    ]
    for case let registry as Registry<Product> in all { return registry }
    return nil
  }

  private init() {}

  private static let builtIns: Void = {
    // Set by the `Strata` module at program start; absent when only StrataCore is linked.
    strata_run_builtins_hook()
  }()

  /// Registers Strata's built-in plugins if the `Strata` module is linked. Called by every look-up;
  /// runs once per process.
  public static func ensureBuiltIns() { _ = builtIns }

  /// Registers a plugin's identifiers; calling it again for the same plugin type does nothing.
  /// - Throws: ``StrataError/duplicateIdentifier(kind:identifier:)`` if one of its names is taken.
  public func register(_ plugin: any Plugin.Type) throws {
    let isBuiltIn = plugin.package == Registrar.builtInPackage
    if !isBuiltIn { Registries.ensureBuiltIns() }
    let key = String(reflecting: plugin)
    guard plugins.withLock({ $0.insert(key).inserted }) else { return }
    do {
      let registrar = Registrar(package: plugin.package, registries: self)
      try plugin.register(in: registrar)
    } catch {
      _ = plugins.withLock { $0.remove(key) }
      throw error
    }
  }
}

/// Registers a third-party plugin with Strata in one call: `try register(AcmePlugin.self)`.
/// After it, the plugin's identifiers work wherever a built-in's do.
public func register(_ plugin: any Plugin.Type) throws {
  try Registries.shared.register(plugin)
}
