import StrataCore
import Testing

/// An unknown name is an error that suggests the registered names closest to it.
@Test func unknownIdentifiersSuggestTheClosestNames() throws {
  let layers = Registry<Int>(kind: "layer")
  for name in ["Dense", "Dropout", "Flatten"] { try layers.register(name) { _ in 0 } }
  #expect(
    throws: StrataError.unknownIdentifier(kind: "layer", identifier: "Dens", suggestions: ["Dense"])
  ) {
    try layers.make("Dens")
  }
  let activations = Registry<Int>(kind: "activation")
  for name in ["softmax", "softplus", "relu"] { try activations.register(name) { _ in 0 } }
  do {
    _ = try activations.make("softmaks")
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
