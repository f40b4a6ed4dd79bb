import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

/// Conv2DTranspose, UpSampling2D, Permute, RepeatVector and Cropping2D against Keras
/// (generate_application_layers.py), the noise layers' statistics, ActivityRegularization, and
/// their refusals.
@Suite struct DecoderAndNoiseLayerTests {
  @Test func fixtureCoversEachLayer() {
    for (layer, count) in [
      ("Conv2DTranspose", 7), ("UpSampling2D", 3), ("Permute", 2), ("RepeatVector", 1),
      ("Cropping2D", 1),
    ] {
      #expect(applicationLayerFixture.cases(where: "layer", is: layer).count == count, "\(layer)")
    }
  }

  /// The transposed convolution runs on each backend's convolution (oneDNN on "cpu").
  @Test(arguments: convolutionBackends)
  func convTransposeMatchesKerasOnEveryBackend(_ backend: String) throws {
    for fixture in applicationLayerFixture.cases(where: "layer", is: "Conv2DTranspose") {
      try checkAgainstKeras(
        fixture, kernels: try registries.kernels.make(backend), rtol: 1e-4, atol: 1e-5)
    }
  }

  @Test func gradientsMatchFiniteDifferences() throws {
    let layers: [(String, any Layer, [Int])] = [
      ("Conv2DTranspose", try Conv2DTranspose(3, 3, strides: 2, padding: "same"), [2, 3, 4, 2]),
      (
        "Conv2DTranspose output padding",
        try Conv2DTranspose(2, [2, 3], strides: 2, outputPadding: 1, activation: "tanh"),
        [2, 3, 3, 2]
      ),
      ("UpSampling2D", try UpSampling2D(size: [2, 3]), [2, 3, 2, 2]),
      ("UpSampling2D bilinear", try UpSampling2D(interpolation: "bilinear"), [2, 3, 2, 2]),
      ("Permute", try Permute([2, 3, 1]), [2, 3, 2, 2]),
      ("RepeatVector", try RepeatVector(3), [2, 4]),
    ]
    for (name, layer, shape) in layers {
      let error = try maxGradientError(of: layer, inputShape: shape)
      #expect(error < 1e-2, "\(name): \(error)")
    }
  }

  /// Training draws noise of the stated mean and deviation, independent per element; inference
  /// passes the input through.
  @Test func gaussianNoiseLayersDrawTheirDistributions() throws {
    let x = try Tensor(shape: [64, 50], scalars: Array(repeating: 2, count: 3200))
    let training = Context(isTraining: true), inference = Context()
    func moments(_ values: [Float]) -> (mean: Float, deviation: Float) {
      let mean = values.reduce(0, +) / Float(values.count)
      let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(values.count)
      return (mean, variance.squareRoot())
    }
    var generator = SeededGenerator(seed: 2)
    let noise = try GaussianNoise(0.3, seed: 4)
    _ = try noise.build(inputShape: [50], generator: &generator)
    let noisy = try noise.forward(x, in: training).scalars.map { $0 - 2 }
    let (mean, deviation) = moments(noisy)
    #expect(Swift.abs(mean) < 0.03 && Swift.abs(deviation - 0.3) < 0.02, "\(mean), \(deviation)")
    #expect(try noise.forward(x, in: inference).scalars == x.scalars)
    let upstream = awayFromZero([64, 50], seed: 3)
    #expect(try noise.backward(upstream, in: training).scalars == upstream.scalars)

    let dropout = try GaussianDropout(0.2, seed: 4)
    _ = try dropout.build(inputShape: [50], generator: &generator)
    let factors = try dropout.forward(x, in: training).scalars.map { $0 / 2 }
    let (center, spread) = moments(factors)
    #expect(Swift.abs(center - 1) < 0.03 && Swift.abs(spread - 0.5) < 0.03, "\(center), \(spread)")
    let gradient = try dropout.backward(upstream, in: training).scalars
    for i in [0, 77, 3199] {
      #expect(Swift.abs(gradient[i] - upstream.scalars[i] * factors[i]) < 1e-5)
    }
    #expect(try dropout.forward(x, in: inference).scalars == x.scalars)
    // The same seed draws the same noise; the model's generator gives an unseeded layer its own.
    let again = try GaussianDropout(0.2, seed: 4)
    _ = try again.build(inputShape: [50], generator: &generator)
    #expect(try again.forward(x, in: training).scalars.map { $0 / 2 } == factors)
  }

