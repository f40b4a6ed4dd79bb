import StrataCore

/// Registers every built-in initializer under its Keras name and its Keras class name.
public enum InitializersPlugin: BuiltInPlugin {
  public static func register(in registrar: Registrar) throws {
    for preset in VarianceScaling.presets {
      try registrar.registries.initializers.register(
        preset.identifier, aliases: [preset.className], package: registrar.package
      ) { config in
        let seed = try ConfigCoding.decode(SeedConfig.self, from: config, owner: preset.identifier)
        return try VarianceScaling(
          config: .init(
            scale: preset.scale, mode: preset.mode, distribution: preset.distribution,
            seed: seed.seed))
      }
    }
    try registrar.register(aliased: [
      (VarianceScaling.self, ["VarianceScaling"]),
      (RandomNormal.self, ["RandomNormal", "normal"]),
      (RandomUniform.self, ["RandomUniform", "uniform"]),
      (TruncatedNormal.self, ["TruncatedNormal"]),
      (Zeros.self, ["Zeros", "zero"]),
      (Ones.self, ["Ones", "one"]),
      (Constant.self, ["Constant"]),
      (Orthogonal.self, ["Orthogonal", "orthogonal_initializer"]),
    ])
  }
}
