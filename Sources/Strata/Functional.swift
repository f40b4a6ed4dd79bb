import Foundation
import StrataCore
import StrataLayers

/// A model built with Keras' functional API: layers applied to symbolic tensors, from inputs to outputs.
/// Layers may take several inputs (`Add`, `Concatenate`), be applied more than once (their weights
/// shared) and feed several outputs.
///
/// ```swift
/// let inputs = try Input(shape: [5, 5, 3])
/// let x = try Conv2D(3, 3, padding: "same", activation: "relu")(inputs)
/// let y = try Add()([inputs, x])
/// let outputs = try Dense(2)(try GlobalAveragePooling2D()(y))
/// let model = try Model(inputs: inputs, outputs: outputs)
/// ```
open class Model {
  /// The model's name: `"functional"` or `"sequential"` unless given.
  public let name: String
  /// The model's inputs, in the order `predict` takes their arrays (empty for a `Sequential`).
  public let inputs: [SymbolicTensor]
  /// The model's outputs, in the order `predict` returns them (empty for a `Sequential`).
  public let outputs: [SymbolicTensor]
  /// Every layer once in Keras' order: for a functional model input layers included, in the order of
  /// the graph; for a `Sequential` the stack, without its input layer.
  public internal(set) var layers: [any Layer] = []
  /// Each layer's name, given or Keras' automatic one (`dense`, `dense_1`, …).
  public internal(set) var layerNames: [String] = []
  /// The backend the layers run on; `"cpu"` (OpenBLAS and SIMD) by default.
  public var kernels: any Kernels = DefaultKernels()
  /// The generator a `Sequential`'s initial weights are drawn from.
  var generator: SeededGenerator
  /// The seed the model was created with.
  public let seed: UInt64
  /// The generator `fit` shuffles with, seeded from ``seed``.
  var shuffleGenerator: SeededGenerator
  /// What `compile` set up.
  package var compiled: Compiled?
  /// Set to `true` (from a callback) to end `fit` after the current batch. Keras' `model.stop_training`.
  public var stopTraining = false
  /// Set by a callback's `onTrainBegin` that restored a run: the epoch `fit` goes on from.
  public var resumeEpoch: Int?
  /// Whether the last `fit` ran all its epochs (not stopped by a callback).
  public internal(set) var completedTraining = false
  /// What `fit` does with the gradients between `backward` and the optimizer, in order (none by
  /// default): where gradients are combined across processes.
  public var gradientStages: [any GradientStage] = []
  /// The processes `fit` and `evaluate` share the work with: ``SingleProcess`` by default; a
  /// ``ThreadGroup`` member, or `MPICommunicator` from `StrataMPI`, for data-parallel training
  /// (Docs/Distributed.md).
  public var communicator: any Communicator = SingleProcess()
  /// The activity regularizers' penalty of the last forward pass (Keras adds it to the loss).
  var activityPenalty: Float = 0
  /// The outputs of activity-regularized layers in the last training forward pass, by layer (a
  /// `Sequential`) or node (a functional model).
  var activityOutputs: [Int: Tensor] = [:]
  /// The layer this model is when used inside another model.
  weak var wrapper: ModelLayer?
  /// Keras' `model.trainable`. Setting it sets every layer's ``Layer/trainable``, nested models'
  /// layers included, as Keras does: `base.trainable = false` freezes a base model for transfer
  /// learning, and its BatchNormalization layers then normalize with their moving statistics.
  /// Set it back to `true`, then freeze the layers to keep (`base.layers.prefix(100)`), to fine-tune
  /// the top; compile again after changing it, as in Keras.
  public var trainable = true {
    didSet {
      for layer in layers {
        if let nested = layer as? ModelLayer { nested.model.trainable = trainable }
        layer.trainable = trainable
      }
      wrapper?.trainable = trainable
    }
  }
  /// Every call of a layer, inputs first, each after the calls it depends on.
  var nodes: [Node]
  var nodeIndex: [ObjectIdentifier: Int] = [:]
  /// For each node, the index of its layer in ``layers`` and which call of that layer it is.
  var nodeLayer: [(layer: Int, call: Int)] = []
  var callCounts: [Int] = []
  /// For each node, the indices of the nodes its inputs come from (worked out once, used every step).
  var inputNodes: [[Int]] = []
  /// For each output, the index of the node producing it.
  var outputNodes: [Int] = []
  /// For each node, the last node that reads its value (`nil` for an output or an unread node):
  /// inference frees a value once its last reader ran, so peak memory is the live activations.
  var lastReaders: [Int?] = []
  /// How inference runs the graph (fused convolutions), worked out on the first inference run.
  var inferencePlan: InferencePlan {
    if let storedPlan { return storedPlan }
    let plan = InferencePlan(for: inferenceGraph)
    storedPlan = plan
    return plan
  }
  private var storedPlan: InferencePlan?
  /// Forgets the inference plan: the graph changed (a layer added to a `Sequential` model).
  func invalidateInferencePlan() { storedPlan = nil }
  /// What ``inferencePlan`` is worked out from.
  var inferenceGraph: InferenceGraph {
    InferenceGraph(
      layers: nodes.map { $0.inputs.isEmpty ? nil : $0.layer }, inputNodes: inputNodes,
      outputNodes: outputNodes, outputShapes: nodes.map(\.outputShape))
  }
  /// Whether inference runs ``inferencePlan`` (`false`: every node as it is, the tests' reference).
  var fusesInference = true
  /// The values of the last training forward pass, for replaying a shared layer's earlier calls.
  var lastValues: [Tensor?] = []
  /// The per-call state of shared layers that keep one (dropout, batch normalization), by node.
  var callStates: [Int: Any] = [:]
  /// For each node of the last training forward pass: whether a gradient has to pass through it
  /// (it or a node before it has trainable weights, or a model input whose gradient is wanted). The
  /// others — a frozen base and what comes before it — ran as inference and get no backward pass.
  var backwardNodes: [Bool] = []
  /// `fit`'s own step on a batch, while `fit` runs: what ``trainStep(_:)`` runs by default.
  var builtInTrainStep: ((Batch) throws -> Logs)?
  /// The vectorizers of the inputs that take text, by input position (Keras: `Input(dtype="string")`
  /// then `TextVectorization`); see ``setTextVectorization(_:forInput:name:)``.
  public internal(set) var textInputs: [Int: TextInput] = [:]

