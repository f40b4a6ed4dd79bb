/// A learning rate that changes with the step: Keras' `keras.optimizers.schedules`. An optimizer given
/// one as its `learning_rate` evaluates it at its iteration count before each update (step `k`, from
/// 0, uses `learningRate(at: k)`), so a resumed run follows it exactly.
public protocol LearningRateSchedule: Sendable, Registrable
where Product == any LearningRateSchedule {
  /// The learning rate at `step` (0-based), as a float32 like Keras'.
  func learningRate(at step: Int) -> Float
}

extension LearningRateSchedule {
  /// Keras' serialized form: `{"module": "keras.optimizers.schedules", "class_name": …, "config": …}`.
  public var serialized: ConfigValue {
    [
      "module": "keras.optimizers.schedules", "class_name": .string(Self.identifier),
      "config": .object(configDictionary), "registered_name": .null,
    ]
  }
}

extension Registries {
  /// The schedule a Keras record names (`{"class_name": "ExponentialDecay", "config": {…}}`).
  public func schedule(_ record: ConfigValue) throws -> any LearningRateSchedule {
    guard let object = record.objectValue, let name = object["class_name"]?.stringValue else {
      throw StrataError.invalidArgument(
        owner: "learning_rate", argument: "schedule",
        value: record.description.prefix(120).description,
        expected: "a number or {\"class_name\": …, \"config\": {…}}")
    }
    return try schedules.make(name, config: object["config"]?.objectValue ?? [:])
  }
}
