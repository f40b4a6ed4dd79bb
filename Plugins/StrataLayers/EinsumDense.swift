import StrataCore

/// A dense layer whose product is an einsum: `y = activation(einsum(equation, x, kernel) + bias)`,
/// the kernel's and bias's shapes worked out from the equation, the input's shape and
/// `output_shape` as Keras works them out.
///
/// Keras: `EinsumDense(equation, output_shape, activation=None, bias_axes=None,
/// kernel_initializer="glorot_uniform", bias_initializer="zeros", …)`, for example
/// `EinsumDense("abc,cd->abd", output_shape=(None, 64), bias_axes="d")` (a `Dense` over the last
/// axis) or `"abc,cde->abde"` (a projection into heads, as `MultiHeadAttention`'s). The equation
/// names the input (batch axis first), the kernel and the output, one letter per axis; `...` on
/// the left of the input and output (`"...b,bc->...c"`) stands for the axes before. The kernel's
/// initial values are drawn with the fans of its input and output axes, as Keras' are. LoRA and
/// quantization are refused by name. Written forward-only on ``StrataCore/Ops/einsum(_:_:)``.
public final class EinsumDense: OpsLayer {
  /// The Keras arguments, each with its default.
  public struct Config: Equatable, KerasConfig {
    /// Keras' `equation`: `"input,kernel->output"`.
    public var equation = ""
    /// Keras' `output_shape`: the output's shape without the batch axis (a number for one axis;
    /// `null` entries are taken from the input).
    public var outputShape: ConfigValue = .null
    /// Keras' `activation` (`null`: none).
    public var activation: Spec?
    /// Keras' `bias_axes`: the output letters the bias spans (`null`: no bias).
    public var biasAxes: String?
    /// Keras' `kernel_initializer`.
    public var kernelInitializer: Spec = "glorot_uniform"
    /// Keras' `bias_initializer`.
    public var biasInitializer: Spec = "zeros"
    /// Keras' `kernel_regularizer`.
    public var kernelRegularizer: Spec?
    /// Keras' `bias_regularizer`.
    public var biasRegularizer: Spec?
    /// Keras' `activity_regularizer`.
    public var activityRegularizer: Spec?
    /// Keras' `kernel_constraint`.
    public var kernelConstraint: Spec?
    /// Keras' `bias_constraint`.
    public var biasConstraint: Spec?
    /// Keras' `lora_rank` (`null` only).
    public var loraRank: Int?

    /// Keras' defaults.
    public init() {}

    /// Keras' arguments without a default.
    public static let requiredArguments: Set<String> = ["equation", "output_shape"]
  }

  /// The registry key: Keras' `EinsumDense`.
  public static let identifier = "EinsumDense"
  /// The arguments the layer was made with.
  public let config: Config
  private let options: WeightOptions
  private let activation: Spec
  /// The input, kernel and output letters; `left` when `...` leads the input and output.
  private let input: [Character], weight: [Character], output: [Character], left: Bool
  private let partialOutput: [Int?]
  private var inputShape: [Int] = []
  /// The kernel; `nil` until built.
  public private(set) var kernel: Parameter?
  /// The bias (over `bias_axes`, broadcast along the output's last axes); `nil` until built or
  /// without `bias_axes`.
  public private(set) var bias: Parameter?

