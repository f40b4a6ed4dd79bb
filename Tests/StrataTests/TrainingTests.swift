import Foundation
import Synchronization
@testable import Strata
import StrataData
import StrataTesting
import Testing

let trainingFixture = kerasFixture("training")

/// Records Keras' progress-bar loss after every batch.
final class LossRecorder: Callback {
  var losses: [Float] = []
  var batchEnds = 0, epochEnds = 0, trainBegins = 0, trainEnds = 0
  func onTrainBegin(logs: Logs, model: Model) { trainBegins += 1 }
  func onTrainEnd(logs: Logs, model: Model) { trainEnds += 1 }
  func onEpochEnd(_ epoch: Int, logs: Logs, model: Model) { epochEnds += 1 }
  func onTrainBatchEnd(_ batch: Int, logs: Logs, model: Model) {
    batchEnds += 1
    losses.append(logs["loss"]!)
  }
}

/// How the tutorial MLP's head and targets are written: Keras' fixture run uses class indices with a
/// softmax Dense; one-hot targets with `categorical_crossentropy` are the same mathematics, so the same
/// Keras numbers are the expected values for them, with the softmax in the Dense layer or in its own
/// `Activation("softmax")` layer.
enum TrainingHead: String, CaseIterable, Sendable {
  case sparse, oneHot, oneHotActivationLayer
}

/// Keras' deterministic run: the same initial weights, 256 Fashion-MNIST images, batch 32, no shuffling.
/// The loss after every step and the final weights must agree within 1e-4 relative.
@Test(arguments: trainingFixture.cases, TrainingHead.allCases)
func trainingMatchesKeras(_ fixture: KerasCase, head: TrainingHead) throws {
  let (train, _) = try FashionMNIST.load()
  let data = train.prefix(256)
  let layers: [any Layer] =
    try head == .oneHotActivationLayer
    ? [
      Flatten(inputShape: [28, 28]), Dense(32, activation: "relu"), Dense(10),
      try ActivationLayer("softmax"),
    ]
    : [
      Flatten(inputShape: [28, 28]), Dense(32, activation: "relu"),
      Dense(10, activation: "softmax"),
    ]
  let model = try Sequential(layers)
  try model.setWeights(try fixture.tensors("initial_weights"))
  let optimizer = try #require(fixture["optimizer"]?.stringValue)
  var targets = data.labelTensor()
  if head == .sparse {
    try model.compile(
      optimizer: optimizer, loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  } else {
    var oneHot = Tensor(shape: [256, 10])
    for (i, label) in data.labels.enumerated() { oneHot[i, Int(label)] = 1 }
    targets = oneHot
    try model.compile(optimizer: optimizer, loss: "categorical_crossentropy", metrics: ["accuracy"])
    #expect(
      try model.makeMetric(
        "accuracy", predictionShape: [1, 10], targetShape: [1, 10], loss: model.loss!
      ).metricName == "categorical_accuracy")
  }
  let recorder = LossRecorder()
  let history = try model.fit(
    data.normalizedImages(), targets, batchSize: 32, epochs: 2, verbose: 0, shuffle: false,
    callbacks: [recorder])
  let expectedLosses = try #require(fixture["running_mean_loss_after_each_step"]?.arrayValue).map {
    Float($0.doubleValue!)
  }
  #expect(recorder.losses.count == expectedLosses.count)
  for (step, (actual, expected)) in zip(recorder.losses, expectedLosses).enumerated() {
    #expect(
      abs(actual - expected) <= 1e-4 * abs(expected),
      "\(optimizer) step \(step + 1): \(actual) vs \(expected)")
  }
  let expectedHistory = try #require(fixture["history"]?.objectValue)
  for key in ["loss", "accuracy"] {
    let expected = expectedHistory[key]!.arrayValue!.map { Float($0.doubleValue!) }
    let actual = try #require(history[key])
    for (a, e) in zip(actual, expected) {
      #expect(abs(a - e) <= 1e-4 * abs(e), "\(optimizer) \(key): \(actual) vs \(expected)")
    }
  }
  #expect(history.epochs == [0, 1])
  #expect(Set(history.history.keys) == ["loss", "accuracy"])
  for (actual, expected) in zip(model.weights, try fixture.tensors("final_weights")) {
    #expect(
      isClose(actual, expected, rtol: 1e-4, atol: 1e-5),
      "\(optimizer) final weights: \(closeness(actual, expected, rtol: 1e-4, atol: 1e-5))")
  }
  #expect(
    recorder.trainBegins == 1 && recorder.trainEnds == 1 && recorder.epochEnds == 2
      && recorder.batchEnds == 16)
}

