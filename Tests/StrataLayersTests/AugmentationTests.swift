import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

/// Keras 3's outputs for the image layers (`Tests/generate_augmentation_fixture.py`).
private var augmentation: [String: Any] {
  let url = Bundle.module.url(
    forResource: "augmentation", withExtension: "json", subdirectory: "Fixtures")!
  return try! JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
}

private func flatten(_ value: Any) -> [Float] {
  if let list = value as? [Any] { return list.flatMap(flatten) }
  return [Float((value as! NSNumber).doubleValue)]
}

private var fixtureInput: Tensor {
  try! Tensor(
    shape: augmentation["input_shape"] as! [Int], scalars: flatten(augmentation["input"]!))
}

/// The largest finite-difference error of a random layer's gradient, its draw held fixed: the
/// generator is put back before every forward pass.
private func randomLayerGradientError(_ layer: any RandomizedLayer, x: Tensor) throws -> Double {
  var generator = SeededGenerator(seed: 1)
  _ = try layer.build(inputShape: Array(x.shape.dropFirst()), generator: &generator)
  let state = layer.generatorState
  let context = Context(isTraining: true)
  let y = try layer.forward(x, in: context)
  let w = try Tensor(
    shape: y.shape, scalars: (0..<y.count).map { _ in Float(generator.nextNormal()) })
  let dx = try layer.backward(w, in: context)
  func loss(_ input: Tensor) throws -> Double {
    layer.generatorState = state
    let out = try layer.forward(input, in: context)
    return zip(out.scalars, w.scalars).reduce(0) { $0 + Double($1.0) * Double($1.1) }
  }
  var worst = 0.0
  var probe = x
  for i in stride(from: 0, to: x.count, by: 3) {
    let original = x.scalars[i]
    probe.withUnsafeMutableBufferPointer { $0[i] = original + 0.05 }
    let plus = try loss(probe)
    probe.withUnsafeMutableBufferPointer { $0[i] = original - 0.05 }
    let minus = try loss(probe)
    probe.withUnsafeMutableBufferPointer { $0[i] = original }
    let numeric = (plus - minus) / 0.1
    let analytic = Double(dx.scalars[i])
    worst = max(worst, abs(analytic - numeric) / max(1, abs(analytic), abs(numeric)))
  }
  return worst
}

