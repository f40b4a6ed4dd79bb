import StrataCore
import StrataTesting
import Testing

/// A config written the one way: each Keras default as the property's initial value.
struct SampleConfig: Equatable, KerasConfig {
  var units: Int = 0
  var activation: Spec = "linear"
  var useBias: Bool = true
  var dropoutRate: Float = 0.25
  var seed: UInt64?

  /// Keras' defaults.
  init() {}

  /// The arguments given, Keras' defaults for the others.
  init(
    units: Int, activation: Spec = SampleConfig().activation,
    useBias: Bool = SampleConfig().useBias, dropoutRate: Float = SampleConfig().dropoutRate,
    seed: UInt64? = nil
  ) {
    self.units = units
    self.activation = activation
    self.useBias = useBias
    self.dropoutRate = dropoutRate
    self.seed = seed
  }

  /// Keras' arguments without a default.
  static let requiredArguments: Set<String> = ["units"]
}

@Test("a KerasConfig in plain Swift: the memberwise init, the defaults and the required arguments")
func kerasConfigDeclaresMembers() throws {
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
  "a KerasConfig decodes Keras arguments over its defaults and refuses what is missing or unknown")
func kerasConfigDecodes() throws {
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

/// A component that holds only its Keras arguments: its own config, checked by `validate()`.
struct Scaled: Activation, SelfConfigured, Equatable, KerasConfig {
  var factor: Float = 0
  var offset: Float = 0
  static let identifier = "scaled"
  func validate() throws {
    try checkArgument(
      factor > 0, owner: "Scaled", argument: "factor", value: "\(factor)",
      expected: "a positive number")
  }
  func forward(
    _ x: UnsafeBufferPointer<Float>, into y: UnsafeMutableBufferPointer<Float>, rowLength: Int
  ) {
    for i in x.indices { y[i] = x[i] * factor + offset }
  }
  func backward(
    input: UnsafeBufferPointer<Float>, output: UnsafeBufferPointer<Float>,
    outputGradient: UnsafeBufferPointer<Float>,
    into inputGradient: UnsafeMutableBufferPointer<Float>,
    rowLength: Int
  ) {
    for i in input.indices { inputGradient[i] = outputGradient[i] * factor }
  }

  /// Keras' defaults.
  init() {}

  /// The arguments given, Keras' defaults for the others; a bad one is refused by name.
  init(factor: Float, offset: Float = Scaled().offset) throws {
    self.factor = factor
    self.offset = offset
    try validate()
  }

  /// Keras' arguments without a default.
  static let requiredArguments: Set<String> = ["factor"]
}

@Test("a SelfConfigured component is refused by validate() on every path that makes it")
func selfConfiguredComponentsValidate() throws {
  let refusal = StrataError.invalidArgument(
    owner: "Scaled", argument: "factor", value: "-1.0", expected: "a positive number")
  // The memberwise init throws what validate() throws; a good one is its own config.
  #expect(throws: refusal) { try Scaled(factor: -1) }
  let good = try Scaled(factor: 2, offset: 1)
  #expect(good.config == good && good.offset == 1)
  // The defaults hold the required argument's placeholder, unchecked.
  #expect(Scaled.kerasDefaults.factor == 0 && Scaled.requiredArguments == ["factor"])
  // From Keras arguments: decoded, then checked.
  #expect(throws: refusal) {
    try Scaled(config: ConfigCoding.decode(Scaled.self, from: ["factor": -1], owner: "Scaled"))
  }
  let decoded = try Scaled(
    config: ConfigCoding.decode(Scaled.self, from: ["factor": 3], owner: "Scaled"))
  #expect(decoded == (try Scaled(factor: 3)))
  let written = decoded.configDictionary
  #expect(written["factor"]?.doubleValue == 3 && written["offset"]?.doubleValue == 0)
}

/// Arguments two configs share, declared once and flattened into each.
struct SharedPart: Equatable, KerasConfig {
  var useBias: Bool = true
  var kernelRegularizer: Spec?

  /// Keras' defaults.
  init() {}

  /// The arguments given, Keras' defaults for the others.
  init(useBias: Bool = SharedPart().useBias, kernelRegularizer: Spec? = nil) {
    self.useBias = useBias
    self.kernelRegularizer = kernelRegularizer
  }
}

/// A config with its own arguments and a flattened shared part.
struct WithShared: Equatable, KerasConfig {
  var units: Int = 0
  var name: String?
  var shared: SharedPart = SharedPart()