func tinyData(_ count: Int, classes: Int = 3, seed: UInt64 = 1) -> (Tensor, Tensor) {
  var generator = SeededGenerator(seed: seed)
  var x = Tensor(shape: [count, 4])
  var y = Tensor(shape: [count])
  for i in 0..<count {
    let label = Int(generator.next() % UInt64(classes))
    y[i] = Float(label)
    for j in 0..<4 { x[i, j] = Float(generator.nextNormal()) * 0.3 + (j == label ? 1 : 0) }
  }
  return (x, y)
}

@Test func accuracyIsResolvedFromShapesAsKerasDoes() throws {
  func resolved(outputUnits: Int, targetShape: [Int], loss: String) throws -> String {
    let model = try Sequential([Input(shape: [4]), Dense(outputUnits)])
    try model.compile(optimizer: "sgd", loss: loss, metrics: ["acc"])
    return try model.makeMetric(
      "acc", predictionShape: [8, outputUnits], targetShape: targetShape, loss: model.loss!
    ).metricName
  }
  #expect(
    try resolved(outputUnits: 1, targetShape: [8, 1], loss: "binary_crossentropy")
      == "binary_accuracy")
  #expect(
    try resolved(outputUnits: 3, targetShape: [8], loss: "sparse_categorical_crossentropy")
      == "sparse_categorical_accuracy")
  #expect(
    try resolved(outputUnits: 3, targetShape: [8, 1], loss: "sparse_categorical_crossentropy")
      == "sparse_categorical_accuracy")
  #expect(
    try resolved(outputUnits: 3, targetShape: [8, 3], loss: "categorical_crossentropy")
      == "categorical_accuracy")
}

@Test func fitHistoryHoldsTrainingAndValidationMetricsUnderTheirGivenNames() throws {
  let (x, y) = tinyData(120)
  let model = try Sequential(
    [Input(shape: [4]), Dense(8, activation: "tanh"), Dense(3, activation: "softmax")], seed: 5)
  let topTwo = try Registries.shared.metrics.make(
    "sparse_top_k_categorical_accuracy", config: ["k": 2])
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["acc", topTwo])
  let history = try model.fit(x, y, batchSize: 16, epochs: 3, verbose: 0, validationSplit: 0.25)
  #expect(
    Set(history.history.keys) == [
      "loss", "acc", "sparse_top_k_categorical_accuracy", "val_loss", "val_acc",
      "val_sparse_top_k_categorical_accuracy",
    ])
  #expect(history["loss"]!.count == 3)
  // The validation numbers are evaluate's on the held-out quarter (the last 30 samples)…
  let heldOut = x.slice(rows: 90..<120), heldOutLabels = y.slice(rows: 90..<120)
  let evaluation = try model.evaluate(heldOut, heldOutLabels, verbose: 0)
  #expect(abs(evaluation["loss"]! - history["val_loss"]!.last!) < 1e-6)
  #expect(abs(evaluation["acc"]! - history["val_acc"]!.last!) < 1e-6)
  // … and agree with accuracies counted by hand from the predictions: top-1 and top-2 of 3 classes.
  let predictions = try model.predict(heldOut)
  var top1 = 0, top2 = 0
  for r in 0..<30 {
    let row = (0..<3).map { predictions[r, $0] }, label = Int(heldOutLabels[r])
    let above = row.filter { $0 > row[label] }.count
    if above == 0 { top1 += 1 }
    if above < 2 { top2 += 1 }
  }
  #expect(abs(history["val_acc"]!.last! - Float(top1) / 30) < 1e-6)
  #expect(abs(history["val_sparse_top_k_categorical_accuracy"]!.last! - Float(top2) / 30) < 1e-6)
  #expect(top2 < 30 || top1 < top2, "the top-2 check must be able to differ from top-1 and from 1")
  // Labels out of range or NaN count as misses instead of trapping.
  let metric = try SparseTopKCategoricalAccuracy(config: .init(k: 2))
  try metric.update(
    prediction: try Tensor([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.2, 0.6]]),
    target: Tensor([.nan, 7, 2]))
  #expect(abs(metric.result - 1.0 / 3) < 1e-6)
}

