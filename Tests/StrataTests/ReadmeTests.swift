import Foundation
import Strata
import StrataData
import Testing

/// The README's ten lines, verbatim but for a slice of the data and one epoch, so that they keep compiling
/// and keep working.
@Test func readmeExampleRuns() throws {
  // /usr/share/datasets/fashion-mnist, nothing is downloaded
  let (fullTrain, fullTest) = try FashionMNIST.load()
  let (train, test) = (fullTrain.prefix(2000), fullTest.prefix(500))
  let model = try Sequential([
    Flatten(inputShape: [28, 28]), Dense(128, activation: "relu"), Dropout(0.2),
    Dense(10, activation: "softmax"),
  ])
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  try model.fit(train.normalizedImages(), train.labelTensor(), epochs: 1, verbose: 0)
  let logs = try model.evaluate(test.normalizedImages(), test.labelTensor(), verbose: 0)
  #expect(logs["accuracy"]! > 0.6)
  #expect(logs["loss"]! < 1.2)
}