@Suite("Image preprocessing layers")
struct AugmentationTests {
  @Test("Resizing and CenterCrop compute what Keras computes, and pass the gradient check")
  func deterministicLayersMatchKeras() throws {
    for case let record as [String: Any] in augmentation["cases"] as! [Any] {
      let name = record["layer"] as! String
      guard name == "Resizing" || name == "CenterCrop" else { continue }
      let config = record["config"] as! [String: Int]
      let layer = try registries.layers.make(
        name, config: ["height": .int(config["height"]!), "width": .int(config["width"]!)])
      var generator = SeededGenerator(seed: 0)
      let shape = try layer.build(
        inputShape: Array(fixtureInput.shape.dropFirst()), generator: &generator)
      #expect([2] + shape == record["shape"] as! [Int], "\(name) \(config)")
      for training in [false, true] {
        let y = try layer.forward(fixtureInput, in: Context(isTraining: training))
        let expected = flatten(record["output"]!)
        let worst = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(y.count == expected.count && worst < 1e-3, "\(name) \(config): off by \(worst)")
      }
      #expect(
        try maxGradientError(of: layer, inputShape: [2, 9, 6, 2], build: false) < 1e-3,
        "\(name) \(config)")
    }
  }

  @Test("RandomContrast and RandomBrightness apply Keras' transform; inference is the identity")
  func randomTransformsMatchKeras() throws {
    for case let record as [String: Any] in augmentation["cases"] as! [Any] {
      let name = record["layer"] as! String
      var generator = SeededGenerator(seed: 0)
      let expected = flatten(record["output"]!)
      let y: Tensor
      let layer: any Layer
      if name == "RandomContrast" {
        let contrast = try RandomContrast(0.5)
        _ = try contrast.build(inputShape: [9, 6, 2], generator: &generator)
        y = contrast.apply(fixtureInput, factors: (record["factors"] as! [Double]).map(Float.init))
        layer = contrast
      } else if name == "RandomBrightness" {
        let brightness = try RandomBrightness(0.5)
        _ = try brightness.build(inputShape: [9, 6, 2], generator: &generator)
        y = brightness.apply(fixtureInput, deltas: (record["deltas"] as! [Double]).map(Float.init))
        layer = brightness
      } else {
        continue
      }
      let worst = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
      #expect(worst < 1e-3, "\(name): off by \(worst)")
      #expect(try layer.forward(fixtureInput, in: Context(isTraining: false)) == fixtureInput)
    }
  }

  @Test(
    "the random layers draw within their ranges, seeded and resumable, and pass the gradient check")
  func randomLayersAreSeededAndDifferentiable() throws {
    // Pixels away from the clipping range, so the maps are smooth where they are probed.
    var generator = SeededGenerator(seed: 3)
    let x = try Tensor(
      shape: [64, 5, 4, 3], scalars: (0..<(64 * 60)).map { _ in 80 + 100 * generator.nextUniform() }
    )
    let context = Context(isTraining: true)
    // Brightness: one delta per image, within factor · 255.
    let brightness = try RandomBrightness(0.1, seed: 5)
    _ = try brightness.build(inputShape: [5, 4, 3], generator: &generator)
    let brighter = try brightness.forward(x, in: context)
    var deltas: [Float] = []
    for image in 0..<64 {
      let differences = (0..<60).map {
        brighter.scalars[image * 60 + $0] - x.scalars[image * 60 + $0]
      }
      #expect(differences.allSatisfy { abs($0 - differences[0]) < 1e-3 })
      deltas.append(differences[0])
    }
    #expect(deltas.allSatisfy { abs($0) <= 25.5 + 1e-3 } && Set(deltas).count > 60)
    #expect(deltas.contains { $0 < -10 } && deltas.contains { $0 > 10 })
    // The same seed draws the same; the saved generator state draws again what came next.
    let again = try RandomBrightness(0.1, seed: 5)
    _ = try again.build(inputShape: [5, 4, 3], generator: &generator)
    #expect(try again.forward(x, in: context) == brighter)
    let state = brightness.generatorState
    let next = try brightness.forward(x, in: context)
    brightness.generatorState = state
    #expect(try brightness.forward(x, in: context) == next)
    #expect(next != brighter)
    // Contrast: Keras 3 takes 0.3 as factors in [1, 1.3].
    let contrast = try RandomContrast(0.3, seed: 2)
    _ = try contrast.build(inputShape: [5, 4, 3], generator: &generator)
    let contrasted = try contrast.forward(x, in: context)
    for image in 0..<64 {
      let base = image * 60
      let mean = stride(from: base, to: base + 60, by: 3).map { x.scalars[$0] }.reduce(0, +) / 20
      let i = (0..<20).map { base + $0 * 3 }.max {
        abs(x.scalars[$0] - mean) < abs(x.scalars[$1] - mean)
      }!
      let factor = (contrasted.scalars[i] - mean) / (x.scalars[i] - mean)
      #expect(factor >= 1 - 1e-3 && factor <= 1.3 + 1e-3, "image \(image): \(factor)")
    }
    // Flips: each image is one of its four flips, each axis flipped about half the time.
    let flip = try RandomFlip(seed: 9)
    _ = try flip.build(inputShape: [5, 4, 3], generator: &generator)
    let flipped = try flip.forward(x, in: context)
    var horizontal = 0, vertical = 0
    for image in 0..<64 {
      func pixel(_ t: Tensor, _ r: Int, _ c: Int) -> [Float] {
        (0..<3).map { t.scalars[image * 60 + (r * 4 + c) * 3 + $0] }
      }
      let options = [(false, false), (true, false), (false, true), (true, true)].filter { h, v in
        (0..<5).allSatisfy { r in
          (0..<4).allSatisfy { c in pixel(flipped, r, c) == pixel(x, v ? 4 - r : r, h ? 3 - c : c) }
        }
      }
      #expect(options.count == 1)
      if options.first?.0 == true { horizontal += 1 }
      if options.first?.1 == true { vertical += 1 }
    }
    #expect(
      (20...44).contains(horizontal) && (20...44).contains(vertical), "\(horizontal) \(vertical)")
    #expect(try flip.forward(x, in: Context(isTraining: false)) == x)
    // Gradients, the draw held fixed.
    let small = x.slice(rows: 0..<3)
    #expect(try randomLayerGradientError(RandomFlip(seed: 1), x: small) < 1e-3)
    #expect(try randomLayerGradientError(RandomBrightness(0.1, seed: 1), x: small) < 1e-3)
    #expect(try randomLayerGradientError(RandomContrast(0.4, seed: 1), x: small) < 1e-3)
  }

  @Test("RandomCrop: one random window per batch in training, the centre window at inference")
  func randomCropWindows() throws {
    var generator = SeededGenerator(seed: 6)
    let x = try Tensor(
      shape: [3, 7, 9, 2], scalars: (0..<(3 * 126)).map { _ in generator.nextUniform() })
    let crop = try RandomCrop(4, 5, seed: 2)
    _ = try crop.build(inputShape: [7, 9, 2], generator: &generator)
    let centre = try CenterCrop(4, 5)
    _ = try centre.build(inputShape: [7, 9, 2], generator: &generator)
    #expect(
      try crop.forward(x, in: Context(isTraining: false))
        == centre.forward(x, in: Context(isTraining: false)))
    var seen = Set<[Int]>()
    for _ in 0..<60 {
      let y = try crop.forward(x, in: Context(isTraining: true))
      #expect(y.shape == [3, 4, 5, 2])
      // The window: the offset at which image 0's output sits in its input, the same for all images.
      let (ys, xs) = (y.scalars, x.scalars)
      func matches(_ top: Int, _ left: Int) -> Bool {
        for image in 0..<3 {
          for r in 0..<4 {
            for c in 0..<5 {
              for k in 0..<2 {
                let output: Int = ((image * 4 + r) * 5 + c) * 2 + k
                let input: Int = ((image * 7 + r + top) * 9 + c + left) * 2 + k
                if ys[output] != xs[input] { return false }
              }
            }
          }
        }
        return true
      }
      var windows: [[Int]] = []
      for top in 0...3 {
        for left in 0...4 where matches(top, left) { windows.append([top, left]) }
      }
      #expect(windows.count == 1)
      seen.formUnion(windows)
    }
    #expect(seen.count >= 15, "\(seen.count) of 20 windows drawn")
    #expect(try randomLayerGradientError(RandomCrop(4, 5, seed: 1), x: x) < 1e-3)
  }

  @Test("RandomTranslation, RandomZoom and RandomRotation resample as Keras does, every fill mode")
  func affineLayersMatchKeras() throws {
    let fixture = augmentation
    let x = try Tensor(shape: [2, 7, 5, 2], scalars: flatten(fixture["affine_input"]!))
    for case let record as [String: Any] in fixture["affine"] as! [Any] {
      let name = record["layer"] as! String
      let fillMode = record["fill_mode"] as! String
      let interpolation = record["interpolation"] as! String
      var generator = SeededGenerator(seed: 0)
      let y: Tensor
      switch name {
      case "RandomTranslation":
        let layer = try RandomTranslation(
          config: .init(
            heightFactor: FactorRange(-0.5, 0.5), widthFactor: FactorRange(-0.5, 0.5),
            sampling: .init(fillMode: fillMode, interpolation: interpolation, fillValue: 7)))
        _ = try layer.build(inputShape: [7, 5, 2], generator: &generator)
        let shifts = (record["translations"] as! [[Double]]).map { $0.map(Float.init) }
        y = layer.apply(x, transforms: shifts.map { [1, 0, -$0[0], 0, 1, -$0[1]] })
      case "RandomZoom":
        let layer = try RandomZoom(0.5)
        _ = try layer.build(inputShape: [7, 5, 2], generator: &generator)
        let (zy, zx) = (record["height_zoom"] as! [Double], record["width_zoom"] as! [Double])
        y = layer.apply(
          x, transforms: (0..<2).map { layer.zoomTransform(zx: Float(zx[$0]), zy: Float(zy[$0])) })
      default:
        let layer = try RandomRotation(0.5)
        _ = try layer.build(inputShape: [7, 5, 2], generator: &generator)
        let angles = record["angles"] as! [Double]
        y = layer.apply(x, transforms: angles.map { layer.rotationTransform(degrees: Float($0)) })
      }
      let expected = flatten(record["output"]!)
      let worst = zip(y.scalars, expected).map { abs($0 - $1) }.max() ?? .infinity
      #expect(worst < 2e-3, "\(name) \(fillMode) \(interpolation): off by \(worst)")
    }
  }

  @Test("the affine layers are seeded, the identity at inference, and pass the gradient check")
  func affineLayersAreSeededAndDifferentiable() throws {
    var generator = SeededGenerator(seed: 5)
    let x = try Tensor(
      shape: [2, 6, 5, 2], scalars: (0..<120).map { _ in generator.nextUniform() })
    let layers: [any RandomizedLayer] = [
      try RandomTranslation(0.3, 0.3, seed: 1), try RandomZoom(0.3, seed: 1),
      try RandomRotation(0.2, seed: 1),
      try RandomTranslation(0.3, 0.3, fillMode: "constant", seed: 2),
      try RandomRotation(0.2, fillMode: "wrap", seed: 2),
    ]
    for layer in layers {
      _ = try layer.build(inputShape: [6, 5, 2], generator: &generator)
      #expect(try layer.forward(x, in: Context(isTraining: false)) == x)
      let first = try layer.forward(x, in: Context(isTraining: true))
      #expect(first != x)
      #expect(try randomLayerGradientError(layer, x: x) < 1e-3, "\(type(of: layer))")
    }
  }

}