@Test func theSameSeedGivesTheSameHistory() throws {
  let (x, y) = tinyData(200)
  func run(_ seed: UInt64) throws -> History {
    let model = try Sequential(
      [
        Input(shape: [4]), Dense(16, activation: "relu"), Dropout(0.3),
        Dense(3, activation: "softmax"),
      ], seed: seed)
    try model.compile(
      optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return try model.fit(x, y, batchSize: 10, epochs: 4, verbose: 0)
  }
  let a = try run(3), b = try run(3), c = try run(4)
  #expect(a == b)
  #expect(a != c)
  #expect(a["loss"]!.last! < a["loss"]!.first!)
}

@Test func callbacksCanStopTraining() throws {
  let (x, y) = tinyData(300)
  let model = try Sequential(
    [Input(shape: [4]), Dense(16, activation: "relu"), Dense(3, activation: "softmax")], seed: 2)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  // The tutorial's "stop once accuracy passes a threshold", as a LambdaCallback.
  let stopAt = LambdaCallback(onEpochEnd: { _, logs, model in
    if logs["accuracy", default: 0] > 0.9 { model.stopTraining = true }
  })
  let history = try model.fit(x, y, batchSize: 16, epochs: 50, verbose: 0, callbacks: [stopAt])
  #expect(history.epochs.count < 50)
  #expect(history["accuracy"]!.last! > 0.9)
  #expect(history["accuracy"]!.dropLast().allSatisfy { $0 <= 0.9 })
}

@Test func earlyStoppingWaitsForPatienceAndRestoresTheBestWeights() throws {
  let (x, y) = tinyData(100)
  let model = try Sequential([Input(shape: [4]), Dense(3, activation: "softmax")], seed: 2)
  try model.compile(optimizer: try SGD(learningRate: 0), loss: "sparse_categorical_crossentropy")
  // With a learning rate of 0 nothing improves: training stops after `patience` more epochs.
  let stopping = try EarlyStopping(monitor: "loss", patience: 2)
  let history = try model.fit(x, y, epochs: 20, verbose: 0, callbacks: [stopping])
  #expect(history.epochs == [0, 1, 2])
  #expect(stopping.stoppedEpoch == 2)
  // A learning rate far too large: the loss gets worse after its best epoch, and the weights of that
  // epoch (recorded by a callback that runs first) are the ones the model ends with.
  let diverging = try Sequential([Input(shape: [4]), Dense(3, activation: "softmax")], seed: 2)
  try diverging.compile(
    optimizer: try SGD(learningRate: 40), loss: "sparse_categorical_crossentropy")
  var weightsAfterEpoch: [[Tensor]] = []
  let recorder = LambdaCallback(onEpochEnd: { _, _, model in
    weightsAfterEpoch.append(model.weights)
  })
  let restoring = try EarlyStopping(monitor: "loss", patience: 2, restoreBestWeights: true)
  let divergingHistory = try diverging.fit(
    x, y, batchSize: 10, epochs: 30, verbose: 0, shuffle: false, callbacks: [recorder, restoring])
  let losses = divergingHistory["loss"]!
  let bestEpoch = losses.indices.min { losses[$0] < losses[$1] }!
  #expect(
    losses.count == bestEpoch + 3,
    "stopped \(losses.count - bestEpoch - 1) epochs after the best, \(losses)")
  #expect(diverging.weights == weightsAfterEpoch[bestEpoch])
  #expect(diverging.weights != weightsAfterEpoch.last!)
  // A falling loss never stops it.
  try model.compile(optimizer: try SGD(learningRate: 0.1), loss: "sparse_categorical_crossentropy")
  let patient = try EarlyStopping(monitor: "loss", patience: 1)
  #expect(try model.fit(x, y, epochs: 5, verbose: 0, callbacks: [patient]).epochs.count == 5)
  #expect(
    throws: StrataError.invalidArgument(
      owner: "EarlyStopping", argument: "patience", value: "-1", expected: "a number ≥ 0")
  ) { try EarlyStopping(patience: -1) }
}

