import Foundation
import Strata
import StrataData
import StrataSeedModels

/// The sequence seed models' training rows: word-language (an LSTM over character ids),
/// word-transformer (a Transformer block over them) and sequential-mnist (an LSTM over
/// Fashion-MNIST's rows), batch 32, the fastest of 3 runs (Benchmarks/peers/sequence_seeds.py
/// times the same models in Keras).
func sequenceModelRows(_ options: Options) throws -> [Row] {
  var rows: [Row] = []
  let batch = 32
  func row(_ name: String, steps: Int, x: Tensor, y: Tensor) throws {
    let model = try SeedModel(rawValue: name)!.make(seed: 1)
    try SeedModel(rawValue: name)!.compile(model)
    rows.append(
      try trainingRow(
        "train \(name) b\(batch)", model, x: x.slice(rows: 0..<(steps * batch)),
        y: y.slice(rows: 0..<(steps * batch)), batch: batch, steps: steps))
  }
  if options.wantsAny("train word-language b32", "train word-transformer b32") {
    let (train, _) = try WordLanguages.load()
    let vectorize = try TextVectorization(
      maxTokens: SeedModel.characterVocabulary, standardize: nil, split: "character",
      outputSequenceLength: SeedModel.wordLength)
    try vectorize.adapt(train.words)
    // Every 7th word: all languages mixed, as a shuffled epoch has them.
    let order = (0..<train.words.count).map { ($0 * 7) % train.words.count }
    let x = try vectorize(order.map { train.words[$0] })
    let y = try Tensor(shape: [order.count], scalars: order.map { Float(train.labels[$0]) })
    let steps = options.quick ? 50 : 300
    for name in ["word-language", "word-transformer"] where options.wantsAny("train \(name) b32") {
      try row(name, steps: steps, x: x, y: y)
    }
  }
  if options.wantsAny("train sequential-mnist b32") {
    let (train, _) = try FashionMNIST.load()
    let steps = options.quick ? 20 : 100
    let data = train.prefix(steps * batch)
    try row("sequential-mnist", steps: steps, x: data.normalizedImages(), y: data.labelTensor())
  }
  return rows
}