  /// Keras' defaults.
  init() {}

  /// The arguments given, Keras' defaults for the others.
  init(units: Int, name: String? = nil, shared: SharedPart = WithShared().shared) {
    self.units = units
    self.name = name
    self.shared = shared
  }

  /// Keras' arguments without a default.
  static var requiredArguments: Set<String> {
    Set<String>(["units"]).union(SharedPart.requiredArguments)
  }

  enum CodingKeys: String, CodingKey { case units, name }

  /// Decodes the arguments, the flattened ones from the same container.
  init(from decoder: any Decoder) throws {
    let container = try decoder.container(keyedBy: CodingKeys.self)
    units = try container.decode(Int.self, forKey: .units)
    name = try container.decodeIfPresent(String.self, forKey: .name)
    shared = try SharedPart(from: decoder)
  }

  /// Encodes the arguments, the flattened ones into the same container.
  func encode(to encoder: any Encoder) throws {
    var container = encoder.container(keyedBy: CodingKeys.self)
    try container.encode(units, forKey: .units)
    try container.encodeIfPresent(name, forKey: .name)
    try shared.encode(to: encoder)
  }
}

@Test(
  "a flattened part reads and writes its arguments beside the config's own, as Keras' flat configs"
)
func flattenedArgumentsStandBesideTheOthers() throws {
  let decoded = try ConfigCoding.decode(
    WithShared.self, from: ["units": 4, "use_bias": false, "kernel_regularizer": "l2"],
    owner: "WithShared")
  #expect(
    decoded == WithShared(units: 4, shared: SharedPart(useBias: false, kernelRegularizer: "l2")))
  // Written flat, optionals left out when nil; read back the same.
  let written = try ConfigCoding.encode(decoded)
  #expect(Set(written.keys) == ["units", "use_bias", "kernel_regularizer"])
  #expect(try ConfigCoding.decode(WithShared.self, from: written, owner: "WithShared") == decoded)
  // The defaults fill a missing shared argument; a misspelt one is suggested from the shared part.
  #expect(
    try ConfigCoding.decode(WithShared.self, from: ["units": 1], owner: "WithShared").shared
      == SharedPart())
  #expect(
    throws: StrataError.unknownArgument(
      owner: "WithShared", argument: "use_bais", suggestions: ["use_bias"])
  ) {
    try ConfigCoding.decode(
      WithShared.self, from: ["units": 1, "use_bais": true], owner: "WithShared")
  }
  #expect(throws: StrataError.missingArgument(owner: "WithShared", argument: "units")) {
    try ConfigCoding.decode(WithShared.self, from: ["use_bias": true], owner: "WithShared")
  }
}

/// A part with an argument Keras requires, and a config made of that part alone.
struct RequiredPart: Equatable, KerasConfig {
  var size: Int = 0

  /// Keras' defaults.
  init() {}

  /// The arguments given, Keras' defaults for the others.
  init(size: Int) {
    self.size = size
  }

  /// Keras' arguments without a default.
  static let requiredArguments: Set<String> = ["size"]
}

struct OnlyParts: Equatable, KerasConfig {
  var part: RequiredPart = RequiredPart(size: 0)

  /// Keras' defaults.
  init() {}

  /// The arguments given, Keras' defaults for the others.
  init(part: RequiredPart = OnlyParts().part) {
    self.part = part
  }

  /// Keras' arguments without a default.
  static var requiredArguments: Set<String> {
    Set<String>([]).union(RequiredPart.requiredArguments)
  }

  enum CodingKeys: CodingKey {}

  /// Decodes the arguments, the flattened ones from the same container.
  init(from decoder: any Decoder) throws {
    part = try RequiredPart(from: decoder)
  }

  /// Encodes the arguments, the flattened ones into the same container.
  func encode(to encoder: any Encoder) throws {
    try part.encode(to: encoder)
  }
}

@Test("a flattened part's required arguments are the config's; a config of parts alone codes flat")
func flattenedPartsKeepTheirRequiredArguments() throws {
  #expect(OnlyParts.requiredArguments == ["size"])
  let decoded = try ConfigCoding.decode(OnlyParts.self, from: ["size": 3], owner: "OnlyParts")
  #expect(decoded.part.size == 3)
  #expect(try ConfigCoding.encode(decoded)["size"]?.intValue == 3)
  #expect(
    refusal { try ConfigCoding.decode(OnlyParts.self, from: [:], owner: "OnlyParts") }
      == .missingArgument(owner: "OnlyParts", argument: "size"))
}
