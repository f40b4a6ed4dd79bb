import StrataCore
import StrataTesting
import Testing

@Test func tensorsAreValuesWithCopyOnWrite() throws {
  let a = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
  var b = a
  b[0, 1] = 9
  #expect(a.scalars == [1, 2, 3, 4])
  #expect(b.scalars == [1, 9, 3, 4])
  let reshaped = try a.reshaped(to: [4])
  #expect(reshaped.storage === a.storage)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Tensor", argument: "shape", value: "[3]",
      expected: "a shape of 4 elements, like [2, 2]")
  ) { try a.reshaped(to: [3]) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Tensor", argument: "scalars", value: "of count 1",
      expected: "4 values for shape [2, 2]")
  ) { try Tensor(shape: [2, 2], scalars: [1]) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Tensor", argument: "rows", value: "of lengths [2, 1]",
      expected: "rows of equal length")
  ) { try Tensor([[1, 2], [3]]) }
  #expect(a.slice(rows: 1..<2).scalars == [3, 4])
}

@Test func reuseKeepsUnsharedStorage() {
  var buffer = Tensor(shape: [4, 8])
  let storage = ObjectIdentifier(buffer.storage)
  buffer.reuse(shape: [2, 8])
  #expect(ObjectIdentifier(buffer.storage) == storage && buffer.count == 16)
  buffer.reuse(shape: [4, 8])
  #expect(ObjectIdentifier(buffer.storage) == storage)
  let held = buffer
  buffer.reuse(shape: [4, 8])
  #expect(buffer.storage !== held.storage)
  #expect(Int(bitPattern: buffer.storage.base) % 64 == 0)
}

@Test(arguments: [
  ("Dense", "dense"), ("MaxPooling2D", "max_pooling2d"), ("PReLU", "p_re_lu"),
  ("LeakyReLU", "leaky_re_lu"),
  ("Conv2D", "conv2d"), ("BatchNormalization", "batch_normalization"),
  ("GlobalAveragePooling2D", "global_average_pooling2d"), ("Acme>PReLU", "p_re_lu"),
  ("InputLayer", "input_layer"),
])
func layerNamesFollowKeras(identifier: String, name: String) {
  #expect(kerasLayerName(for: identifier) == name)
}

/// What Keras' own `naming.to_snake_case` returns for each name (its three `re.sub`s, run in Python
/// 3.11 on these names): underscores kept and doubled where Keras doubles them, acronyms, digits,
/// non-word characters dropped.
@Test func snakeCaseIsKerasOwnRule() {
  let keras: KeyValuePairs<String, String> = [
    "Dense": "dense", "Conv2D": "conv2d", "MaxPooling2D": "max_pooling2d",
    "BatchNormalization": "batch_normalization", "PReLU": "p_re_lu", "LeakyReLU": "leaky_re_lu",
    "ReLU": "re_lu", "HTTPServer": "http_server", "XYzAb": "x_yz_ab", "My_Layer": "my__layer",
    "my_Layer": "my__layer", "a_Bc": "a__bc", "Layer__X": "layer__x", "ABCDef": "abc_def",
    "Conv2DTranspose": "conv2d_transpose", "SeparableConv2D": "separable_conv2d", "LSTM": "lstm",
    "SimpleRNN": "simple_rnn", "AdamW": "adam_w", "RMSprop": "rm_sprop",
    "MultiHeadAttention": "multi_head_attention", "UpSampling2D": "up_sampling2d",
    "Acme Layer!": "acme_layer", "Élan": "élan", "_Private": "__private", "x": "x", "": "",
    "2DConv": "2d_conv", "dense_1": "dense_1", "Dense_Block": "dense__block",
  ]
  for (name, expected) in keras {
    #expect(kerasSnakeCase(name) == expected, "\(name)")
  }
}

