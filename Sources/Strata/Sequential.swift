import Foundation
import StrataCore
import StrataLayers

/// A linear stack of layers: Keras' `Sequential`.
///
/// ```swift
/// let model = try Sequential([
///   Flatten(inputShape: [28, 28]),
///   Dense(128, activation: "relu"),
///   Dropout(0.2),
///   Dense(10, activation: "softmax"),
/// ])
/// model.summary()
/// ```
///
/// Layers can also be given by identifier and config (`try model.add("Dense", ["units": 128])`) or as a
/// whole Keras-shaped JSON config. Shapes are inferred as soon as the input shape is known (from an
/// `Input`, an `inputShape:` on the first layer, ``build(inputShape:)`` or the first batch), and a layer
/// that cannot take the shape it gets throws an error naming it.
public final class Sequential: Model {
  /// The input shape without the batch axis, once known.
  public private(set) var inputShape: [Int]?
  /// The input's element type, as its `Input` declared it: `"float32"`, or `"int32"`/`"int64"` for
  /// token ids. Saved with the model.
  public private(set) var inputDType = "float32"
  /// Each built layer's output shape without the batch axis.
  public private(set) var outputShapes: [[Int]] = []

  /// A model of `layers`.
  /// - Parameter seed: fixes initial weights, dropout masks and shuffling; random when `nil`.
  public init(_ layers: [any Layer] = [], name: String = "sequential", seed: UInt64? = nil) throws {
    super.init(name: name, seed: seed)
    for layer in layers { try add(layer) }
  }

  /// A model from a Keras-shaped config: a list of `{"class_name": …, "config": {…}}` records, or
  /// Keras' `{"class_name": "Sequential", "config": {"name": …, "layers": [...]}}`.
  public convenience init(config: ConfigValue, seed: UInt64? = nil) throws {
    var records = config.arrayValue
    var name = "sequential"
    if let object = config.objectValue {
      let inner = object["config"]?.objectValue ?? object
      records = inner["layers"]?.arrayValue
      name = inner["name"]?.stringValue ?? name
    }
    guard let records else {
      throw StrataError.invalidArgument(
        owner: "Sequential", argument: "config", value: String(config.description.prefix(80)),
        expected: "a list of {\"class_name\": …, \"config\": {…}} records")
    }
    try self.init(name: name, seed: seed)
    for (index, record) in records.enumerated() {
      guard let object = record.objectValue, let identifier = object["class_name"]?.stringValue
      else {
        throw StrataError.invalidArgument(
          owner: "Sequential", argument: "layers[\(index)]",
          value: String(record.description.prefix(80)),
          expected: "{\"class_name\": …, \"config\": {…}}")
      }
      try add(identifier, object["config"]?.objectValue ?? [:])
    }
  }

  /// A model from Keras-shaped JSON (see ``init(config:seed:)``).
  public convenience init(json: Data, seed: UInt64? = nil) throws {
    try self.init(config: try Model.modelConfig(json: json, owner: "Sequential"), seed: seed)
  }

  /// Appends `layer`, building it at once when the input shape is known.
  /// - Parameter name: the layer's name; Keras' automatic name when `nil`.
  public func add(_ layer: any Layer, name: String? = nil) throws {
    if let input = layer as? InputLayer {
      guard layers.isEmpty, inputShape == nil else {
        throw StrataError.invalidState("Sequential: an InputLayer can only come first.")
      }
      inputShape = input.shape
      inputDType = input.config.dtype
      return
    }
    let layerName = try uniqueName(name, for: layer)
    if layers.isEmpty, let declared = layer.declaredInputShape {
      if let inputShape, inputShape != declared {
        throw StrataError.shapeMismatch(
          layer: "\(layerName) (\(layer.identifier))", received: kerasShape(inputShape),
          expected: kerasShape(declared))
      }
      inputShape = declared
    }
    layers.append(layer)
    layerNames.append(layerName)
    invalidateInferencePlan()
    if let inputShape, outputShapes.count == layers.count - 1 {
      do {
        try buildLayer(at: layers.count - 1, inputShape: outputShapes.last ?? inputShape)
      } catch {
        layers.removeLast()
        layerNames.removeLast()
        throw error
      }
    }
  }

  /// Appends the layer registered as `identifier`, made from a Keras-style config
  /// (`["units": 128, "activation": "relu"]`). `name` and `input_shape` are read as Keras does.
  public func add(_ identifier: String, _ config: ConfigDictionary = [:]) throws {
    let layer = try Registries.shared.layers.make(identifier, config: config)
    if layer is InputLayer {
      try add(layer)
      return
    }
    if let shape = try declaredShape(in: config, owner: identifier) {
      if layers.isEmpty && inputShape == nil {
        inputShape = shape
      } else if layers.isEmpty, let inputShape, inputShape != shape {
        throw StrataError.shapeMismatch(
          layer: identifier, received: kerasShape(inputShape), expected: kerasShape(shape))
      }
    }
    if config["trainable"] == .bool(false) { layer.trainable = false }
    try add(layer, name: config["name"]?.stringValue)
  }