@Test func reduceLROnPlateauAndTerminateOnNaN() throws {
  let (x, y) = tinyData(64)
  let model = try Sequential([Input(shape: [4]), Dense(3, activation: "softmax")], seed: 2)
  // No epoch improves by 10: after each epoch past the first the rate halves, down to min_lr:
  // 0.1 → 0.05 → 0.04 (clamped) → 0.04.
  try model.compile(optimizer: try SGD(learningRate: 0.1), loss: "sparse_categorical_crossentropy")
  let reduce = try ReduceLROnPlateau(
    monitor: "loss", factor: 0.5, patience: 1, minDelta: 10, minLearningRate: 0.04)
  var rates: [Float] = []
  let recorder = LambdaCallback(onEpochEnd: { _, _, model in
    rates.append(model.optimizer!.learningRate)
  })
  try model.fit(x, y, epochs: 4, verbose: 0, callbacks: [reduce, recorder])
  #expect(rates == [0.1, 0.05, 0.04, 0.04])
  try model.compile(optimizer: try SGD(learningRate: 0.1), loss: "sparse_categorical_crossentropy")
  let plateau = try ReduceLROnPlateau(monitor: "loss", factor: 0.5, patience: 1, minDelta: 10)
  try model.fit(x, y, epochs: 3, verbose: 0, callbacks: [plateau])
  #expect(abs(model.optimizer!.learningRate - 0.025) < 1e-7)

  var bad = x
  bad[3, 1] = .nan
  let nanModel = try Sequential([Input(shape: [4]), Dense(1)], seed: 1)
  try nanModel.compile(optimizer: "sgd", loss: "mse")
  let terminate = TerminateOnNaN()
  let history = try nanModel.fit(
    bad, y, batchSize: 8, epochs: 3, verbose: 0, shuffle: false, callbacks: [terminate])
  #expect(terminate.terminatedAtBatch == 0)
  #expect(history.epochs == [0])
}

@Test func csvLoggerWritesOneRowPerEpoch() throws {
  let (x, y) = tinyData(40)
  let model = try Sequential([Input(shape: [4]), Dense(3, activation: "softmax")], seed: 2)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let path = FileManager.default.temporaryDirectory.appendingPathComponent(
    "strata-\(UUID().uuidString).csv"
  ).path
  let history = try model.fit(x, y, epochs: 3, verbose: 0, callbacks: [CSVLogger(path)])
  let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
  #expect(lines.first == "epoch,accuracy,loss")
  #expect(lines.count == 4)
  #expect(lines[2].hasPrefix("1,\(history["accuracy"]![1]),\(history["loss"]![1])"))
}

