import StrataCore

/// A model input that takes text: the vectorizer that turns each text into the numbers the input
/// holds, and the names Keras' files give the string input and the vectorizing layer.
public struct TextInput {
  /// Turns texts into the input's numbers (`StrataData`'s `TextVectorization`).
  public let vectorizer: any TextPreprocessing
  /// The name of Keras' `Input(dtype="string")` layer.
  public let inputName: String
}

extension Model {
  /// Makes input `position` take text: `vectorizer` turns each text into the numbers the input
  /// holds, as Keras' end-to-end model `Model(Input(shape=(1,), dtype="string"), model(vectorize(…)))`
  /// does. ``predict(texts:batchSize:)`` then takes strings, and `save(to: "….keras")` writes the
  /// string input and the `TextVectorization` layer, its vocabulary in the archive's assets.
  ///
  /// ```swift
  /// let vectorize = try TextVectorization(maxTokens: 20_000, outputSequenceLength: 64)
  /// try vectorize.adapt(trainingTexts)
  /// try model.setTextVectorization(vectorize)  // model's input: 64 token ids
  /// let scores = try model.predict(texts: ["what a film"])
  /// ```
  /// - Parameter name: the name of the string input in Keras' files (`"text_input"` by default).
  /// - Throws: when there is no input `position`, or the vectorizer's output is not that input's shape.
  public func setTextVectorization(
    _ vectorizer: any TextPreprocessing, forInput position: Int = 0, name: String? = nil
  ) throws {
    let shapes = modelInputShapes ?? []
    guard position >= 0, position < max(shapes.count, 1) else {
      throw StrataError.invalidArgument(
        owner: self.name, argument: "forInput", value: "\(position)",
        expected: "an input position from 0 to \(max(shapes.count, 1) - 1)")
    }
    let produced = try vectorizer.outputShape()
    if position < shapes.count, shapes[position] != produced {
      throw StrataError.shapeMismatch(
        layer: "\(vectorizer.kerasClassName) for input \(position) of \(self.name)",
        received: kerasShape(produced), expected: kerasShape(shapes[position]))
    }
    if shapes.isEmpty, let sequential = self as? Sequential {
      try sequential.build(inputShape: produced)
    }
    var inputName = name ?? "text_input"
    if name == nil {
      var suffix = 0
      let taken = Set(layerNames + textInputs.values.map(\.inputName))
      while taken.contains(inputName) {
        suffix += 1
        inputName = "text_input_\(suffix)"
      }
    }
    textInputs[position] = TextInput(vectorizer: vectorizer, inputName: inputName)
  }

  /// The numbers input `position` holds for `texts`: its vectorizer's output.
  /// - Throws: when the input does not take text.
  public func vectorize(_ texts: [String], input position: Int = 0) throws -> Tensor {
    guard let text = textInputs[position] else {
      throw StrataError.invalidState(
        "\(name): input \(position) takes numbers, not text (give it a TextVectorization with setTextVectorization, or load a Keras model whose input is dtype=\"string\")."
      )
    }
    return try text.vectorizer.modelInput(for: texts)
  }

  /// The model's output for each text: Keras' `predict` on an end-to-end text model.
  /// - Throws: when the model's one input does not take text.
  public func predict(texts: [String], batchSize: Int = 32) throws -> Tensor {
    let count = max(modelInputShapes?.count ?? 1, 1)
    guard count == 1 else {
      throw StrataError.invalidArgument(
        owner: "predict", argument: "texts", value: "for a model of \(count) inputs",
        expected: "predict([Tensor]) with each text input vectorized by vectorize(_:input:)")
    }
    return try predict(try vectorize(texts), batchSize: batchSize)
  }
}
