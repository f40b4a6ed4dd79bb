import Strata
let model = try Sequential([
  Flatten(inputShape: [28, 28]),
  Dense(128, activation: "relu"),
  Dropout(0.2),
  Dense(10, activation: "softmax"),
], seed: 42)
print(model.summary())
let x = Tensor(shape: [3, 28, 28], repeating: 0.5)
let y = try model.predict(x)
print(y)
do { try model.add("Dense", ["units": 4, "activaton": "relu"]) } catch { print(error) }
do { try model.add("Dense", ["units": -4]) } catch { print(error) }
do { try model.add("Dens", ["units": 4]) } catch { print(error) }
do { try model.add("Dense", ["units": 4, "activation": "rellu"]) } catch { print(error) }
do { try model.add("Reshape", ["target_shape": [3, 3]]) } catch { print(error) }
do { try model.add("Dropout", ["rate": 1]) } catch { print(error) }
