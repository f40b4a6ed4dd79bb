import StrataCore

/// Makes the layer a wrapper's config names (`{"class_name": "LSTM", "config": {…}}`), naming the
/// wrapper in a refusal.
private func wrappedLayer(_ spec: Spec, owner: String, argument: String) throws -> any Layer {
  do {
    return try Registries.shared.layers.make(spec.identifier, config: spec.config)
  } catch let error as StrataError {
    throw StrataError.invalidArgument(
      owner: owner, argument: argument, value: spec.identifier,
      expected: "a layer Strata can make (\(error))")
  }
}

/// The Keras record of a wrapped layer: its class name and config under `name`.
private func wrappedSpec(_ layer: any Layer, name: String) -> Spec {
  var config = layer.savedConfig(name: name)
  config["dtype"] = "float32"
  return Spec(layer.identifier, config: config)
}

/// Runs a recurrent layer over a sequence both ways and merges the two: Keras'
/// `Bidirectional(layer, merge_mode="concat", backward_layer=None)`.
///
/// The forward layer is made afresh from `layer`'s config; the backward one from
/// `backward_layer`, or from the same config reading the sequence from its end. With
/// `return_sequences` the backward outputs are put back in time order before merging, so step `t`
/// of the output sees the whole sequence. `merge_mode` is `"concat"` (the last axis doubles),
/// `"sum"`, `"ave"`, `"mul"`, or `nil` (Keras' `None`: the two directions as two outputs,
/// ``StrataCore/Layer/outputs(of:)``). Masks reach both
/// layers; with `return_sequences` a masked step outputs zeros, as Keras forces. Written
/// forward-only, on the recurrent layers' ops.
public final class Bidirectional: OpsLayer, LayerContainer, KerasNestedWeights, RandomizedLayer,
  MaskReadingLayer, MaskingLayer, MultiOutputLayer
{
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig, ConfigKeepsNulls {
    /// Keras' `layer`: the recurrent layer run forward (`SimpleRNN`, `LSTM`, `GRU`).
    public var layer = Spec("LSTM")
    /// Keras' `merge_mode`: `"concat"`, `"sum"`, `"ave"` or `"mul"`; `nil` (Keras' `None`): both
    /// directions as two outputs.
    public var mergeMode: String? = "concat"
    /// Keras' `backward_layer`: the layer run backwards; by default `layer`'s config with
    /// `go_backwards` flipped.
    public var backwardLayer: Spec?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["layer"]
    /// `merge_mode: null` is Keras' `None`, not the default.
    public static let nullableArguments: Set<String> = ["merge_mode"]

    enum CodingKeys: String, CodingKey { case layer, mergeMode, backwardLayer }

    /// Encodes the arguments, `merge_mode` as `null` for `None`.
    public func encode(to encoder: any Encoder) throws {
      var container = encoder.container(keyedBy: CodingKeys.self)
      try container.encode(layer, forKey: .layer)
      try container.encode(mergeMode, forKey: .mergeMode)
      try container.encodeIfPresent(backwardLayer, forKey: .backwardLayer)
    }
  }

  /// The registry key: Keras' `Bidirectional`.
  public static let identifier = "Bidirectional"
  /// The layer reading the sequence in order.
  public let forwardLayer: RecurrentLayer
  /// The layer reading it from its end.
  public let backwardLayer: RecurrentLayer
  /// Both, as layers.
  public let sublayers: [any Layer]
  private let mergeMode: String?
  /// With `merge_mode` `nil`, the two directions' shapes; `nil` otherwise.
  public private(set) var outputShapes: [[Int]]?
  private let names: (forward: String, backward: String)
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  /// The mask of the next call's input.
  public var inputMask: Tensor?

  /// The arguments, with both layers' configs as they are.
  public var config: Config {
    var config = Config()
    config.mergeMode = mergeMode
    config.layer = wrappedSpec(sublayers[0], name: names.forward)
    config.backwardLayer = wrappedSpec(sublayers[1], name: names.backward)
    return config
  }

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `Bidirectional(LSTM(64, returnSequences: true))`, as in Keras: `layer` gives its config, from
  /// which both directions are made.
  public convenience init(
    _ layer: any Layer, mergeMode: String? = "concat", backwardLayer: (any Layer)? = nil,
    inputShape: [Int]? = nil
  ) throws {
    var config = Config()
    config.layer = wrappedSpec(layer, name: kerasSnakeCase(layer.identifier))
    config.backwardLayer = backwardLayer.map {
      wrappedSpec($0, name: "backward_" + kerasSnakeCase($0.identifier))
    }
    config.mergeMode = mergeMode
    try self.init(config: config, inputShape: inputShape)
  }

  /// A layer from a config, with Keras' `input_shape`.
  public init(config: Config, inputShape: [Int]?) throws {
    let owner = Self.identifier
    if let mode = config.mergeMode {
      try checkArgument(
        ["concat", "sum", "ave", "mul"].contains(mode), owner: owner, argument: "merge_mode",
        value: mode, expected: "\"concat\", \"sum\", \"ave\", \"mul\" or nil (two outputs)")
    }
    func recurrent(_ spec: Spec, _ argument: String, goBackwards: Bool?) throws -> (
      RecurrentLayer, any Layer
    ) {
      var spec = spec
      let returnsSequences = spec.config["return_sequences"] == .bool(true)
      spec.config["zero_output_for_mask"] = .bool(returnsSequences)
      if let goBackwards { spec.config["go_backwards"] = .bool(goBackwards) }
      let layer = try wrappedLayer(spec, owner: owner, argument: argument)
      guard let recurrent = layer as? RecurrentLayer else {
        throw StrataError.invalidArgument(
          owner: owner, argument: argument, value: spec.identifier,
          expected: "a recurrent layer (SimpleRNN, LSTM, GRU)")
      }
      return (recurrent, layer)
    }
    let base = config.layer.config["name"]?.stringValue ?? kerasSnakeCase(config.layer.identifier)
    let stem = base.hasPrefix("forward_") ? String(base.dropFirst(8)) : base
    let forward = try recurrent(config.layer, "layer", goBackwards: nil)
    let backward: (RecurrentLayer, any Layer)
    if let spec = config.backwardLayer {
      backward = try recurrent(spec, "backward_layer", goBackwards: nil)
      names = ("forward_" + stem, spec.config["name"]?.stringValue ?? "backward_" + stem)
    } else {
      backward = try recurrent(
        config.layer, "layer", goBackwards: !forward.0.arguments.goBackwards)
      names = ("forward_" + stem, "backward_" + stem)
    }
    (forwardLayer, backwardLayer) = (forward.0, backward.0)
    sublayers = [forward.1, backward.1]
    let (forwardArguments, backwardArguments) = (forward.0.arguments, backward.0.arguments)
    try checkArgument(
      !forwardArguments.returnState && !backwardArguments.returnState, owner: owner,
      argument: "layer", value: "return_state true",
      expected: "a layer without return_state (Bidirectional gives one output)")
    try checkArgument(
      forwardArguments.goBackwards != backwardArguments.goBackwards, owner: owner,
      argument: "backward_layer", value: "go_backwards \(backwardArguments.goBackwards)",
      expected:
        "the opposite of the forward layer's go_backwards (\(forwardArguments.goBackwards))")
    try checkArgument(
      forwardArguments.returnSequences == backwardArguments.returnSequences, owner: owner,
      argument: "backward_layer", value: "return_sequences \(backwardArguments.returnSequences)",
      expected: "the forward layer's return_sequences (\(forwardArguments.returnSequences))")
    mergeMode = config.mergeMode
    declaredInputShape = inputShape
  }

  /// The forward layer's weights, then the backward layer's (Keras' order).
  public var parameters: [Parameter] { forwardLayer.parameters + backwardLayer.parameters }

  /// Keras keeps them in `forward_layer/cell` and `backward_layer/cell`.
  public var kerasWeightLocations: [(group: String, index: Int)] {
    forwardLayer.kerasWeightLocations.map { ("forward_layer/" + $0.group, $0.index) }
      + backwardLayer.kerasWeightLocations.map { ("backward_layer/" + $0.group, $0.index) }
  }

  /// The groups' names as Keras writes them.
  public var kerasWeightGroupNames: [String: String] {
    var groups = ["forward_layer": names.forward, "backward_layer": names.backward]
    for (key, value) in forwardLayer.kerasWeightGroupNames {
      groups["forward_layer/" + key] = value
    }
    for (key, value) in backwardLayer.kerasWeightGroupNames {
      groups["backward_layer/" + key] = value
    }
    return groups
  }

  /// Both layers' dropout generators.
  public var generatorState: [UInt64] {
    get { forwardLayer.generatorState + backwardLayer.generatorState }
    set {
      let half = newValue.count / 2
      forwardLayer.generatorState = Array(newValue[..<half])
      backwardLayer.generatorState = Array(newValue[half...])
    }
  }

  /// Builds both layers; the output is theirs, its last axis doubled by `"concat"`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    var shape = try forwardLayer.build(inputShape: inputShape, generator: &generator)
    _ = try backwardLayer.build(inputShape: inputShape, generator: &generator)
    guard mergeMode != nil else {
      outputShapes = [shape, shape]
      return [2 * shape.reduce(1, *)]
    }
    if mergeMode == "concat" { shape[shape.count - 1] *= 2 }
    return shape
  }

  /// Both directions, merged.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    forwardLayer.inputMask = inputMask
    backwardLayer.inputMask = inputMask
    let y = try forwardLayer.run(x, training: training)
    var reversed = try backwardLayer.run(x, training: training)
    if forwardLayer.arguments.returnSequences { reversed = try Ops.flip(reversed, axis: 1) }
    switch mergeMode {
    case "sum": return try y + reversed
    case "ave": return try (y + reversed) * 0.5
    case "mul": return try y * reversed
    case "concat": return try Ops.concatenate([y, reversed], axis: -1)
    default:
      // Both directions, packed side by side per sequence (two outputs).
      let batch = y.shape[0], size = y.count / max(y.shape[0], 1)
      return try Ops.concatenate(
        [Ops.reshape(y, [batch, size]), Ops.reshape(reversed, [batch, size])], axis: 1)
    }
  }

  /// With `return_sequences`, the input's mask; else none.
  public func outputMask(for x: Tensor, inputMask: Tensor?) throws -> Tensor? {
    forwardLayer.arguments.returnSequences ? inputMask : nil
  }
}

