/// A learning rate that changes with the step: Keras' `keras.optimizers.schedules`. An optimizer given
/// one as its `learning_rate` evaluates it at its iteration count before each update (step `k`, from
/// 0, uses `learningRate(at: k)`), so a resumed run follows it exactly.
public protocol LearningRateSchedule: Sendable, Registrable {
  /// The registry key: Keras' class name (`"ExponentialDecay"`).
  static var identifier: String { get }
  init(config: Config) throws
  var config: Config { get }
  /// The learning rate at `step` (0-based), as a float32 like Keras'.
  func learningRate(at step: Int) -> Float
}

extension LearningRateSchedule {
  /// The registry of this kind among `registries`.
  public static func registry(in registries: Registries) -> Registry<any LearningRateSchedule> {
    registries.schedules
  }
  /// The value as the registry's product.
  public static func upcast(_ value: Self) -> any LearningRateSchedule { value }

  /// Keras' serialized form: `{"module": "keras.optimizers.schedules", "class_name": …, "config": …}`.
  public var serialized: ConfigValue {
    [
      "module": "keras.optimizers.schedules", "class_name": .string(Self.identifier),
      "config": .object((try? ConfigCoding.encode(config)) ?? [:]), "registered_name": .null,
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
