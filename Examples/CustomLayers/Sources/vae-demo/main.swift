// Trains the plugin's variational autoencoder on Fashion-MNIST with a training loop written from
// scratch: a tape records each step's losses (reconstruction and KL, both formulas on ops) and Adam
// applies their gradients.
//   vae-demo [epochs] [images]
import CustomLayers
import Foundation
import Strata
import StrataData

do {
  let arguments = CommandLine.arguments
  let epochs = arguments.count > 1 ? Int(arguments[1]) ?? 5 : 5
  let count = arguments.count > 2 ? Int(arguments[2]) ?? 6_000 : 6_000
  let (train, _) = try FashionMNIST.load()
  let x = try train.prefix(count).normalizedImages().reshaped(to: [count, 784])
  let vae = try VariationalAutoencoder(latent: 2, units: 128, seed: 1)
  let optimizer = try Adam(learningRate: 1e-3)
  let batch = 64
  for epoch in 1...epochs {
    var sums = (total: 0.0, reconstruction: 0.0, kl: 0.0)
    var start = 0
    let began = Date()
    while start < count {
      let rows = start..<min(start + batch, count)
      let losses = try vae.trainStep(x.slice(rows: rows), optimizer: optimizer)
      sums.total += Double(losses.total) * Double(rows.count)
      sums.reconstruction += Double(losses.reconstruction) * Double(rows.count)
      sums.kl += Double(losses.kl) * Double(rows.count)
      start = rows.upperBound
    }
    print(
      String(
        format: "epoch %d/%d  loss %.2f  reconstruction %.2f  kl %.3f  (%.1f s)", epoch, epochs,
        sums.total / Double(count), sums.reconstruction / Double(count), sums.kl / Double(count),
        Date().timeIntervalSince(began)))
  }
} catch {
  FileHandle.standardError.write(Data("error: \(error)\n".utf8))
  exit(1)
}
