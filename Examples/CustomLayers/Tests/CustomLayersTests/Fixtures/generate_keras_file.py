"""Writes tiny_plugin_layers.keras and tiny_plugin_layers.expected.json with Keras 3 (JAX backend):
    KERAS_BACKEND=jax python generate_keras_file.py
Keras' own LeakyReLU and PReLU layers, which Strata gets from this plugin package."""
import json

import keras
import numpy as np

keras.utils.set_random_seed(11)
inputs = keras.Input((6,), name="features")
x = keras.layers.Dense(5)(inputs)
x = keras.layers.LeakyReLU()(x)
x = keras.layers.Dense(4)(x)
x = keras.layers.PReLU(alpha_initializer=keras.initializers.RandomUniform(-0.5, 0.5, seed=3))(x)
outputs = keras.layers.Dense(3)(x)
model = keras.Model(inputs, outputs, name="tiny_plugin_layers")
x = np.random.default_rng(0).standard_normal((4, 6), dtype=np.float32)
model.save("tiny_plugin_layers.keras")
with open("tiny_plugin_layers.expected.json", "w") as f:
    json.dump({"model": "tiny_plugin_layers", "generator": f"keras {keras.__version__}, backend jax",
               "input_rule": "np.random.default_rng(0).standard_normal((4, 6), dtype=np.float32)",
               "input_shape": [4, 6], "input": x.tolist(), "output_shape": [4, 3],
               "output": model.predict(x, verbose=0).tolist(),
               "tolerance": {"atol": 1e-5, "rtol": 1e-5}, "parameters": model.count_params()}, f)
