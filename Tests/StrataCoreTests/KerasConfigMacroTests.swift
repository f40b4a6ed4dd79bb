import StrataCore
import Testing

/// A config written the one way: each Keras default as the property's initial value.
@KerasConfig struct SampleConfig: Equatable {
  @Required var units: Int = 0
  var activation: Spec = "linear"
  var useBias: Bool = true
  var dropoutRate: Float = 0.25
  var seed: UInt64?
}

@Test("@KerasConfig writes the memberwise init, the defaults and the required arguments")
func kerasConfigMacroGeneratesMembers() throws {
  let given = SampleConfig(units: 8)
  #expect(given.units == 8)
  #expect(given.activation == "linear")
  #expect(given.useBias)
  #expect(given.dropoutRate == 0.25)
  #expect(given.seed == nil)
  let all = SampleConfig(units: 3, activation: "relu", useBias: false, dropoutRate: 0.5, seed: 9)
  #expect(all.activation == "relu" && !all.useBias && all.dropoutRate == 0.5 && all.seed == 9)
  // The placeholder stands in `kerasDefaults`; the Keras name of the required argument is snake_case.
  #expect(SampleConfig.kerasDefaults == SampleConfig(units: 0))
  #expect(SampleConfig.requiredArguments == ["units"])
}

@Test(
  "a @KerasConfig decodes Keras arguments over its defaults and refuses what is missing or unknown")
func kerasConfigMacroDecodes() throws {
  let decoded = try ConfigCoding.decode(
    SampleConfig.self, from: ["units": 4, "dropout_rate": 0.5, "use_bias": false], owner: "Sample")
  #expect(decoded == SampleConfig(units: 4, useBias: false, dropoutRate: 0.5))
  #expect(throws: StrataError.missingArgument(owner: "Sample", argument: "units")) {
    try ConfigCoding.decode(SampleConfig.self, from: ["use_bias": true], owner: "Sample")
  }
  #expect(throws: StrataError.self) {
    try ConfigCoding.decode(SampleConfig.self, from: ["units": 4, "unit": 5], owner: "Sample")
  }
  #expect(try ConfigCoding.encode(decoded)["dropout_rate"]?.doubleValue == 0.5)
}
