import Strata
import Testing

// What `import Strata` adds to the core: every built-in plugin, registered on the first look-up with
// no set-up call. (The registries themselves are tested in StrataCoreTests, with no built-ins linked.)

/// A layer for a plugin that tries to take a built-in's name: `y = x`.
private final class Passthrough: Layer {
  typealias Config = NoConfig
  static let identifier = "Passthrough"
  let config = NoConfig()
  init(config: NoConfig) {}
  func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] { inputShape }
  func forward(_ input: Tensor, in context: Context) throws -> Tensor { input }
  func backward(_ outputGradient: Tensor, in context: Context) throws -> Tensor { outputGradient }
}

/// The shared registries from many tasks at once, the first look-up among them; a misspelt built-in
/// gets the built-in's name suggested; a plugin may not take a built-in's name.
@Test func sharedRegistriesServeBuiltInsFromAnyTask() async throws {
  await withTaskGroup(of: Bool.self) { group in
    for _ in 0..<16 { group.addTask { (try? Registries.shared.activations.make("relu")) != nil } }
    for await ok in group { #expect(ok) }
  }
  #expect(
    throws: StrataError.unknownIdentifier(kind: "layer", identifier: "Dens", suggestions: ["Dense"])
  ) {
    try Registries.shared.layers.make("Dens")
  }
  #expect(throws: StrataError.duplicateIdentifier(kind: "layer", identifier: "Dense")) {
    try Registries.shared.layers.register("Dense", package: "Acme") { _ in
      Passthrough(config: NoConfig())
    }
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
