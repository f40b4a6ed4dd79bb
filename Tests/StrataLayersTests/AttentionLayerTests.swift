import Foundation
import StrataCore
import StrataLayers
import StrataCPU
import StrataTesting
import Testing

let attentionLayerFixture = try! KerasFixture(
  contentsOf: Bundle.module.url(
    forResource: "attention_layers", withExtension: "json", subdirectory: "Fixtures")!)

/// MultiHeadAttention, Attention and AdditiveAttention against Keras (generate_attention_layers.py),
/// by finite differences, in a Transformer block that trains, and their refusals.
@Suite struct AttentionLayerTests {
  @Test func fixtureCoversEachLayer() {
    for (layer, count) in [("MultiHeadAttention", 5), ("Attention", 3), ("AdditiveAttention", 2)] {
      #expect(attentionLayerFixture.cases(where: "layer", is: layer).count == count, "\(layer)")
    }
  }

  /// The output, every input's gradient and every weight's, with Keras' masks and call options.
  @Test(arguments: attentionLayerFixture.cases)
  func matchesKeras(_ fixture: KerasCase) throws {
    let (rtol, atol): (Float, Float) = (1e-4, 1e-5)
    let identifier = try #require(fixture["layer"]?.stringValue)
    let config = try #require(fixture["config"]?.objectValue)
    let made = try registries.layers.make(identifier, config: config)
    let layer = try #require(made as? any MergeLayer)
    let causal = fixture["call"]?.objectValue?["use_causal_mask"] == .bool(true)
    if let attention = layer as? MultiHeadAttention { attention.useCausalMask = causal }
    if let attention = layer as? ScoreAttention { attention.useCausalMask = causal }
    let inputs = try fixture.tensors("inputs")
    let masks: [Tensor?] = try (fixture["masks"]?.arrayValue ?? []).map {
      $0.isNull ? nil : try KerasCase.tensor(from: $0)
    }
    var generator = SeededGenerator(seed: 1)
    _ = try layer.build(
      inputShapes: inputs.map { Array($0.shape.dropFirst()) }, generator: &generator)
    let names = fixture["weight_names"]?.arrayValue?.compactMap(\.stringValue) ?? []
    #expect(layer.parameters.map(\.name) == names, "\(fixture)")
    for (parameter, value) in zip(layer.parameters, try fixture.tensors("weights")) {
      #expect(parameter.shape == value.shape, "\(fixture)")
      parameter.value = value
    }
    let given = masks.isEmpty ? inputs.map { _ in nil } : masks
    let (y, _) = try layer.forward(inputs, masks: given, in: Context())
    let expected = try fixture.tensor("y")
    #expect(
      isClose(y, expected, rtol: rtol, atol: atol),
      "\(fixture) y: \(closeness(y, expected, rtol: rtol, atol: atol))")
    // Gradients of the inference call, as Keras' were taken (dropout inactive).
    var training = Context(isTraining: true)
    training.behavesAsTraining = false
    _ = try layer.forward(inputs, masks: given, in: training)
    let gradients = try layer.backward(try fixture.tensor("upstream"), in: training)
    for (k, (gradient, want)) in zip(gradients, try fixture.tensors("d_inputs")).enumerated() {
      #expect(
        isClose(gradient, want, rtol: rtol, atol: atol),
        "\(fixture) d_input \(k): \(closeness(gradient, want, rtol: rtol, atol: atol))")
    }
    for (parameter, want) in zip(layer.parameters, try fixture.tensors("d_weights")) {
      #expect(
        isClose(parameter.gradient, want, rtol: rtol, atol: atol),
        "\(fixture) d\(parameter.name): \(closeness(parameter.gradient, want, rtol: rtol, atol: atol))"
      )
    }
  }

  @Test func gradientsMatchFiniteDifferences() throws {
    let causal = try MultiHeadAttention(numHeads: 2, keyDim: 2)
    causal.useCausalMask = true
    let concat = try Attention(useScale: true, scoreMode: "concat")
    let cases: [(String, any MergeLayer, [[Int]])] = [
      (
        "MultiHeadAttention", try MultiHeadAttention(numHeads: 2, keyDim: 3),
        [[2, 3, 4], [2, 5, 4]]
      ),
      ("MultiHeadAttention causal", causal, [[2, 4, 3], [2, 4, 3]]),
      (
        "MultiHeadAttention key, value_dim, output_shape",
        try MultiHeadAttention(numHeads: 1, keyDim: 2, valueDim: 3, outputShape: 2),
        [[2, 3, 4], [2, 5, 2], [2, 5, 3]]
      ),
      ("Attention", try Attention(useScale: true), [[2, 3, 4], [2, 5, 4]]),
      ("Attention concat", concat, [[2, 3, 2], [2, 4, 3], [2, 4, 2]]),
      ("AdditiveAttention", try AdditiveAttention(), [[2, 3, 4], [2, 5, 4]]),
    ]
    for (name, layer, shapes) in cases {
      let error = try maxGradientError(of: layer, inputShapes: shapes)
      #expect(error < 1e-2, "\(name): \(error)")
    }
  }

  /// Dropout on the attention weights in training: a new mask each call, the same one again from a
  /// restored generator state (as a resumed run restores it), and none at inference.
  @Test func attentionDropoutFollowsTheGeneratorState() throws {
    var generator = SeededGenerator(seed: 5)
    let query = try randomTensor([2, 3, 4], using: &generator)
    let value = try randomTensor([2, 5, 4], using: &generator)
    let score = try Attention(dropout: 0.5),
      heads = try MultiHeadAttention(
        numHeads: 2, keyDim: 2, dropout: 0.5)
    let cases: [(String, any MergeLayer, (any MergeLayer, Bool) throws -> Tensor)] = [
      ("Attention", score, { try ($0 as! Attention).call([query, value], training: $1) }),
      (
        "MultiHeadAttention", heads,
        { try ($0 as! MultiHeadAttention).call([query, value], training: $1) }
      ),
    ]
    for (name, layer, call) in cases {
      _ = try layer.build(inputShapes: [[3, 4], [5, 4]], generator: &generator)
      func state() -> [UInt64] {
        (layer as? ScoreAttention)?.generatorState ?? heads.generatorState
      }
      func restore(_ saved: [UInt64]) {
        if let attention = layer as? ScoreAttention {
          attention.generatorState = saved
        } else {
          heads.generatorState = saved
        }
      }
      let inference = try call(layer, false)
      #expect(try call(layer, false) == inference, "\(name)")
      let saved = state()
      let first = try call(layer, true), second = try call(layer, true)
      #expect(first != inference && second != first, "\(name)")
      restore(saved)
      #expect(try call(layer, true) == first, "\(name)")
      // In expectation the dropped weights' output is the inference output: the mean over many
      // masks comes close.
      var sum = try Tensor(shape: inference.shape, repeating: 0)
      for _ in 0..<400 { sum = try sum + call(layer, true) }
      let mean = try sum * (1 / 400)
      #expect(
        isClose(mean, inference, rtol: 0.1, atol: 0.1), "\(name): \(closeness(mean, inference))")
    }
  }

  @Test func refusalsNameTheLayerAndValue() throws {
    func message(_ body: () throws -> some Any) -> String { refusal(body).map { "\($0)" } ?? "" }
    var generator = SeededGenerator(seed: 1)
    #expect(message { try MultiHeadAttention(numHeads: 0, keyDim: 2) }.contains("num_heads"))
    #expect(
      message { try MultiHeadAttention(numHeads: 2, keyDim: 2, dropout: 1) }.contains("dropout"))
    var axes = MultiHeadAttention.Config()
    (axes.numHeads, axes.keyDim, axes.attentionAxes) = (1, 2, [2])
    #expect(message { try MultiHeadAttention(config: axes) }.contains("attention_axes"))
    let images = message {
      try MultiHeadAttention(numHeads: 1, keyDim: 2).build(
        inputShapes: [[4, 4, 3], [4, 4, 3]], generator: &generator)
    }
    #expect(images.contains("MultiHeadAttention") && images.contains("(None, 4, 4, 3)"))
    let maskShape = message {
      try MultiHeadAttention(numHeads: 1, keyDim: 2).build(
        inputShapes: [[3, 2], [5, 2], [5, 2], [3, 4]], generator: &generator)
    }
    #expect(maskShape.contains("attention_mask") && maskShape.contains("(None, 3, 5)"))
    let keys = message {
      try Attention().build(inputShapes: [[3, 2], [5, 2], [4, 2]], generator: &generator)
    }
    #expect(keys.contains("Attention") && keys.contains("key"))
    #expect(message { try Attention(scoreMode: "general") }.contains("score_mode"))
    let one = message { try Attention().build(inputShape: [3, 2], generator: &generator) }
    #expect(one.contains("Attention") && one.contains("list"))
  }
}
