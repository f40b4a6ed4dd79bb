/// What turns a model's text input into numbers before its first layer: Keras' `TextVectorization`
/// applied to an `Input(shape=(1,), dtype="string")`.
///
/// A Strata tensor holds numbers, so the strings never enter the graph: the model keeps the
/// vectorizer beside the input it feeds (`Model.setTextVectorization(_:forInput:)`), applies it in
/// `predict` on texts, and Keras' files hold both as Keras writes them (the layer's config, its
/// vocabulary in the archive's assets, tf-idf weights in the weights file). `StrataData`'s
/// `TextVectorization` and `StringLookup` are the built-in ones.
public protocol TextPreprocessing: AnyObject {
  /// Keras' class name of the layer (`"TextVectorization"`).
  var kerasClassName: String { get }
  /// Keras' config of the layer, its vocabulary and idf weights left out (`null`): Keras keeps
  /// those in the file's assets and weights.
  var kerasAssetConfig: ConfigDictionary { get }
  /// The whole vocabulary, special tokens first: the lines of Keras' `vocabulary.txt` asset.
  var vocabulary: [String] { get }
  /// The idf weight of each vocabulary index, as wide as the output (tf-idf only; empty otherwise).
  var kerasIDFWeights: [Float] { get }
  /// The numbers of one text, without the batch axis (`[outputSequenceLength]` token ids, or one
  /// column per vocabulary index).
  /// - Throws: when the width is not fixed (token ids without `output_sequence_length`).
  func outputShape() throws -> [Int]
  /// The element type Keras gives the output: `"int64"` for token ids, `"float32"` otherwise.
  var outputDType: String { get }
  /// The numbers the model's input holds for `texts`, one sample each: `[texts] + outputShape()`.
  func modelInput(for texts: [String]) throws -> Tensor
}