  /// A layer from a config.
  public init(config: Config) throws {
    let owner = Self.identifier
    func refuse(_ argument: String, _ value: String, _ expected: String) -> StrataError {
      .invalidArgument(owner: owner, argument: argument, value: value, expected: expected)
    }
    let text = config.equation.replacingOccurrences(of: " ", with: "")
    let sides = text.components(separatedBy: "->")
    let operands = sides.first?.components(separatedBy: ",") ?? []
    let isLetters = { (part: String) in
      !part.isEmpty && part.allSatisfy { $0.isASCII && $0.isLetter }
    }
    var (inputSpec, outputSpec) = (operands.first ?? "", sides.count == 2 ? sides[1] : "")
    let left = inputSpec.hasPrefix("...") && outputSpec.hasPrefix("...")
    if left {
      (inputSpec, outputSpec) = (String(inputSpec.dropFirst(3)), String(outputSpec.dropFirst(3)))
    }
    guard sides.count == 2, operands.count == 2, isLetters(inputSpec), isLetters(operands[1]),
      isLetters(outputSpec), Set(inputSpec).count == inputSpec.count,
      Set(operands[1]).count == operands[1].count, Set(outputSpec).count == outputSpec.count
    else {
      throw refuse(
        "equation", "'\(config.equation.prefix(80))'",
        "'input,kernel->output' with one letter per axis (batch first), each once; '...' may lead the input and output"
      )
    }
    (input, weight, output, self.left) = (
      Array(inputSpec), Array(operands[1]), Array(outputSpec), left
    )
    for letter in output where !input.contains(letter) && !weight.contains(letter) {
      throw refuse(
        "equation", "'\(config.equation)'",
        "output letters ('\(letter)') that the input or kernel has")
    }
    for letter in weight where !input.contains(letter) && !output.contains(letter) {
      throw refuse(
        "equation", "'\(config.equation)'",
        "kernel letters ('\(letter)') that the input or output has")
    }
    switch config.outputShape {
    case .int(let n) where n > 0: partialOutput = [n]
    case .array(let entries):
      partialOutput = try entries.map { entry in
        if entry.isNull { return nil }
        guard let n = entry.intValue, n > 0 else {
          throw refuse("output_shape", config.outputShape.description, "positive sizes or None")
        }
        return n
      }
    default:
      throw refuse(
        "output_shape", config.outputShape.description,
        "the output's shape without the batch axis: a positive number or a list")
    }
    if let biasAxes = config.biasAxes {
      for letter in biasAxes where !output.contains(letter) {
        throw refuse("bias_axes", "'\(biasAxes)'", "letters of the output '\(outputSpec)'")
      }
    }
    if let rank = config.loraRank {
      throw refuse("lora_rank", "\(rank)", "null (LoRA is not supported)")
    }
    options = try WeightOptions(
      WeightArguments(
        useBias: config.biasAxes != nil, kernelInitializer: config.kernelInitializer,
        biasInitializer: config.biasInitializer, kernelConstraint: config.kernelConstraint,
        biasConstraint: config.biasConstraint, kernelRegularizer: config.kernelRegularizer,
        biasRegularizer: config.biasRegularizer, activityRegularizer: config.activityRegularizer))
    activation = config.activation ?? "linear"
    _ = try Registries.shared.activation(activation)
    self.config = config
  }

  /// `EinsumDense("abc,cd->abd", outputShape: [nil, 64], biasAxes: "d")`, as Keras'.
  public convenience init(
    _ equation: String, outputShape: [Int?], activation: Spec? = nil, biasAxes: String? = nil,
    kernelInitializer: Spec = "glorot_uniform"
  ) throws {
    var config = Config()
    config.equation = equation
    config.outputShape = .array(outputShape.map { $0.map(ConfigValue.int) ?? .null })
    (config.activation, config.biasAxes) = (activation, biasAxes)
    config.kernelInitializer = kernelInitializer
    try self.init(config: config)
  }

  /// The kernel, then the bias.
  public var parameters: [Parameter] { [kernel, bias].compactMap { $0 } }