  /// A model without a graph, for `Sequential`, which keeps its own stack.
  init(name: String, seed: UInt64?) {
    self.name = name
    self.seed = seed ?? UInt64.random(in: 0...UInt64.max)
    generator = SeededGenerator(seed: self.seed)
    shuffleGenerator = SeededGenerator(seed: self.seed ^ 0x5348_5546_464C_45)  // "SHUFFLE"
    inputs = []
    outputs = []
    nodes = []
  }

  /// A model from `inputs` to `outputs`.
  /// - Parameter seed: fixes dropout masks and shuffling; random when `nil`. (Initial weights were
  ///   drawn when the layers were applied: see `setRandomSeed(_:)`.)
  /// - Throws: when an output is not computed from the inputs alone, or two layers share a name.
  public init(
    inputs: [any SymbolicInput], outputs: [SymbolicTensor], name: String = "functional",
    seed: UInt64? = nil
  ) throws {
    self.seed = seed ?? UInt64.random(in: 0...UInt64.max)
    generator = SeededGenerator(seed: self.seed)
    shuffleGenerator = SeededGenerator(seed: self.seed ^ 0x5348_5546_464C_45)  // "SHUFFLE"
    self.name = name
    self.inputs = try inputs.map { try $0.symbolicTensor }
    self.outputs = outputs
    try checkArgument(
      !self.inputs.isEmpty && !outputs.isEmpty,
      owner: name, argument: inputs.isEmpty ? "inputs" : "outputs", value: "an empty list",
      expected: "at least one tensor")
    let inputNodes = Set(self.inputs.map { ObjectIdentifier($0.node) })
    try checkArgument(
      inputNodes.count == self.inputs.count,
      owner: name, argument: "inputs", value: "the same input twice", expected: "distinct inputs")
    // Post-order over the graph from the outputs: every node after the nodes it reads.
    var order: [Node] = []
    var seen: Set<ObjectIdentifier> = []
    func visit(_ node: Node, from output: Int) throws {
      let id = ObjectIdentifier(node)
      if seen.contains(id) { return }
      if node.inputs.isEmpty {
        try checkArgument(
          inputNodes.contains(id),
          owner: name, argument: "outputs[\(output)]",
          value: "computed from an input that is not among the model's inputs",
          expected: "outputs computed from the given inputs alone")
      }
      for input in node.inputs { try visit(input.node, from: output) }
      seen.insert(id)
      order.append(node)
    }
    // Inputs first, in the given order, as Keras lists them.
    for input in self.inputs {
      seen.insert(ObjectIdentifier(input.node))
      order.append(input.node)
    }
    for (i, output) in outputs.enumerated() { try visit(output.node, from: i) }
    // Keras' order: by depth from the outputs, deepest first (ties in graph order), inputs first.
    var depth: [ObjectIdentifier: Int] = [:]
    for node in order.reversed() {
      let d = depth[ObjectIdentifier(node), default: 0]
      for input in node.inputs {
        let id = ObjectIdentifier(input.node)
        depth[id] = max(depth[id, default: 0], d + 1)
      }
    }
    let inner = order.dropFirst(self.inputs.count).enumerated().sorted {
      let a = depth[ObjectIdentifier($0.element), default: 0]
      let b = depth[ObjectIdentifier($1.element), default: 0]
      return a != b ? a > b : $0.offset < $1.offset
    }
    nodes = Array(order.prefix(self.inputs.count)) + inner.map(\.element)
    try assignLayers()
  }