@Test func badTrainingInputGetsClearErrors() throws {
  let (x, y) = tinyData(20)
  let model = try Sequential([Input(shape: [4]), Dense(3, activation: "softmax")])
  #expect(
    throws: StrataError.invalidState(
      "sequential: call compile(optimizer:loss:metrics:) before fit.")
  ) {
    try model.fit(x, y, verbose: 0)
  }
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  #expect(
    throws: StrataError.invalidArgument(
      owner: "sequential", argument: "y", value: "with 10 samples",
      expected: "as many samples as x (20)")
  ) {
    try model.fit(x, y.slice(rows: 0..<10), verbose: 0)
  }
  var outOfRange = y
  outOfRange[5] = 7
  #expect(
    throws: StrataError.invalidArgument(
      owner: "sparse_categorical_crossentropy", argument: "label", value: "7.0",
      expected: "a class index in 0..<3")
  ) {
    try model.fit(x, outOfRange, verbose: 0)
  }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "sparse_categorical_crossentropy", argument: "y", value: "of shape (None, 5)",
      expected: "one class index per sample for outputs of shape (None, 3)")
  ) { try model.fit(x, Tensor(shape: [20, 5]), verbose: 0) }
  #expect(
    throws: StrataError.shapeMismatch(
      layer: "dense (Dense)", received: "(None, 5)", expected: "(None, 4)")
  ) { try model.fit(Tensor(shape: [20, 5]), y, verbose: 0) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "fit", argument: "batchSize", value: "0", expected: "a positive integer")
  ) { try model.fit(x, y, batchSize: 0, verbose: 0) }
  #expect(
    throws: StrataError.invalidArgument(
      owner: "fit", argument: "validationSplit", value: "1.0", expected: "a number in [0, 1)")
  ) { try model.fit(x, y, verbose: 0, validationSplit: 1) }
  #expect(
    throws: StrataError.unknownIdentifier(
      kind: "optimizer", identifier: "adamm", suggestions: ["adam", "adamw"])
  ) { try model.compile(optimizer: "adamm", loss: "mse") }
  #expect(
    throws: StrataError.unknownIdentifier(
      kind: "metric", identifier: "accuracyy", suggestions: ["acc", "accuracy"])
  ) { try model.compile(optimizer: "adam", loss: "mse", metrics: ["accuracyy"]) }
  try model.compile(optimizer: "adam", loss: "mse")
  #expect(
    throws: StrataError.invalidArgument(
      owner: "mean_squared_error", argument: "y", value: "of shape (None,)",
      expected: "targets of the model\'s output shape (None, 3)")
  ) { try model.fit(x, y, verbose: 0) }  // mse needs targets of shape (3,)
}

@Test func regressionWithLossNamesAsMetrics() throws {
  var generator = SeededGenerator(seed: 9)
  var x = Tensor(shape: [64, 3]), y = Tensor(shape: [64, 1])
  for i in 0..<64 {
    for j in 0..<3 { x[i, j] = Float(generator.nextNormal()) }
    y[i, 0] = 2 * x[i, 0] - x[i, 1] + 0.5
  }
  let model = try Sequential([Input(shape: [3]), Dense(1)], seed: 1)
  try model.compile(
    optimizer: try SGD(learningRate: 0.05), loss: "mse",
    metrics: ["mae", "mean_squared_error", "huber"])
  let history = try model.fit(x, y, batchSize: 8, epochs: 30, verbose: 0)
  #expect(history["loss"]!.last! < 0.01)
  #expect(history["mae"]!.last! < 0.1)
  let logs = try model.evaluate(x, y, verbose: 0)
  #expect(abs(logs["loss"]! - logs["mean_squared_error"]!) < 1e-6)
}

@Test func progressBarLooksLikeKeras() {
  let bar = ProgressBar(target: 1875, verbosity: .progressBar)
  #expect(
    bar.render(1875, values: [("loss", 0.4958), ("accuracy", 0.8248)], elapsed: 2.2, final: true)
      == "1875/1875 [==============================] - 2s 1ms/step - loss: 0.4958 - accuracy: 0.8248"
  )
  #expect(
    bar.render(32, values: [("loss", 1.25)], elapsed: 4, final: false)
      == "  32/1875 [..............................] - ETA: 3:50 - loss: 1.2500")
  #expect(
    bar.render(938, values: [], elapsed: 1, final: false).hasPrefix(
      " 938/1875 [==============>...............] - ETA: 1s"))
  let line = ProgressBar(target: 313, verbosity: .oneLinePerEpoch)
  #expect(
    line.render(313, values: [("loss", 0.00012)], elapsed: 0.03, final: true)
      == "313/313 - 0s - 96us/step - loss: 1.2000e-04")
  #expect(
    Verbosity(integerLiteral: 0) == .silent && Verbosity(integerLiteral: 2) == .oneLinePerEpoch)
}

