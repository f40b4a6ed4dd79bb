import StrataCore

/// What ``checkLayer(_:inputShape:parameterCount:outputShape:seed:)`` found wrong; empty when the layer conforms.
public struct ConformanceReport: Sendable, CustomStringConvertible {
  /// What is wrong, one line each.
  public var problems: [String] = []
  /// Whether nothing is wrong.
  public var passed: Bool { problems.isEmpty }
  public var description: String { passed ? "conforms" : problems.joined(separator: "\n") }
}

/// Checks what every layer must do, in the spirit of Keras' `run_layer_test`:
/// - `build` creates `parameterCount` scalars (when given) and returns `outputShape` (when given);
/// - every ``Parameter`` `build` creates is listed in ``Layer/parameters`` (a weight left out would
///   never be trained, saved or counted);
/// - `forward` returns the shape `build` announced, for batches of 1 and 3;
/// - the config survives a round trip through the registry: a layer made from
///   `identifier` and `configDictionary`, given the same weights, computes the same output.
///
/// - Parameter inputShape: the input shape without the batch axis.
public func checkLayer(
  _ layer: any Layer, inputShape: [Int], parameterCount: Int? = nil, outputShape: [Int]? = nil,
  seed: UInt64 = 11
) -> ConformanceReport {
  var report = ConformanceReport()
  let name = type(of: layer).identifier
  do {
    var generator = SeededGenerator(seed: seed)
    let tracker = ParameterTracker()
    let built = try ParameterTracker.$current.withValue(tracker) {
      try layer.build(inputShape: inputShape, generator: &generator)
    }
    let listed = Set(layer.parameters.map(ObjectIdentifier.init))
    let forgotten = tracker.parameters.filter { !listed.contains(ObjectIdentifier($0)) }
    if !forgotten.isEmpty {
      report.problems.append(
        "\(name): build created the weights \(forgotten.map(\.name)) but `parameters` does not list them; they would never be trained or saved"
      )
    }
    if let outputShape, built != outputShape {
      report.problems.append("\(name): build returned \(built), expected \(outputShape)")
    }
    if let parameterCount, layer.parameterCount != parameterCount {
      report.problems.append(
        "\(name): \(layer.parameterCount) parameters, expected \(parameterCount)")
    }
    var x = Tensor(shape: [3] + inputShape)
    x.withUnsafeMutableBufferPointer {
      for i in $0.indices { $0[i] = Float(generator.nextNormal()) }
    }
    let context = Context()
    let y = try layer.forward(x, in: context)
    if y.shape != [3] + built {
      report.problems.append(
        "\(name): forward returned \(y.shape) for a batch of 3, build announced \(built)")
    }
    let single = try layer.forward(x.slice(rows: 0..<1), in: context)
    if single.shape != [1] + built {
      report.problems.append("\(name): forward returned \(single.shape) for a batch of 1")
    }
    let copy = try Registries.shared.layers.make(name, config: layer.configDictionary)
    _ = try copy.build(inputShape: inputShape, generator: &generator)
    let original = layer.parameters, copied = copy.parameters
    if original.map(\.shape) != copied.map(\.shape) {
      report.problems.append(
        "\(name): the registry's copy has parameters \(copied.map(\.shape)), not \(original.map(\.shape))"
      )
    } else {
      for (target, source) in zip(copied, original) { target.value = source.value }
      let y2 = try copy.forward(x, in: context)
      if y2 != y {
        report.problems.append("\(name): the registry's copy computes a different output")
      }
    }
  } catch {
    report.problems.append("\(name): \(error)")
  }
  return report
}