  /// A model from Keras' functional config: `model.get_config()`, or the `{"class_name": "Functional",
  /// "config": {…}}` record of `to_json()` and `.keras` files. Layers are made through the registry and
  /// applied as each `inbound_nodes` entry says.
  /// - Parameter seed: fixes the initial weights, dropout and shuffling; random when `nil`.
  public convenience init(config: ConfigValue, seed: UInt64? = nil) throws {
    let seed = seed ?? UInt64.random(in: 0...UInt64.max)
    let graph = try Model.graph(config: config, seed: seed)
    try self.init(inputs: graph.inputs, outputs: graph.outputs, name: graph.name, seed: seed)
  }

  /// A model from Keras' functional JSON (`model.to_json()` or `get_config()` dumped).
  public convenience init(json: Data, seed: UInt64? = nil) throws {
    try self.init(config: try ConfigValue(json: json), seed: seed)
  }

  /// A model from one input to one output.
  public convenience init(
    inputs: some SymbolicInput, outputs: SymbolicTensor, name: String = "functional",
    seed: UInt64? = nil
  ) throws {
    try self.init(inputs: [inputs], outputs: [outputs], name: name, seed: seed)
  }

  private func assignLayers() throws {
    var layerIndex: [ObjectIdentifier: Int] = [:]
    for (i, node) in nodes.enumerated() { nodeIndex[ObjectIdentifier(node)] = i }
    inputNodes = nodes.map { $0.inputs.map { nodeIndex[ObjectIdentifier($0.node)]! } }
    outputNodes = outputs.map { nodeIndex[ObjectIdentifier($0.node)]! }
    lastReaders = Array(repeating: nil, count: nodes.count)
    for (reader, sources) in inputNodes.enumerated() {
      for source in sources { lastReaders[source] = reader }
    }
    for output in outputNodes { lastReaders[output] = nil }
    for node in nodes {
      let id = ObjectIdentifier(node.layer)
      if let index = layerIndex[id] {
        nodeLayer.append((index, callCounts[index]))
        callCounts[index] += 1
        continue
      }
      let index = layers.count
      layerIndex[id] = index
      layers.append(node.layer)
      callCounts.append(1)
      nodeLayer.append((index, 0))
      let given =
        node.name ?? (node.layer as? InputLayer)?.name ?? (node.layer as? ModelLayer)?.model.name
      if let given {
        try checkArgument(
          !given.isEmpty && !layerNames.contains(given),
          owner: name, argument: "layer name", value: "'\(given)'",
          expected: "a unique, non-empty name for every layer")
        layerNames.append(given)
      } else {
        layerNames.append("")
      }
    }
    // Automatic names after the given ones, so a given name is never taken by an automatic one.
    for i in layerNames.indices where layerNames[i].isEmpty {
      let base = kerasLayerName(for: layers[i].identifier)
      var candidate = base
      var suffix = 0
      while layerNames.contains(candidate) {
        suffix += 1
        candidate = "\(base)_\(suffix)"
      }
      layerNames[i] = candidate
    }
  }

  func label(_ node: Int) -> String {
    let layer = nodeLayer[node].layer
    return "\(layerNames[layer]) (\(layers[layer].identifier))"
  }

  // MARK: What a kind of model provides (Sequential overrides these)

  /// The shape of each input (without the batch axis), once known: Keras' `model.input_shape`.
  public var modelInputShapes: [[Int]]? { inputs.map(\.shape) }
  /// The shape of each output (without the batch axis), once built: Keras' `model.output_shape`.
  public var modelOutputShapes: [[Int]]? { outputs.map(\.shape) }

