import Strata
import Testing

@Test func tensorsAreValuesWithCopyOnWrite() throws {
  let a = try Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])
  var b = a
  b[0, 1] = 9
  #expect(a.scalars == [1, 2, 3, 4])
  #expect(b.scalars == [1, 9, 3, 4])
  let reshaped = try a.reshaped(to: [4])
  #expect(reshaped.storage === a.storage)
  #expect(throws: StrataError.invalidArgument(owner: "Tensor", argument: "shape", value: "[3]", expected: "a shape of 4 elements, like [2, 2]")) { try a.reshaped(to: [3]) }
  #expect(throws: StrataError.invalidArgument(owner: "Tensor", argument: "scalars", value: "of count 1", expected: "4 values for shape [2, 2]")) { try Tensor(shape: [2, 2], scalars: [1]) }
  #expect(throws: StrataError.invalidArgument(owner: "Tensor", argument: "rows", value: "of lengths [2, 1]", expected: "rows of equal length")) { try Tensor([[1, 2], [3]]) }
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
  ("Dense", "dense"), ("MaxPooling2D", "max_pooling2d"), ("PReLU", "p_re_lu"), ("LeakyReLU", "leaky_re_lu"),
  ("Conv2D", "conv2d"), ("BatchNormalization", "batch_normalization"),
  ("GlobalAveragePooling2D", "global_average_pooling2d"), ("Acme>PReLU", "p_re_lu"), ("InputLayer", "input_layer"),
])
func layerNamesFollowKeras(identifier: String, name: String) {
  #expect(kerasLayerName(for: identifier) == name)
}

@Test func configValuesAndSpecs() throws {
  let value: ConfigValue = ["units": 3, "rate": 0.5, "name": "x", "shape": [1, nil], "on": true]
  let json = try JSONEncoder().encode(value)
  #expect(try JSONDecoder().decode(ConfigValue.self, from: json) == value)
  let spec = try JSONDecoder().decode(Spec.self, from: Data(#"{"class_name": "RandomNormal", "config": {"stddev": 0.1, "seed": null}}"#.utf8))
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
