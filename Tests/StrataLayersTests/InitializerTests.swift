import StrataCore
import StrataLayers
import StrataCPU
import Testing

func statistics(_ t: Tensor) -> (mean: Double, std: Double, maxAbs: Double) {
  let values = t.scalars.map(Double.init)
  let mean = values.reduce(0, +) / Double(values.count)
  let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count)
  return (mean, variance.squareRoot(), values.map(abs).max() ?? 0)
}

/// Distributions follow Keras: for a [300, 200] kernel, fan_in 300, fan_out 200.
/// Each case: the name, the standard deviation of the drawn values, and the bound no value passes.
let initializerCases: [(String, Double, Double)] = {
  let glorot: Double = (6.0 / 500).squareRoot()
  let he: Double = (6.0 / 300).squareRoot()
  let lecun: Double = (3.0 / 300).squareRoot()
  let root3: Double = 3.0.squareRoot()
  let cut: Double = 0.879_625_66
  return [
    ("glorot_uniform", glorot / root3, glorot),
    ("glorot_normal", (2.0 / 500).squareRoot(), 2 * (2.0 / 500).squareRoot() / cut),
    ("he_normal", (2.0 / 300).squareRoot(), 2 * (2.0 / 300).squareRoot() / cut),
    ("he_uniform", he / root3, he),
    ("lecun_normal", (1.0 / 300).squareRoot(), 2 * (1.0 / 300).squareRoot() / cut),
    ("lecun_uniform", lecun / root3, lecun),
    ("random_normal", 0.05, 1),
    ("random_uniform", 0.1 / 12.0.squareRoot(), 0.05),
    ("truncated_normal", 0.05 * cut, 0.1),
  ]
}()

@Test(arguments: initializerCases)
func initializerStatistics(name: String, std: Double, bound: Double) throws {
  let initializer = try registries.initializers.make(name)
  var generator = SeededGenerator(seed: 5)
  let t = try initializer.make(shape: [300, 200], generator: &generator)
  let s = statistics(t)
  #expect(abs(s.mean) < 0.02 * std + 1e-4, "\(name) mean \(s.mean)")
  #expect(abs(s.std - std) < 0.03 * std, "\(name) std \(s.std), expected \(std)")
  #expect(s.maxAbs <= bound * 1.0001, "\(name) max \(s.maxAbs) beyond \(bound)")
}

@Test func constantInitializersAndSeeds() throws {
  var generator = SeededGenerator(seed: 5)
  let zeros = try registries.initializers.make("zeros")
  let ones = try registries.initializers.make("ones")
  let constant = try registries.initializers.make("constant", config: ["value": 0.5])
  #expect(try zeros.make(shape: [3], generator: &generator).scalars == [0, 0, 0])
  #expect(try ones.make(shape: [2], generator: &generator).scalars == [1, 1])
  #expect(try constant.make(shape: [2], generator: &generator).scalars == [0.5, 0.5])
  // A seeded initializer draws the same values whatever the model's generator.
  let seeded = try registries.initializers.make("GlorotUniform", config: ["seed": 42])
  var g1 = SeededGenerator(seed: 1), g2 = SeededGenerator(seed: 2)
  #expect(
    try seeded.make(shape: [4, 4], generator: &g1)
      == (try seeded.make(shape: [4, 4], generator: &g2)))
  #expect(
    throws: StrataError.invalidArgument(
      owner: "RandomNormal", argument: "stddev", value: "-1.0", expected: "a non-negative number")
  ) { try registries.initializers.make("random_normal", config: ["stddev": -1]) }
}

@Test(arguments: [[6, 4], [4, 6], [3, 3, 2, 5]])
func orthogonalIsOrthonormal(shape: [Int]) throws {
  var generator = SeededGenerator(seed: 9)
  let t = try registries.initializers.make("orthogonal").make(
    shape: shape, generator: &generator)
  let columns = shape.last!, rows = t.count / columns
  let v = t.scalars
  // The smaller side is orthonormal: columns of a tall matrix, rows of a wide one.
  let (count, length) = rows >= columns ? (columns, rows) : (rows, columns)
  func element(_ vector: Int, _ i: Int) -> Float {
    rows >= columns ? v[i * columns + vector] : v[vector * columns + i]
  }
  for p in 0..<count {
    for q in 0..<count {
      var dot: Float = 0
      for i in 0..<length { dot += element(p, i) * element(q, i) }
      #expect(abs(dot - (p == q ? 1 : 0)) < 1e-5)
    }
  }
}
