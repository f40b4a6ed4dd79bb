/// A built-in layer that stands for a Keras class outside `keras.layers`, such as the layers
/// `keras.applications` define for themselves (ConvNeXt's `LayerScale`): `.keras` files name its
/// module and registered name so that Keras finds the class again.
public protocol KerasModuleLayer: Layer {
  /// The Python module of the Keras class (`"keras.src.applications.convnext"`).
  static var kerasModule: String { get }
}

/// A layer that stands for an operation node of a Keras functional model: `x + 3.0` on a Keras
/// tensor is recorded in Keras' config as the operation (`keras.src.ops.numpy`'s `Add`) with its
/// constant argument, not as a layer. Such a layer writes its own record in a functional config.
public protocol KerasOperationNode: Layer {
  /// Keras' record of this operation applied to `tensors` (Keras tensor records) under `name`:
  /// module, class name, config, registered name and `inbound_nodes` with the constants in place.
  func kerasRecord(name: String, tensors: [ConfigValue]) -> ConfigDictionary
}

/// A layer whose Keras class takes no `trainable` argument (Keras' `SpatialDropout1D` and
/// `SpatialDropout2D` accept only their own arguments, `name` and `dtype`): saved configs leave the
/// flag out, or Keras could not load them.
public protocol KerasTakesNoTrainable: Layer {}

extension Layer {
  /// The config a saved model records for this layer under `name`: its arguments, `name` and, unless
  /// its Keras class refuses it, `trainable`.
  public func savedConfig(name: String) -> ConfigDictionary {
    var config = configDictionary
    config["name"] = .string(name)
    if !(self is any KerasTakesNoTrainable) { config["trainable"] = .bool(trainable) }
    return config
  }
}

/// A layer whose weights Keras keeps in sub-objects of the layer's group in `model.weights.h5`
/// rather than in its own `vars`: a recurrent layer's sit in its cell (`layers/lstm/cell/vars/0`),
/// a wrapper's in the layer it wraps.
public protocol KerasNestedWeights: Layer {
  /// For each parameter in Keras' order (trainable first): the group holding it, relative to the
  /// layer's (`"cell"`, `"forward_layer/cell"`), and its index in that group's `vars`.
  var kerasWeightLocations: [(group: String, index: Int)] { get }
  /// The name Keras gives each such group's `vars` (its `name` attribute), by group.
  var kerasWeightGroupNames: [String: String] { get }
}

/// A layer with state Keras saves under a name in the layer's `vars` group rather than as a numbered
/// weight (`IntegerLookup`'s tf-idf weights: `layers/integer_lookup/vars/idf_weights`). Strata keeps
/// such state in the layer's config; a saved `.keras` file carries it in both places, as Keras does.
public protocol KerasOwnVariables: Layer {
  /// The named tensors, written to `vars/<name>`.
  var kerasOwnVariables: [(name: String, value: Tensor)] { get }
}

/// A layer whose Keras call passes its tensors as several arguments or keywords rather than one
/// tensor or one list (`MultiHeadAttention()(query, value, key=…, attention_mask=…,
/// use_causal_mask=True)`): it reads such a call from a Keras functional config and writes its own.
public protocol KerasCallSignature: MergeLayer {
  /// The inputs of a call Keras recorded with `args` and `kwargs`; `tensor` resolves a Keras
  /// tensor record. Keywords that are not tensors (`use_causal_mask`) set the layer's call options.
  func inputs(
    ofKerasCall args: [ConfigValue], kwargs: ConfigDictionary,
    tensor: (ConfigValue) throws -> SymbolicTensor
  ) throws -> [SymbolicTensor]
  /// Keras' `args` and `kwargs` for a call on `tensors` (Keras tensor records, one per input).
  func kerasCall(tensors: [ConfigValue]) -> (args: [ConfigValue], kwargs: ConfigDictionary)
}
