import Strata
var generator = SeededGenerator(seed: 9)
var x = Tensor(shape: [64, 3]), y = Tensor(shape: [64, 1])
for i in 0..<64 {
  for j in 0..<3 { x[i, j] = Float(generator.nextNormal()) }
  y[i, 0] = 2 * x[i, 0] - x[i, 1] + 0.5
}
let model = try Sequential([Input(shape: [3]), Dense(1)], seed: 1)
try model.compile(optimizer: try SGD(learningRate: 0.05), loss: "mse", metrics: ["mae"])
let history = try model.fit(x, y, batchSize: 8, epochs: 30, verbose: 0, shuffle: true)
print(try model.evaluate(x, y, verbose: 0))
print(history["loss"]!)
print(model.weights)
