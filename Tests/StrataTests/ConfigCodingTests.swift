import Foundation
@testable import Strata
@testable import StrataCore
import StrataSeedModels
import Testing

// The config coders (`ConfigValueDecoder`, `ConfigValueEncoder`) against the Foundation JSON round
// trip they replaced: a config written with `JSONEncoder` (keys to snake_case, non-finite numbers as
// strings) and read back with `ConfigValue(json:)`, and read with `JSONDecoder`.

private func foundationEncode<C: Encodable>(_ config: C) throws -> ConfigDictionary {
  let encoder = JSONEncoder()
  encoder.keyEncodingStrategy = .convertToSnakeCase
  encoder.nonConformingFloatEncodingStrategy = .convertToString(
    positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  return try ConfigValue(json: encoder.encode(config)).objectValue ?? [:]
}

private func foundationDecode<C: Decodable>(_ type: C.Type, from value: ConfigValue) throws -> C {
  let encoder = JSONEncoder()
  encoder.nonConformingFloatEncodingStrategy = .convertToString(
    positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  let decoder = JSONDecoder()
  decoder.keyDecodingStrategy = .convertFromSnakeCase
  decoder.nonConformingFloatDecodingStrategy = .convertFromString(
    positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
  return try decoder.decode(type, from: encoder.encode(value))
}

/// A component's config encodes to what Foundation wrote, and decodes from it to a config that
/// encodes the same again.
private func checkAgainstFoundation<R: Registrable>(_ component: R) throws {
  let ours = try ConfigCoding.encode(component.config)
  let theirs = try foundationEncode(component.config)
  #expect(
    ours == theirs, "\(R.identifier): \(ConfigValue.object(ours)) vs \(ConfigValue.object(theirs))")
  let decoded = try ConfigValueDecoder.decode(R.Config.self, from: .object(theirs))
  let reference = try foundationDecode(R.Config.self, from: .object(theirs))
  #expect(try foundationEncode(decoded) == foundationEncode(reference), "\(R.identifier)")
}

/// Every layer of the Keras files the tests hold and of the tutorial models, and every built-in
/// activation, initializer, loss, optimizer and metric made with its defaults.
@Test func configCodersWriteAndReadAsFoundationsJSONCoders() throws {
  let directory = kerasFile("tiny_adam.keras").deletingLastPathComponent()
  let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
    .filter { $0.hasSuffix(".keras") }.sorted()
  #expect(files.count > 20)
  var models = try files.map { try loadModel(from: directory.appendingPathComponent($0)) }
  models += try SeedModel.allCases.map { try $0.make(seed: 1) }
  var checked = 0
  for model in models {
    for layer in model.layers {
      try checkAgainstFoundation(layer)
      checked += 1
    }
  }
  #expect(checked > 200)
  let registries = Registries.shared
  for name in registries.activations.identifiers {
    try checkAgainstFoundation(try registries.activations.make(name))
  }
  for name in registries.optimizers.identifiers {
    try checkAgainstFoundation(try registries.optimizers.make(name))
  }
  for name in registries.losses.identifiers {
    try checkAgainstFoundation(try registries.losses.make(name))
  }
  for name in registries.initializers.identifiers {
    try checkAgainstFoundation(try registries.initializers.make(name))
  }
}

/// Key spellings as Foundation converts them, acronyms and underscores included, and numbers as
/// JSON holds them.
@Test func configCodersConvertKeysAndNumbersAsFoundation() throws {
  struct Keys: Codable, Equatable {
    var names: [String]
    init(_ names: [String]) { self.names = names }
    init(from decoder: any Decoder) throws {
      names = try decoder.container(keyedBy: ConfigKey.self).allKeys.map(\.stringValue).sorted()
    }
    func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: ConfigKey.self)
      for name in names { try container.encode(1, forKey: ConfigKey(name)) }
    }
  }
  let camel = [
    "useBias", "beta1", "kernelSize", "myURLValue", "HTTPServer", "aB", "x", "paddingXY",
    "idfWeights",
    "already_snake", "_leading", "trailing_",
  ]
  #expect(
    try ConfigValueEncoder.value(of: Keys(camel))
      == ConfigValue.object(foundationEncode(Keys(camel))))
  let snake: ConfigValue = [
    "use_bias": 1, "beta_1": 1, "kernel_size": 1, "_private": 1, "trailing_": 1, "__double__": 1,
    "UPPER_CASE": 1, "plain": 1, "a_b_c": 1,
  ]
  #expect(
    try ConfigValueDecoder.decode(Keys.self, from: snake)
      == foundationDecode(Keys.self, from: snake))
  // Numbers: a Float as its shortest decimal (a whole one as an integer), non-finite ones as
  // strings; a whole 3.0 is an Int,
  // 3.5 is not, and a Float that overflows is refused.
  struct Numbers: Codable, Equatable {
    var f: Float = 0.1
    var g: Float = .infinity
    var d: Double = .nan
    var i: Int = 3
    var w: Float = 2
  }
  let numbers = try ConfigValueEncoder.value(of: Numbers())
  #expect(numbers == ["f": 0.1, "g": "Infinity", "d": "NaN", "i": 3, "w": 2])
  #expect(numbers == .object(try foundationEncode(Numbers())))
  #expect(try ConfigValueDecoder.decode(Int.self, from: .double(3.0)) == 3)
  #expect(throws: DecodingError.self) {
    try ConfigValueDecoder.decode(Int.self, from: .double(3.5))
  }
  #expect(throws: DecodingError.self) {
    try ConfigValueDecoder.decode(Float.self, from: .double(1e300))
  }
  #expect(throws: DecodingError.self) { try foundationDecode(Int.self, from: .double(3.5)) }
  #expect(try foundationDecode(Int.self, from: .double(3.0)) == 3)
}