/// Applies a layer to every step of a sequence (every slice along axis 1) with the same weights:
/// Keras' `TimeDistributed(layer)`. `TimeDistributed(Dense(4, activation: "softmax"))` gives one
/// prediction per step. The steps run as one batch through the wrapped layer; the mask passes on.
public final class TimeDistributed: OpsLayer, LayerContainer, KerasNestedWeights,
  MaskPreservingLayer
{
  /// The Keras arguments.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `layer`: the layer applied to each step.
    public var layer = Spec("Dense")

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["layer"]
  }

  /// The registry key: Keras' `TimeDistributed`.
  public static let identifier = "TimeDistributed"
  /// The layer applied to each step.
  public let layer: any Layer
  private let layerName: String
  /// Keras' `input_shape`, when given.
  public let declaredInputShape: [Int]?
  private var inputShape: [Int] = []
  private var stepShape: [Int] = []

  /// The arguments, with the wrapped layer's config as it is.
  public var config: Config {
    var config = Config()
    config.layer = wrappedSpec(layer, name: layerName)
    return config
  }

  /// A layer from a config.
  public convenience init(config: Config) throws { try self.init(config: config, inputShape: nil) }

  /// `TimeDistributed(Dense(10))`, as in Keras: `layer` itself is applied to each step.
  public init(_ layer: any Layer, inputShape: [Int]? = nil) throws {
    try checkArgument(
      !(layer is any MergeLayer), owner: Self.identifier, argument: "layer",
      value: layer.identifier, expected: "a layer of one input")
    self.layer = layer
    layerName = kerasSnakeCase(layer.identifier)
    declaredInputShape = inputShape
  }

  /// A layer from a config, with Keras' `input_shape`.
  public convenience init(config: Config, inputShape: [Int]?) throws {
    try self.init(
      wrappedLayer(config.layer, owner: Self.identifier, argument: "layer"), inputShape: inputShape)
  }

  /// The wrapped layer.
  public var sublayers: [any Layer] { [layer] }

  /// The wrapped layer's weights.
  public var parameters: [Parameter] { layer.parameters }

  /// Keras keeps them in the wrapped layer's group, `layer`.
  public var kerasWeightLocations: [(group: String, index: Int)] {
    if let nested = layer as? any KerasNestedWeights {
      return nested.kerasWeightLocations.map { ("layer/" + $0.group, $0.index) }
    }
    return layer.parameters.indices.map { ("layer", $0) }
  }

  /// The groups' names as Keras writes them.
  public var kerasWeightGroupNames: [String: String] {
    var groups = ["layer": layerName]
    if let nested = layer as? any KerasNestedWeights {
      for (key, value) in nested.kerasWeightGroupNames { groups["layer/" + key] = value }
    }
    return groups
  }

  /// Takes `(steps, …)`; builds the layer for one step's shape and gives `(steps, …its output)`.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    guard inputShape.count >= 2 else {
      throw StrataError.shapeMismatch(
        layer: Self.identifier, received: "input shape \(kerasShape(inputShape))",
        expected: "at least (steps, features): a step axis after the batch")
    }
    self.inputShape = inputShape
    stepShape = try layer.build(inputShape: Array(inputShape.dropFirst()), generator: &generator)
    return [inputShape[0]] + stepShape
  }

  /// The layer on every step, as one batch of `batch · steps`.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    try checkInput(x, layer: Self.identifier, expected: inputShape)
    let (batch, steps) = (x.shape[0], x.shape[1])
    let flat = try Ops.reshape(x, [batch * steps] + Array(x.shape.dropFirst(2)))
    let y = try layer(flat, training: training)
    return try Ops.reshape(y, [batch, steps] + Array(y.shape.dropFirst()))
  }
}
