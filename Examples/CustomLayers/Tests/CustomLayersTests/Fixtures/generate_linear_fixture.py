"""Writes linear_training.json with Keras 3 (JAX backend):
    KERAS_BACKEND=jax python generate_linear_fixture.py
The Keras guide's `Linear` layer (weights written with ops) in a small regression model, trained
with SGD on fixed data: its initial weights, the loss of each epoch, the final weights and the
predictions, which Strata's forward-only `Linear` must reproduce."""
import json

import keras
import numpy as np
from keras import ops


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal",
                                 trainable=True, name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", trainable=True, name="b")

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b


keras.utils.set_random_seed(5)
model = keras.Sequential([keras.Input((4,)), Linear(8), keras.layers.Activation("tanh"), Linear(1)])
# Weights large enough that training moves the numbers visibly.
rng = np.random.default_rng(1)
model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
initial = [w.tolist() for w in model.get_weights()]
x = rng.standard_normal((48, 4)).astype(np.float32)
y = (np.sin(x.sum(axis=1, keepdims=True)) + 0.1 * x[:, :1] ** 2).astype(np.float32)
model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
history = model.fit(x, y, batch_size=16, epochs=4, shuffle=False, verbose=0)
with open("linear_training.json", "w") as f:
    json.dump({"generator": f"keras {keras.__version__}, backend {keras.backend.backend()}",
               "model": "Input(4) -> Linear(8) -> Activation(tanh) -> Linear(1); SGD(0.1), mse, "
                        "batch 16, 4 epochs, no shuffle",
               "x": x.tolist(), "y": y.tolist(), "initial_weights": initial,
               "loss": history.history["loss"],
               "final_weights": [w.tolist() for w in model.get_weights()],
               "prediction": model.predict(x[:5], verbose=0).tolist()}, f)