  /// Works out the kernel's and bias's shapes as Keras' `_analyze_split_string` does, and the
  /// output's.
  public func build(inputShape: [Int], generator: inout SeededGenerator) throws -> [Int] {
    let owner = Self.identifier
    let full = [0] + inputShape  // the batch axis first, as the equation names it
    let elided = full.count - input.count
    guard elided >= 0, elided == 0 || left else {
      throw StrataError.shapeMismatch(
        layer: owner, received: "an input of shape \(kerasShape(inputShape))",
        expected: "\(input.count - 1) axes after the batch axis, as '\(config.equation)' names")
    }
    // The output: batch, the elided axes, then output_shape (its nils from the input).
    var outputShape: [Int?] = [0] + full.dropFirst().prefix(max(elided - 1, 0)).map { Optional($0) }
    outputShape += partialOutput
    guard outputShape.count == output.count + elided else {
      throw StrataError.invalidArgument(
        owner: owner, argument: "output_shape",
        value: "(\(partialOutput.map { $0.map(String.init) ?? "None" }.joined(separator: ", ")))",
        expected: "\(output.count - 1) sizes, one per output letter after the batch")
    }
    let inputAxis = Dictionary(uniqueKeysWithValues: input.enumerated().map { ($1, $0 + elided) })
    let outputAxis = Dictionary(uniqueKeysWithValues: output.enumerated().map { ($1, $0 + elided) })
    for (letter, axis) in outputAxis where outputShape[axis] == nil {
      guard let source = inputAxis[letter], source > 0 else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "output_shape", value: "None for '\(letter)'",
          expected: "a size for each output axis the input does not have")
      }
      outputShape[axis] = full[source]
    }
    for letter in input {
      if let o = outputAxis[letter], let i = inputAxis[letter], i > 0, outputShape[o] != full[i] {
        throw StrataError.shapeMismatch(
          layer: owner,
          received: "input size \(full[i]) and output size \(outputShape[o] ?? 0) of '\(letter)'",
          expected: "the same size for a letter the input and output share")
      }
    }
    var kernelShape: [Int] = []
    var (fanIn, fanOut) = (1, 1)
    for letter in weight {
      if let axis = outputAxis[letter], axis > 0, let size = outputShape[axis] {
        kernelShape.append(size)
        fanOut *= size
      } else if let axis = inputAxis[letter], axis > 0 {
        kernelShape.append(full[axis])
        fanIn *= full[axis]
      } else {
        throw StrataError.invalidArgument(
          owner: owner, argument: "equation", value: "'\(config.equation)'",
          expected: "kernel letters that name input or output axes after the batch")
      }
    }
    _ = try elementCount(of: kernelShape, owner: owner)
    var biasShape: [Int]?
    if let biasAxes = config.biasAxes {
      let first = output.firstIndex { biasAxes.contains($0) } ?? output.count
      biasShape = output[first...].map { letter in
        biasAxes.contains(letter) ? (outputShape[outputAxis[letter]!] ?? 1) : 1
      }
    }
    // Drawn as a [fan in, fan out] matrix, Keras' fans for its input and output axes.
    let made = try options.makeWeights(
      kernelShape: [fanIn, fanOut], units: 0, biasShape: biasShape, generator: &generator)
    made.kernel.value = try made.kernel.value.reshaped(to: kernelShape)
    (kernel, bias) = made
    self.inputShape = inputShape
    return outputShape.dropFirst().map { $0 ?? 0 }
  }

  /// `activation(einsum(equation, x, kernel) + bias)`.
  public func call(_ x: Tensor, training: Bool) throws -> Tensor {
    guard let kernel else { throw StrataError.invalidState("EinsumDense: called before build.") }
    try checkInput(x, layer: Self.identifier, expected: inputShape)
    var y = try einsum(x, kernel.value)
    if let bias { y = try y + bias.value }
    return try Ops.activation(activation, y)
  }

  /// The einsum, the axes `...` stands for folded into one first.
  private func einsum(_ x: Tensor, _ w: Tensor) throws -> Tensor {
    let (i, k, o) = (String(input), String(weight), String(output))
    guard left else { return try Ops.einsum("\(i),\(k)->\(o)", x, w) }
    let lead = Array(x.shape.prefix(x.rank - input.count))
    let folded = try Ops.reshape(x, [lead.reduce(1, *)] + Array(x.shape.suffix(input.count)))
    guard
      let free = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".first(where: {
        !input.contains($0) && !weight.contains($0) && !output.contains($0)
      })
    else {
      throw StrataError.invalidArgument(
        owner: Self.identifier, argument: "equation", value: "'\(config.equation)'",
        expected: "a letter left free for the axes '...' stands for")
    }
    let y = try Ops.einsum("\(free)\(i),\(k)->\(free)\(o)", folded, w)
    return try Ops.reshape(y, lead + Array(y.shape.dropFirst()))
  }
}

extension EinsumDense: ActivityRegularized {
  /// Keras' `activity_regularizer`, resolved.
  public var activityRegularizer: (any Regularizer)? { options.activityRegularizer }
}
