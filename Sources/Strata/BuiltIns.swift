import StrataCore

/// Strata's built-in plugins, registered the first time any registry is used.
public enum BuiltIns {
  /// Every built-in plugin, in registration order.
  public static var plugins: [any Plugin.Type] {
    [
      SIMDPlugin.self, BLASPlugin.self, DNNLPlugin.self, CPUPlugin.self, ActivationsPlugin.self,
      InitializersPlugin.self, LayersPlugin.self, LossesPlugin.self, OptimizersPlugin.self,
      MetricsPlugin.self, ModelsPlugin.self,
    ]
  }
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
