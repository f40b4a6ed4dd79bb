import Foundation
import Strata
import StrataTesting
import Testing

func bytes(hex: String) -> [UInt8] {
  var result: [UInt8] = []
  var index = hex.startIndex
  while index < hex.endIndex {
    let next = hex.index(index, offsetBy: 2)
    result.append(UInt8(hex[index..<next], radix: 16)!)
    index = next
  }
  return result
}

/// The two records Keras 3.15 wrote (../shared/notes/tensorboard.md), byte for byte.
@Test func eventRecordsMatchKerasBytes() throws {
  let version = bytes(
    hex:
      "3e00000000000000d9d240e7090000809253c1da411a0d627261696e2e4576656e743a3252240a2274656e736f72666c6f772e636f72652e7574696c2e6576656e74735f777269746572f6326d78"
  )
  #expect(EventCoding.record(EventCoding.fileVersion(wallTime: 1_795_509_834)) == version)
  let accuracy = bytes(
    hex:
      "36000000000000004f578cef0910cabd9253c1da412a2b0a290a0e65706f63685f6163637572616379420a0801120022040000a03e4a0b0a090a077363616c617273542529d2"
  )
  let wallTime = Double(
    bitPattern: bytes(hex: "10cabd9253c1da41").enumerated().reduce(UInt64(0)) {
      $0 | UInt64($1.element) << ($1.offset * 8)
    })
  #expect(
    EventCoding.record(
      EventCoding.scalar(tag: "epoch_accuracy", value: 0.3125, step: 0, wallTime: wallTime))
      == accuracy)
  // CRC-32C's check value.
  #expect(EventCoding.crc32c(Array("123456789".utf8)) == 0xE306_9283)
}

/// A run's scalars read back record by record: the tags, steps and values Keras' callback writes.
@Test func tensorBoardWritesWhatKerasWrites() throws {
  let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
    "tb-\(UUID().uuidString)")
  defer { try? FileManager.default.removeItem(at: directory) }
  let (x, y) = tinyData(64)
  let model = try Sequential(
    [Input(shape: [4]), Dense(8, activation: "relu"), Dense(3, activation: "softmax")], seed: 4)
  try model.compile(
    optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
  let history = try model.fit(
    x, y, batchSize: 16, epochs: 2, verbose: .silent, validationSplit: 0.25,
    callbacks: [TensorBoard(directory.path, updateFrequency: .batches(2))])
  let runs = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
  #expect(runs == ["train", "validation"])
  let trainEvents = try TensorBoardReader.events(inRun: directory.appendingPathComponent("train"))
  #expect(trainEvents.first?.fileVersion == "brain.Event:2")
  let train = try TensorBoardReader.scalars(inRun: directory.appendingPathComponent("train"))
  #expect(
    Set(train.keys) == [
      "epoch_loss", "epoch_accuracy", "epoch_learning_rate", "batch_loss", "batch_accuracy",
    ])
  #expect(train["epoch_loss"]?.map(\.step) == [0, 1])
  #expect(train["epoch_loss"]?.map(\.value) == history["loss"])
  #expect(train["epoch_accuracy"]?.map(\.value) == history["accuracy"])
  #expect(train["epoch_learning_rate"]?.map(\.value) == [0.001, 0.001])
  // 48 training samples: 3 batches an epoch, batch scalars at global batches 2, 4, 6.
  #expect(train["batch_loss"]?.map(\.step) == [2, 4, 6])
  #expect(train["batch_loss"]?.last?.value == history["loss"]?.last)
  let validation = try TensorBoardReader.scalars(
    inRun: directory.appendingPathComponent("validation"))
  #expect(validation["epoch_loss"]?.map(\.value) == history["val_loss"])
  #expect(validation["epoch_accuracy"]?.map(\.value) == history["val_accuracy"])
  #expect(validation["evaluation_loss_vs_iterations"]?.map(\.step) == [3, 6])
  #expect(validation["evaluation_loss_vs_iterations"]?.map(\.value) == history["val_loss"])
  #expect(validation.keys.allSatisfy { !$0.contains("val_") })

  // A flipped byte is caught by the record's checksum.
  let run = directory.appendingPathComponent("train")
  let name = try #require(try FileManager.default.contentsOfDirectory(atPath: run.path).first)
  var data = try Data(contentsOf: run.appendingPathComponent(name))
  data[data.count - 10] ^= 0x01
  try data.write(to: run.appendingPathComponent(name))
  #expect(throws: StrataError.self) { try TensorBoardReader.events(inRun: run) }
  data.removeLast(3)
  try data.write(to: run.appendingPathComponent(name))
  #expect(throws: StrataError.self) { try TensorBoardReader.events(inRun: run) }
}