  /// Builds every layer for inputs of `inputShape` (without the batch axis).
  public override func build(inputShape: [Int]) throws {
    if let known = self.inputShape, known != inputShape {
      throw StrataError.shapeMismatch(
        layer: layerNames.first.map { "\($0) (\(layers[0].identifier))" } ?? name,
        received: kerasShape(inputShape), expected: kerasShape(known))
    }
    self.inputShape = inputShape
    invalidateInferencePlan()
    while outputShapes.count < layers.count {
      try buildLayer(at: outputShapes.count, inputShape: outputShapes.last ?? inputShape)
    }
  }

  /// The chain of layers, for the inference plan.
  override var inferenceGraph: InferenceGraph {
    InferenceGraph(chain: layers, shapes: [inputShape ?? []] + outputShapes)
  }

  /// Whether every layer has its weights.
  public override var isBuilt: Bool { inputShape != nil && outputShapes.count == layers.count }

  /// The output shape without the batch axis, once built.
  public var outputShape: [Int]? { isBuilt ? (outputShapes.last ?? inputShape) : nil }

  private func buildLayer(at index: Int, inputShape: [Int]) throws {
    let layer = layers[index]
    let label = "\(layerNames[index]) (\(layer.identifier))"
    // Shapes from a config or a file are checked before a layer sizes its weights by them.
    try Self.checkShape(
      inputShape, owner: label, argument: index == 0 ? "input_shape" : "input shape")
    do {
      let outputShape = try layer.build(inputShape: inputShape, generator: &generator)
      if let shapes = (layer as? any MultiOutputLayer)?.outputShapes {
        throw StrataError.invalidArgument(
          owner: label, argument: "outputs", value: "\(shapes.count) tensors",
          expected:
            "one tensor: a Sequential model chains single outputs (return_state needs a functional model)"
        )
      }
      layer.applyTrainable()
      try Self.checkShape(outputShape, owner: label, argument: "output shape")
      outputShapes.append(outputShape)
    } catch let error as StrataError {
      throw naming(error, layerAt: index)
    }
  }

  /// Refuses a shape with a dimension below 1 or more elements than one tensor may hold.
  static func checkShape(_ shape: [Int], owner: String, argument: String) throws {
    try checkArgument(
      shape.allSatisfy({ $0 > 0 }),
      owner: owner, argument: argument, value: kerasShape(shape),
      expected: "every dimension at least 1")
    _ = try elementCount(of: shape, owner: owner, argument: argument)
  }

  /// Puts the model's name of the layer into a shape error a layer threw about itself, and into an
  /// error about one of its weights.
  func naming(_ error: Error, layerAt index: Int) -> Error {
    let label = "\(layerNames[index]) (\(layers[index].identifier))"
    switch error as? StrataError {
    case .shapeMismatch(let layer, let received, let expected)?:
      return StrataError.shapeMismatch(
        layer: Ops.place(layer, label: label), received: received, expected: expected)
    case .invalidArgument("weight", let argument, let value, let expected)?:
      return StrataError.invalidArgument(
        owner: "\(label) weight", argument: argument, value: value, expected: expected)
    default:
      return error
    }
  }

  private func uniqueName(_ requested: String?, for layer: any Layer) throws -> String {
    if let requested {
      try checkArgument(
        !requested.isEmpty && !layerNames.contains(requested),
        owner: "Sequential", argument: "name", value: "'\(requested)'",
        expected: "a unique, non-empty layer name")
      return requested
    }
    let base = kerasLayerName(for: layer.identifier)
    var candidate = base
    var suffix = 0
    while layerNames.contains(candidate) {
      suffix += 1
      candidate = "\(base)_\(suffix)"
    }
    return candidate
  }