  /// Builds the model for inputs of `inputShape` (without the batch axis): a `Sequential` builds its
  /// layers; a functional model, built already, checks the shape against its one input.
  public func build(inputShape: [Int]) throws {
    try prepare(for: [Tensor(shape: [0] + inputShape)])
  }
  /// The names `fit` and `evaluate` key outputs by (the layers producing them).
  var outputNames: [String] { outputs.map { historyEntry(of: $0).name } }
  /// The names inputs are keyed by.
  var inputNames: [String] { inputs.map { historyEntry(of: $0).name } }

  /// Whether every layer has its weights.
  public var isBuilt: Bool { true }

  /// Checks that `x` holds one batch per input of the model's input shapes, building a model that
  /// is not built yet from them.
  func prepare(for x: [Tensor], argument: String = "x") throws {
    try checkArgument(
      x.count == inputs.count,
      owner: name, argument: argument, value: "\(x.count) arrays",
      expected: "\(inputs.count), one per model input (\(inputNames.joined(separator: ", ")))")
    for (i, (value, input)) in zip(x, inputs).enumerated()
    where value.rank != input.shape.count + 1 || Array(value.shape.dropFirst()) != input.shape {
      throw StrataError.shapeMismatch(
        layer: label(i), received: kerasShape(value.shape, batch: false),
        expected: kerasShape(input.shape))
    }
  }

  /// The output layer whose softmax a cross-entropy loss on output `index` may fuse with, if any: a
  /// layer called once whose output feeds nothing else.
  func softmaxHead(forOutput index: Int) -> (any SoftmaxHead)? {
    let node = nodeIndex[ObjectIdentifier(outputs[index].node)]!
    let layer = nodeLayer[node].layer
    guard callCounts[layer] == 1, !nodes[node].inputs.isEmpty,
      outputs.filter({ $0.node === nodes[node] }).count == 1,
      !nodes.contains(where: { $0.inputs.contains { $0.node === nodes[node] } })
    else { return nil }
    return layers[layer] as? any SoftmaxHead
  }

  /// Puts the model's name of a layer into errors about it (Sequential's layers name themselves).
  func describeLayer(at index: Int) -> String {
    "\(layerNames[index]) (\(layers[index].identifier))"
  }

  /// Builds a model read from a file, under the file's allocation budget (a functional model is built
  /// as its config is read).
  package func buildForLoading(budget: AllocationBudget, path: String) throws {}

  /// Keras' summary table.
  func summaryTable(lineLength: Int?) -> String { functionalSummary(lineLength: lineLength ?? 98) }

  /// Keras' config of the model.
  public var config: ConfigValue { functionalConfig }

  // MARK: Running (GraphExecution.swift; Sequential overrides these)

  /// Runs one batch of every input through the graph and returns every output.
  func run(_ inputValues: [Tensor], context: Context) throws -> [Tensor] {
    try runGraph(inputValues, context: context)
  }

  /// Runs the last training forward pass backward, from each output's gradient (see
  /// `runGraphBackward`).
  @discardableResult
  func runBackward(
    _ outputGradients: [Tensor], fused: [Bool] = [], inputGradients: Bool = false,
    context: Context
  ) throws -> [Tensor] {
    try runGraphBackward(
      outputGradients, fused: fused, inputGradients: inputGradients, context: context)
  }

  func nodeIndexOfLayer(_ node: Int) -> Int { nodeLayer[node].layer }
  func nodeOutputShape(_ node: Int) -> [Int] { nodes[node].outputShape }
  func historyEntry(of tensor: SymbolicTensor) -> (name: String, call: Int, tensor: Int) {
    // An output selector stands for output `index` of the call it unpacks.
    if let selector = tensor.node.layer as? OutputSelector, let packed = tensor.node.inputs.first {
      let source = historyEntry(of: packed)
      return (source.name, source.call, selector.index)
    }
    let (layer, call) = nodeLayer[nodeIndex[ObjectIdentifier(tensor.node)]!]
    return (layerNames[layer], call, 0)
  }

  // MARK: Training

  /// One training step on `batch`, as `fit` runs it for every batch: Keras' `train_step`. The
  /// default runs the built-in step (forward, the compiled loss, backward, gradient stages, the
  /// optimizer). A subclass overrides it to train its own way (a GAN, a VAE with a KL term) and
  /// returns the values to show and pass to callbacks; `fit` keeps its progress bar, callbacks and
  /// checkpoints. A custom step runs on one process only.
  open func trainStep(_ batch: Batch) throws -> Logs {
    try builtInStep(batch)
  }
}