@Test func accuracyByNameOutsideCompileIsExactMatch() throws {
  let metric = try Registries.shared.metrics.make("acc")
  try metric.update(prediction: Tensor([1, 2, 3, 4]), target: Tensor([1, 0, 3, 0]))
  #expect(metric.result == 0.5)
}

/// Collects what `fit` prints, for one test.
final class PrintedText: Sendable {
  private let text = Mutex("")
  var value: String { text.withLock { $0 } }
  func append(_ more: String) { text.withLock { $0 += more } }
}

/// What Keras users read: at verbose 2 one line per epoch, at verbose 1 the bar's last draw; both show
/// the running mean of the batch losses (what the callbacks get), never the last batch's loss.
@Test(arguments: [1, 2], [true, false])
func fitPrintsTheRunningLoss(verbose: Int, validate: Bool) throws {
  let (x, y) = tinyData(60)
  let model = try Sequential(
    [Input(shape: [4]), Dense(8, activation: "tanh"), Dense(3, activation: "softmax")], seed: 7)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let recorder = LossRecorder()
  let printed = PrintedText()
  let history = try Console.$sink.withValue({ printed.append($0) }) {
    try model.fit(
      x.slice(rows: 0..<48), y.slice(rows: 0..<48), batchSize: 16, epochs: 2,
      verbose: Verbosity(integerLiteral: verbose),
      validationData: validate ? (x.slice(rows: 48..<60), y.slice(rows: 48..<60)) : nil,
      callbacks: [recorder])
  }
  // 48 training samples in batches of 16: 3 steps an epoch.
  let lastOfEpoch = [recorder.losses[2], recorder.losses[5]]
  // The last batch's own loss (3 · mean₃ − 2 · mean₂) differs from the mean in the 4 printed digits,
  // so a bar that showed it would fail below.
  for epoch in 0..<2 {
    let lastBatch = 3 * recorder.losses[3 * epoch + 2] - 2 * recorder.losses[3 * epoch + 1]
    #expect(String(format: "%.4f", lastBatch) != String(format: "%.4f", lastOfEpoch[epoch]))
  }
  // Each epoch's final line: its loss, accuracy and validation values as the history holds them.
  let finalLines = printed.value.split(separator: "\n").map {
    $0.split(separator: "\r").last.map(String.init) ?? ""
  }
  .filter { $0.hasPrefix("3/3") }
  #expect(finalLines.count == 2, "\(printed.value.debugDescription)")
  for (epoch, line) in finalLines.enumerated() {
    var expected = ["loss": lastOfEpoch[epoch], "accuracy": history["accuracy"]![epoch]]
    if validate {
      expected["val_loss"] = history["val_loss"]![epoch]
      expected["val_accuracy"] = history["val_accuracy"]![epoch]
    } else {
      #expect(!line.contains("val_"))
    }
    for (key, value) in expected {
      #expect(
        line.contains(" - \(key): \(String(format: "%.4f", value))"),
        "epoch \(epoch + 1) line \(line) lacks \(key) \(value)")
    }
    #expect(
      verbose == 1 ? line.contains("[==============================]") : !line.contains("["),
      "\(line)")
  }
  #expect(printed.value.contains("Epoch 1/2\n") && printed.value.contains("Epoch 2/2\n"))
  #expect(abs(history["loss"]![1] - lastOfEpoch[1]) < 1e-6)
}
