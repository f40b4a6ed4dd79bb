import Foundation
@testable import Strata
import StrataData
import StrataTesting
import Testing

/// The user error paths no test reached before (the test audit's list): each names the layer, argument
/// or file and the value received.
@Test func userErrorPathsNameTheProblem() throws {
  #expect(
    throws: StrataError.invalidArgument(
      owner: "Dense", argument: "activation", value: "3",
      expected: "an identifier string or {\"class_name\": …, \"config\": {…}}, received 3")
  ) {
    try Sequential(
      json: Data(
        #"[{"class_name": "Dense", "config": {"units": 2, "activation": 3, "input_shape": [2]}}]"#
          .utf8))
  }
  #expect(
    refusal {
      try Registries.shared.initializers.make("random_uniform", config: ["minval": 2, "maxval": 1])
    }
      == .invalidArgument(
        owner: "RandomUniform", argument: "maxval", value: "1.0", expected: "at least minval (2.0)")
  )
  #expect(
    refusal { try Registries.shared.initializers.make("variance_scaling", config: ["scale": 0]) }
      == .invalidArgument(
        owner: "VarianceScaling", argument: "scale", value: "0.0", expected: "a positive number"))
  #expect(
    refusal {
      try Registries.shared.initializers.make("variance_scaling", config: ["mode": "fan_sideways"])
    }
      == .invalidArgument(
        owner: "VarianceScaling", argument: "mode", value: "'fan_sideways'",
        expected: "'fan_in', 'fan_out' or 'fan_avg'"))
  #expect(
    refusal {
      try Registries.shared.initializers.make(
        "variance_scaling", config: ["distribution": "cauchy"])
    }
      == .invalidArgument(
        owner: "VarianceScaling", argument: "distribution", value: "'cauchy'",
        expected: "'truncated_normal', 'untruncated_normal' or 'uniform'"))
  #expect(
    refusal { try ZeroPadding2D(config: .init(top: -1, bottom: 0, left: 0, right: 0)) }
      == .invalidArgument(
        owner: "ZeroPadding2D", argument: "padding", value: "((-1, 0), (0, 0))",
        expected: "sizes from 0 to 1048576"))
  #expect(
    refusal {
      try Registries.shared.layers.make("InputLayer", config: ["batch_shape": [nil, nil, 3]])
    }
      == .invalidArgument(
        owner: "InputLayer", argument: "shape", value: "(None, 3)",
        expected: "positive sizes for every axis after the batch axis"))
  #expect(
    refusal { try Registries.shared.layers.make("InputLayer", config: ["shape": [0, 3]]) }
      == .invalidArgument(
        owner: "InputLayer", argument: "shape", value: "(0, 3)",
        expected: "positive sizes for every axis after the batch axis"))
  #expect(
    refusal {
      try Registries.shared.metrics.make("categorical_accuracy").update(
        prediction: Tensor(shape: [2, 3]), target: Tensor(shape: [2, 4]))
    }
      == .invalidArgument(
        owner: "categorical_accuracy", argument: "y", value: "of shape [2, 4]",
        expected: "the prediction's shape [2, 3]"))
  let model = try Sequential([Dense(2, inputShape: [3])])
  try model.compile(optimizer: "adam", loss: "mse")
  #expect(
    refusal {
      try model.optimizer!.restore(
        state: [Tensor([1])], iterations: 1, parameters: model.parameters)
    }
      == .invalidArgument(
        owner: "Adam", argument: "state", value: "of 1 tensors",
        expected: "4 (2 per trainable parameter)"))
  #expect(
    refusal {
      try model.optimizer!.restore(
        state: (0..<4).map { _ in Tensor([1]) }, iterations: 1, parameters: model.parameters)
    }
      == .invalidArgument(
        owner: "Adam", argument: "state", value: "of shapes [[1], [1]]",
        expected: "the shape of parameter 'kernel', [3, 2]"))
  #expect(
    refusal { try Sequential(config: ["class_name": "Sequential", "config": ["layers": 3]]) }
      == .invalidArgument(
        owner: "Sequential", argument: "config",
        value: #"{"class_name":"Sequential","config":{"layers":3}}"#,
        expected: "a list of {\"class_name\": …, \"config\": {…}} records"))
  #expect(
    refusal { try model.build(inputShape: [4]) }
      == .shapeMismatch(layer: "dense (Dense)", received: "(None, 4)", expected: "(None, 3)"))
  #expect(
    refusal {
      try model.fit(
        Tensor(shape: [20, 3]), Tensor(shape: [20, 2]), verbose: 0, validationSplit: 0.01)
    }
      == .invalidArgument(
        owner: "fit", argument: "validationSplit", value: "0.01",
        expected: "a fraction that leaves samples on both sides of 20"))
  // Custom training loops: a gradient of the wrong shape into backward.
  var generator = SeededGenerator(seed: 1)
  let conv = try Conv2D(2, kernelSize: 3)
  _ = try conv.build(inputShape: [5, 5, 1], generator: &generator)
  _ = try conv.forward(Tensor(shape: [1, 5, 5, 1]), in: Context(isTraining: true))
  #expect(
    refusal { try conv.backward(Tensor(shape: [1, 2, 2, 2]), in: Context(isTraining: true)) }
      == .shapeMismatch(
        layer: "Conv2D (backward)", received: "(1, 2, 2, 2)", expected: "(1, 3, 3, 2)"))
  let dropout = try Dropout(0.5)
  _ = try dropout.build(inputShape: [4], generator: &generator)
  _ = try dropout.forward(Tensor(shape: [2, 4]), in: Context(isTraining: true))
  #expect(
    refusal { try dropout.backward(Tensor(shape: [2, 5]), in: Context(isTraining: true)) }
      == .shapeMismatch(layer: "Dropout (backward)", received: "(2, 5)", expected: "(2, 4)"))
  #expect(
    refusal { try LabeledImages(images: IDXArray(shape: [2, 1, 1], bytes: [1, 2]), labels: [1]) }
      == .invalidArgument(
        owner: "LabeledImages", argument: "labels", value: "1 labels", expected: "one per image (2)"
      ))
}
