import Strata
import Testing

/// A layer for registry tests: `y = x`.
final class Passthrough: Layer {
  typealias Config = NoConfig
  static let identifier = "Passthrough"
  let config = NoConfig()
  init(config: NoConfig) {}
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] { inputShape }
  func forward(_ input: Tensor, in context: Context) throws -> Tensor { input }
  func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor { outputGradient }
}

@Test func unknownIdentifiersSuggestTheClosestNames() {
  #expect(
    throws: StrataError.unknownIdentifier(kind: "layer", identifier: "Dens", suggestions: ["Dense"])
  ) {
    try Registries.shared.layers.make("Dens")
  }
  do {
    _ = try Registries.shared.activations.make("softmaks")
    Issue.record("accepted an unknown name")
  } catch {
    #expect("\(error)" == "Unknown activation identifier 'softmaks'. Did you mean 'softmax'?")
  }
}

@Test func duplicateRegistrationThrows() throws {
  let registry = Registry<Int>(kind: "number")
  try registry.register("one") { _ in 1 }
  #expect(throws: StrataError.duplicateIdentifier(kind: "number", identifier: "one")) {
    try registry.register("one") { _ in 2 }
  }
  #expect(try registry.make("one") == 1)
  // A plugin may not take a built-in's name, not even as an alias.
  #expect(throws: StrataError.duplicateIdentifier(kind: "number", identifier: "one")) {
    try registry.register("uno", aliases: ["one"], package: "Acme") { _ in 3 }
  }
  // Against the shared registries: a built-in name is refused to a plugin.
  #expect(throws: StrataError.duplicateIdentifier(kind: "layer", identifier: "Dense")) {
    try Registries.shared.layers.register("Dense", package: "Acme") { _ in
      Passthrough(config: NoConfig())
    }
  }
}

@Test func pluginNamesAreQualifiedAndAmbiguityIsReported() throws {
  let registry = Registry<String>(kind: "thing")
  try registry.register("Widget", package: "Acme") { _ in "acme" }
  #expect(try registry.make("Widget") == "acme")
  #expect(try registry.make("Acme>Widget") == "acme")
  #expect(try registry.package(of: "Widget") == "Acme")
  try registry.register("Widget", package: "Globex") { _ in "globex" }
  #expect(try registry.make("Globex>Widget") == "globex")
  #expect(
    throws: StrataError.ambiguousIdentifier(
      kind: "thing", identifier: "Widget", candidates: ["Acme>Widget", "Globex>Widget"])
  ) {
    try registry.make("Widget")
  }
}

@Test func optimizerNamesIgnoreCaseLikeKeras() throws {
  let registry = Registry<Int>(kind: "optimizer", caseInsensitive: true)
  try registry.register("adam") { _ in 1 }
  #expect(try registry.make("Adam") == 1)
  #expect(try registry.make("ADAM") == 1)
  #expect(Registries.shared.optimizers.isCaseInsensitive)
  #expect(!Registries.shared.layers.isCaseInsensitive)
}

@Test func registriesAreSafeAcrossThreads() async throws {
  let registry = Registry<Int>(kind: "number")
  await withTaskGroup(of: Void.self) { group in
    for i in 0..<64 {
      group.addTask {
        try? registry.register("n\(i)") { _ in i }
        for j in 0..<50 { _ = try? registry.make("n\(j % (i + 1))") }
        _ = registry.names
      }
    }
  }
  #expect(registry.identifiers.count == 64)
  for i in 0..<64 { #expect(try registry.make("n\(i)") == i) }
  // The shared registries from many tasks at once, including the first look-up.
  await withTaskGroup(of: Bool.self) { group in
    for _ in 0..<16 { group.addTask { (try? Registries.shared.activations.make("relu")) != nil } }
    for await ok in group { #expect(ok) }
  }
}

@Test func builtInsAreRegisteredWithoutASetUpCall() {
  for name in ["Dense", "Flatten", "Dropout", "Activation", "Reshape", "InputLayer"] {
    #expect(Registries.shared.layers.contains(name))
  }
  for name in [
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform",
    "random_normal", "random_uniform", "truncated_normal", "zeros", "ones", "constant",
    "orthogonal",
  ] {
    #expect(Registries.shared.initializers.contains(name))
  }
}

/// The built-ins are one explicit list, each plugin once, kernels backends first.
@Test func builtInPluginsAreOneListInRegistrationOrder() {
  let names = BuiltIns.plugins.map { String(describing: $0) }
  let ours = [
    "SIMDPlugin", "BLASPlugin", "DNNLPlugin", "CPUPlugin", "ActivationsPlugin",
    "InitializersPlugin", "LayersPlugin", "LossesPlugin", "OptimizersPlugin", "MetricsPlugin",
    "ModelsPlugin",
  ]
  // Strata's own, in this order; a backend added beside them takes its rank among them.
  #expect(names.filter(ours.contains) == ours)
  #expect(Set(names).count == names.count)
  // Each is registered: its package is Strata's own.
  #expect(BuiltIns.plugins.allSatisfy { $0.package == Registrar.builtInPackage })
}

/// A type that conforms to `Registrable` itself, not through a kind, has no registry: registering it
/// is an error naming it, not a trap.
@Test func registeringATypeOfNoKindIsAnError() throws {
  struct Orphan: Registrable {
    typealias Product = Int
    static let identifier = "orphan"
    init(config: NoConfig) {}
  }
  let registrar = Registrar(package: "Tests", registries: .shared)
  #expect(throws: StrataError.self) { try registrar.register(Orphan.self) }
  do {
    try registrar.register(Orphan.self)
  } catch StrataError.invalidArgument(let owner, let argument, let value, _) {
    #expect(owner == "Registrar" && argument == "type" && value.hasPrefix("Orphan"))
  }
}