  /// SpatialDropout2D drops whole channels of an image (all pixels of a channel together) and
  /// scales the kept ones by 1 / (1 - rate), as Keras; SpatialDropout1D whole features of a sequence.
  @Test func spatialDropoutDropsWholeChannels() throws {
    var generator = SeededGenerator(seed: 5)
    let layer = try SpatialDropout2D(0.25, seed: 8)
    _ = try layer.build(inputShape: [3, 4, 40], generator: &generator)
    let x = try Tensor(shape: [16, 3, 4, 40], scalars: Array(repeating: 1, count: 16 * 480))
    let y = try layer.forward(x, in: Context(isTraining: true)).scalars
    var dropped = 0
    for sample in 0..<16 {
      for channel in 0..<40 {
        let values = Set(
          (0..<12).map { pixel in y[(sample * 12 + pixel) * 40 + channel] })
        #expect(values.count == 1 && (values == [0] || values == [Float(1) / 0.75]))
        if values == [0] { dropped += 1 }
      }
    }
    #expect((120...200).contains(dropped), "\(dropped) of 640 channels dropped at rate 0.25")
    let upstream = awayFromZero([16, 3, 4, 40], seed: 6)
    let dx = try layer.backward(upstream, in: Context(isTraining: true)).scalars
    #expect(zip(dx, zip(upstream.scalars, y)).allSatisfy { $0 == $1.0 * $1.1 })
    #expect(try layer.forward(x, in: Context()).scalars == x.scalars)

    let sequences = try SpatialDropout1D(0.5, seed: 1)
    _ = try sequences.build(inputShape: [6, 10], generator: &generator)
    let s = try sequences.forward(
      Tensor(shape: [4, 6, 10], scalars: Array(repeating: 1, count: 240)),
      in: Context(isTraining: true)
    ).scalars
    for sample in 0..<4 {
      for feature in 0..<10 {
        #expect(Set((0..<6).map { s[(sample * 6 + $0) * 10 + feature] }).count == 1)
      }
    }
  }

  @Test func refusalsNameTheLayerAndArgument() throws {
    func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
    var generator = SeededGenerator(seed: 1)
    let padding = message { try Conv2DTranspose(2, 3, strides: 2, outputPadding: 2) }
    #expect(
      padding.contains("Conv2DTranspose") && padding.contains("output_padding")
        && padding.contains("(2, 2)"))
    #expect(message { try Conv2DTranspose(0, 3) }.contains("filters"))
    #expect(
      message { try Conv2DTranspose(2, 3, strides: 2, dilationRate: 2) }.contains("dilation_rate"))
    let flat = message { try Conv2DTranspose(2, 3).build(inputShape: [4], generator: &generator) }
    #expect(flat.contains("Conv2DTranspose") && flat.contains("(None, 4)"))
    let interpolation = message { try UpSampling2D(interpolation: "bilinaer") }
    #expect(interpolation.contains("interpolation") && interpolation.contains("bilinear"))
    #expect(message { try UpSampling2D(size: 0) }.contains("size"))
    let dims = message { try Permute([1, 1]) }
    #expect(dims.contains("Permute") && dims.contains("[1, 1]"))
    let rank = message { try Permute([2, 1]).build(inputShape: [2, 3, 4], generator: &generator) }
    #expect(rank.contains("Permute") && rank.contains("(None, 2, 3, 4)"))
    #expect(message { try RepeatVector(0) }.contains("n"))
    let vectors = message {
      try RepeatVector(2).build(inputShape: [2, 3], generator: &generator)
    }
    #expect(vectors.contains("RepeatVector") && vectors.contains("(None, 2, 3)"))
    let stddev = message { try GaussianNoise(2) }
    #expect(stddev.contains("GaussianNoise") && stddev.contains("stddev") && stddev.contains("2"))
    #expect(message { try GaussianDropout(1) }.contains("rate"))
    #expect(message { try SpatialDropout2D(1.5) }.contains("SpatialDropout2D"))
    let images = message {
      try SpatialDropout2D(0.5).build(inputShape: [3, 4], generator: &generator)
    }
    #expect(images.contains("SpatialDropout2D") && images.contains("(None, 3, 4)"))
    #expect(message { try ActivityRegularization(l1: -1) }.contains("l1"))
  }
}