@Test func configValuesAndSpecs() throws {
  let value: ConfigValue = ["units": 3, "rate": 0.5, "name": "x", "shape": [1, nil], "on": true]
  let json = try JSONEncoder().encode(value)
  #expect(try JSONDecoder().decode(ConfigValue.self, from: json) == value)
  let spec = try JSONDecoder().decode(
    Spec.self,
    from: Data(#"{"class_name": "RandomNormal", "config": {"stddev": 0.1, "seed": null}}"#.utf8))
  #expect(spec == Spec("RandomNormal", config: ["stddev": 0.1]))
  #expect(try JSONDecoder().decode(Spec.self, from: Data(#""relu""#.utf8)) == "relu")
  #expect(closestNames(to: "relu", in: ["relu6", "elu", "tanh"]).first == "relu6")
}

@Test func seededGeneratorIsReproducible() {
  var a = SeededGenerator(seed: 3), b = SeededGenerator(seed: 3), c = SeededGenerator(seed: 4)
  let xs = (0..<5).map { _ in a.next() }
  #expect(xs == (0..<5).map { _ in b.next() })
  #expect(xs != (0..<5).map { _ in c.next() })
  var u = SeededGenerator(seed: 1)
  let uniforms = (0..<10_000).map { _ in u.nextUniform() }
  #expect(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
  #expect(abs(uniforms.reduce(0, +) / 10_000 - 0.5) < 0.01)
}

import Foundation

/// Strata's JSON parser agrees with Foundation's decoder on valid text, and refuses invalid or too
/// deeply nested text with the byte offset.
@Test func jsonParserAgreesWithFoundation() throws {
  let documents = [
    #"{"units": 128, "activation": "relu", "rate": 0.25, "use_bias": true, "name": null, "shape": [null, 28, 28]}"#,
    #"[1, -2, 3.5, 0.5e1, 1e3, 2E-2, 9223372036854775807, 9223372036854775808, 12345678901234567890]"#,
    #"{"escapes": "a\"b\\c\/d\b\f\n\r\t", "unicode": "\u00e9\u4e2d\ud83d\ude00", "raw": "é中😀", "empty": "", "nested": {"a": [{}, []]}}"#,
    " \n\t{ } ", "0", "\"x\"", "false",
  ]
  for text in documents {
    let ours = try ConfigValue(json: Data(text.utf8))
    let foundation = try JSONDecoder().decode(ConfigValue.self, from: Data(text.utf8))
    #expect(
      ours == foundation || ours.description == foundation.description,
      "\(text): \(ours) vs \(foundation)")
  }
  #expect(try ConfigValue(json: Data("[1, 1.0, 1e2]".utf8)) == [.int(1), .double(1), .double(100)])
  for (text, message) in [
    ("", "with the end at byte 0"), ("[1, 2", "with the end at byte 5"),
    ("{\"a\" 1}", "with '1' at byte 5"), ("01", "with '0' at byte 0"),
    ("[1,]", "with ']' at byte 3"), ("\"\\x\"", "with 'x' at byte 2"),
    ("\"\\ud800\"", "with '\"' at byte 7"), ("tru", "with the end at byte 3"),
    ("[] []", "with '[' at byte 3"), ("\"a\u{01}\"", "with '\u{01}' at byte 2"),
  ] {
    guard
      case .invalidArgument("JSON", "text", let value, _)? = refusal({
        _ = try ConfigValue(json: Data(text.utf8))
      })
    else { continue }
    #expect(value == message, "\(text.debugDescription): \(value)")
  }
  // Deep nesting is refused at the limit, not a stack overflow.
  let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
  guard
    case .invalidArgument(_, _, _, let expected)? = refusal({
      _ = try ConfigValue(json: Data(deep.utf8))
    })
  else { return }
  #expect(expected == "at most 512 nested arrays and objects")
  let allowed = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
  _ = try ConfigValue(json: Data(allowed.utf8))
}

/// A config's Keras defaults come from `init()` alone: missing arguments take them, given ones
/// (snake_case or camelCase) replace them, a required one is an error when missing or misspelt.
struct WidgetConfig: KerasConfig, Equatable {
  var units: Int
  var dropRate: Float
  var name: String?
  init(units: Int, dropRate: Float = 0.25, name: String? = nil) {
    self.units = units
    self.dropRate = dropRate
    self.name = name
  }
  init() { self.init(units: 0) }
  static let requiredArguments: Set<String> = ["units"]
}

@Test func kerasConfigsDecodeOverTheirDefaults() throws {
  #expect(
    try ConfigCoding.decode(WidgetConfig.self, from: ["units": 3], owner: "Widget")
      == WidgetConfig(units: 3))
  #expect(
    try ConfigCoding.decode(
      WidgetConfig.self, from: ["units": 3, "drop_rate": 0.5], owner: "Widget")
      == WidgetConfig(units: 3, dropRate: 0.5))
  #expect(
    try ConfigCoding.decode(
      WidgetConfig.self, from: ["units": 3, "dropRate": 0.75], owner: "Widget")
      == WidgetConfig(units: 3, dropRate: 0.75))
  #expect(throws: StrataError.missingArgument(owner: "Widget", argument: "units")) {
    try ConfigCoding.decode(WidgetConfig.self, from: ["drop_rate": 0.5], owner: "Widget")
  }
  #expect(
    throws: StrataError.unknownArgument(owner: "Widget", argument: "unit", suggestions: ["units"])
  ) {
    try ConfigCoding.decode(WidgetConfig.self, from: ["unit": 3], owner: "Widget")
  }
  #expect(
    throws: StrataError.unknownArgument(
      owner: "Widget", argument: "drop", suggestions: ["drop_rate"])
  ) {
    try ConfigCoding.decode(WidgetConfig.self, from: ["units": 3, "drop": 0.5], owner: "Widget")
  }
}

/// A spec from a `String` variable: `Spec(name)` or string interpolation.
@Test func specsFromStringVariables() throws {
  let name = "relu"
  #expect(Spec(name) == "relu")
  let interpolated: Spec = "\(name)"
  #expect(interpolated.identifier == "relu" && interpolated.config.isEmpty)
}

/// An optimizer writes a weight through `value` every step: the write must stay in the weight's own
/// storage (a copy of a 100 MB kernel per step cost a fifth of a CNN's step), and count as a version.
@Test func parameterValuesAreWrittenInPlace() throws {
  let parameter = Parameter(name: "kernel", value: try Tensor(shape: [4, 3], repeating: 1))
  let address = parameter.value.withUnsafeBufferPointer { $0.baseAddress }
  let version = parameter.version
  parameter.value.withUnsafeMutableBufferPointer { $0[5] = 7 }
  #expect(parameter.value.withUnsafeBufferPointer { $0.baseAddress } == address)
  #expect(parameter.value.scalars[5] == 7)
  #expect(parameter.version == version + 1)
  parameter.value = try Tensor(shape: [4, 3], repeating: 2)
  #expect(parameter.version == version + 2)
  parameter.gradient.withUnsafeMutableBufferPointer { $0[0] = 3 }
  let gradientAddress = parameter.gradient.withUnsafeBufferPointer { $0.baseAddress }
  parameter.gradient.withUnsafeMutableBufferPointer { $0[1] = 4 }
  #expect(parameter.gradient.withUnsafeBufferPointer { $0.baseAddress } == gradientAddress)
  #expect(Array(parameter.gradient.scalars.prefix(2)) == [3, 4])
}
