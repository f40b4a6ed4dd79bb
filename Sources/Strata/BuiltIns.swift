// `import Strata` gives an application the core and every built-in plugin's API, and registers every
// built-in plugin on the first registry look-up. A new built-in (a kernels backend, say) is its target
// in `Package.swift`'s `plugins` and its line in `BuiltIns.plugins`; a module whose types applications
// use is also exported here.
@_exported import StrataActivations
@_exported import StrataBLAS
@_exported import StrataCPU
@_exported import StrataCore
@_exported import StrataDNNL
@_exported import StrataInitializers
@_exported import StrataLayers
@_exported import StrataLosses
@_exported import StrataMetrics
@_exported import StrataOptimizers
@_exported import StrataSIMD

/// Strata's built-in plugins, registered the first time any registry is used.
public enum BuiltIns {
  /// Every built-in plugin, in registration order: the kernels backends first (SIMD, BLAS, oneDNN,
  /// then the default `cpu`, which combines them), then each kind's components.
  public static let plugins: [any Plugin.Type] = [
    SIMDPlugin.self, BLASPlugin.self, DNNLPlugin.self, CPUPlugin.self, ActivationsPlugin.self,
    InitializersPlugin.self, LayersPlugin.self, LossesPlugin.self, OptimizersPlugin.self,
    MetricsPlugin.self, ModelsPlugin.self,
  ]
}

/// Called once by the core on its first registry look-up (see `Sources/StrataAutoload`).
@_cdecl("strata_register_builtins")
func registerBuiltIns() {
  for plugin in BuiltIns.plugins {
    do {
      try Registries.shared.register(plugin)
    } catch {
      // Built-in names are fixed at compile time; a clash is a bug in Strata itself.
      fatalError("Strata's built-in plugin \(plugin) failed to register: \(error)")
    }
  }
}