  /// The input shape a layer's config declares (`input_shape`, `batch_input_shape`, `batch_shape`,
  /// `input_dim`), every entry an integer.
  private func declaredShape(in config: ConfigDictionary, owner: String) throws -> [Int]? {
    func integers(_ values: [ConfigValue], key: String) throws -> [Int] {
      let shape = values.compactMap(\.intValue)
      try checkArgument(
        shape.count == values.count,
        owner: owner, argument: key,
        value: ConfigValue.array(values).description.prefix(200).description,
        expected: "a size for every axis after the batch axis")
      return shape
    }
    if let value = config["input_shape"], !value.isNull {
      guard let shape = value.arrayValue else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "input_shape", value: value.description,
          expected: "a list of sizes")
      }
      return try integers(shape, key: "input_shape")
    }
    for key in ["batch_input_shape", "batch_shape"] {
      if let value = config[key], !value.isNull {
        guard let shape = value.arrayValue, shape.count >= 2 else {
          throw StrataError.invalidArgument(
            owner: owner, argument: key, value: value.description.prefix(200).description,
            expected: "a batch axis, then a size for every axis")
        }
        return try integers(Array(shape.dropFirst()), key: key)
      }
    }
    // Keras 2's `input_dim` shorthand for `input_shape=(input_dim,)`; Embedding's `input_dim` is its
    // vocabulary size instead.
    if owner != "Embedding", let value = config["input_dim"], !value.isNull {
      guard let dimension = value.intValue else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "input_dim", value: value.description, expected: "an integer")
      }
      return [dimension]
    }
    return nil
  }

  // MARK: Running

  /// Makes the stack the graph functional models run: node 0 the input, node `i` layer `i - 1` on
  /// node `i - 1`'s value. Done when the model is built and again when a layer was added since.
  private func installChain() throws {
    guard let inputShape, isBuilt else {
      throw StrataError.invalidState("\(name): run before its layers were built")
    }
    guard nodes.count != layers.count + 1 else { return }
    let input = Node(
      layer: try InputLayer(config: InputLayer.Config(shape: inputShape, dtype: inputDType)),
      inputs: [], takesList: false, name: "input_layer", outputShape: inputShape)
    var chain = [input]
    for (layer, shape) in zip(layers, outputShapes) {
      let previous = chain[chain.count - 1]
      chain.append(
        Node(
          layer: layer, inputs: [SymbolicTensor(shape: previous.outputShape, node: previous)],
          takesList: false, name: nil, outputShape: shape))
    }
    nodes = chain
    inputNodes = [[]] + layers.indices.map { [$0] }
    outputNodes = [layers.count]
    // The input node has no layer of the stack: it counts as the first layer's (only its label,
    // for an input of the wrong shape, reads it).
    nodeLayer = [(0, 0)] + layers.indices.map { ($0, 0) }
    callCounts = Array(repeating: 1, count: layers.count)
    lastReaders = layers.indices.map { $0 + 1 } + [nil]
  }

  /// Checks that `x` is a batch of the model's input shape, building the model from it if needed.
  override func prepare(for x: [Tensor], argument: String = "x") throws {
    try checkArgument(
      x.count == 1,
      owner: name, argument: argument, value: "\(x.count) arrays",
      expected: "one: a Sequential model has one input")
    try prepare(for: x[0], argument: argument)
  }

  /// Checks that `x` is a batch of the model's input shape, building the model from it if needed.
  func prepare(for x: Tensor, argument: String = "x") throws {
    try checkArgument(
      x.rank >= 1,
      owner: name, argument: argument, value: "of shape \(x.shape)",
      expected: "a batch axis first")
    let sample = Array(x.shape.dropFirst())
    if !isBuilt { try build(inputShape: inputShape ?? sample) }
    guard sample == inputShape else {
      throw StrataError.shapeMismatch(
        layer: layerNames.first.map { "\($0) (\(layers[0].identifier))" } ?? name,
        received: kerasShape(sample), expected: kerasShape(inputShape ?? []))
    }
  }

  /// The one input shape, once known.
  public override var modelInputShapes: [[Int]]? { inputShape.map { [$0] } }
  /// The one output shape, once built.
  public override var modelOutputShapes: [[Int]]? { outputShape.map { [$0] } }
  override var outputNames: [String] { [layerNames.last ?? name] }
  override var inputNames: [String] { ["input_layer"] }

  override func run(_ inputs: [Tensor], context: Context) throws -> [Tensor] {
    try installChain()
    return try runGraph(inputs, context: context)
  }

  /// The chain backwards: the graph's backward pass.
  @discardableResult
  override func runBackward(
    _ outputGradients: [Tensor], fused: [Bool] = [], inputGradients: Bool = false,
    context: Context
  ) throws -> [Tensor] {
    try runGraphBackward(
      outputGradients, fused: fused, inputGradients: inputGradients, context: context)
  }

  override func softmaxHead(forOutput index: Int) -> (any SoftmaxHead)? {
    layers.last as? any SoftmaxHead
  }

  package override func buildForLoading(budget: AllocationBudget, path: String) throws {
    guard let inputShape else {
      throw StrataError.file(path: path, reason: "holds a model without an input shape")
    }
    do {
      try AllocationBudget.$current.withValue(budget) { try build(inputShape: inputShape) }
    } catch let error as StrataError {
      throw StrataError.file(
        path: path, reason: "describes a model that does not fit its weights: \(error)")
    }
  }

  override func summaryTable(lineLength: Int?) -> String {
    sequentialSummary(lineLength: lineLength ?? 65)
  }

  // MARK: Config

  /// Keras' model config: `{"class_name": "Sequential", "config": {"name": …, "layers": [...]}}`,
  /// the input layer first, each layer's `name` in its config.
  public override var config: ConfigValue {
    var records: [ConfigValue] = []
    if let inputShape {
      var input: ConfigDictionary = [
        "batch_shape": .array([.null] + inputShape.map { .int($0) }), "name": "input_layer",
      ]
      if inputDType != "float32" { input["dtype"] = .string(inputDType) }
      records.append(["class_name": "InputLayer", "config": .object(input)])
    }
    for (layer, layerName) in zip(layers, layerNames) {
      let config = layer.savedConfig(name: layerName)
      let identifier =
        (try? Registries.shared.layers.canonicalName(of: layer.identifier)) ?? layer.identifier
      records.append(["class_name": .string(identifier), "config": .object(config)])
    }
    return [
      "class_name": "Sequential", "config": ["name": .string(name), "layers": .array(records)],
    ]
  }
}
