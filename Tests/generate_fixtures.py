#!/usr/bin/env python3
"""Regenerates every Keras fixture the tests read (Tests/*/Fixtures/*.json).

Pinned versions (the numbers Strata matches):
    tensorflow-cpu==2.21.0  keras==3.15.1  (numpy as they bring it)

    python3 -m venv /tmp/kerasenv
    /tmp/kerasenv/bin/pip install "tensorflow-cpu==2.21.0" "keras==3.15.1"
    /tmp/kerasenv/bin/python Tests/generate_fixtures.py             # writes the fixtures in place
    /tmp/kerasenv/bin/python Tests/generate_fixtures.py --out DIR   # or under DIR, to compare

To add a case, add a line to one of the lists below (ACTIVATIONS, LOSSES, OPTIMIZERS, LAYERS, SEED_MODELS,
SCHEDULES, CONSTRAINTS, METRICS, WEIGHTED_LOSSES, REGULARIZED_MODELS);
the tests iterate the fixture's cases. Inputs are drawn from fixed seeds, so a run reproduces its output.
Every array is {"shape": [...], "data": [...]}, flat and row-major (channels-last for images).
"""
import argparse
import contextlib
import io
import gzip
import json
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["COLUMNS"] = "200"  # model.summary() renders through rich, which wraps at the terminal's width

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
tf.get_logger().setLevel("ERROR")  # each case's own evaluate retraces; that is expected
import keras  # noqa: E402

ROOT = os.path.dirname(os.path.abspath(__file__))
# Fixtures larger than this (bytes of JSON) are written as NAME.json.gz; the tests read either.
COMPRESS_ABOVE = 1 << 20
GENERATOR = f"keras {keras.__version__}, tensorflow {tf.__version__}, float32"


def array(value):
    value = np.asarray(value, dtype=np.float32)
    return {"shape": list(value.shape), "data": [float(v) for v in value.reshape(-1)]}


def generator(seed):
    return np.random.default_rng(seed)


def vjp(function, inputs, upstream):
    """The output of function(*inputs) and the gradients of sum(output * upstream) for each input."""
    variables = [tf.Variable(v) for v in inputs]
    with tf.GradientTape() as tape:
        output = function(*variables)
        total = tf.reduce_sum(output * upstream)
    return output, tape.gradient(total, variables)


# MARK: Activations

ACTIVATIONS = [
    "relu", "sigmoid", "softmax", "tanh", "elu", "selu", "softplus", "softsign", "hard_sigmoid", "linear",
    "exponential", "swish", "gelu", "relu6", "leaky_relu", "mish", "log_softmax", "hard_swish",
]


def activations():
    cases = []
    for index, name in enumerate(ACTIVATIONS):
        rng = generator(100 + index)
        x = (rng.standard_normal((3, 5)) * 2).astype(np.float32)
        upstream = rng.standard_normal((3, 5)).astype(np.float32)
        function = keras.activations.get(name)
        y, (dx,) = vjp(lambda v: function(v), [x], upstream)
        cases.append({"activation": name, "x": array(x), "y": array(y), "upstream": array(upstream), "dx": array(dx)})
    return cases


# MARK: Losses

LOSSES = [
    ("mean_squared_error", {}), ("mean_absolute_error", {}), ("mean_absolute_percentage_error", {}),
    ("mean_squared_logarithmic_error", {}), ("squared_hinge", {}), ("hinge", {}), ("categorical_hinge", {}),
    ("log_cosh", {}), ("categorical_crossentropy", {}), ("categorical_crossentropy", {"from_logits": True}),
    ("sparse_categorical_crossentropy", {}), ("sparse_categorical_crossentropy", {"from_logits": True}),
    ("binary_crossentropy", {}), ("binary_crossentropy", {"from_logits": True}), ("kl_divergence", {}),
    ("poisson", {}), ("cosine_similarity", {}), ("huber", {}),
]


def loss_inputs(name, config, rng):
    logits = rng.standard_normal((4, 3)).astype(np.float32) * 2
    # Probabilities kept away from 0 and 1, where a finite-difference check of -log p needs a tiny step.
    probabilities = tf.nn.softmax(logits / 2).numpy()
    labels = rng.integers(0, 3, 4)
    one_hot = np.eye(3, dtype=np.float32)[labels]
    if name in ("categorical_crossentropy", "categorical_hinge"):
        return one_hot, logits if config.get("from_logits") else probabilities
    if name == "sparse_categorical_crossentropy":
        return labels.astype(np.float32), logits if config.get("from_logits") else probabilities
    if name in ("binary_crossentropy", "hinge", "squared_hinge"):
        targets = rng.integers(0, 2, (4, 3)).astype(np.float32)
        return targets, logits if config.get("from_logits") else tf.sigmoid(logits / 2).numpy()
    if name == "kl_divergence":
        return tf.nn.softmax(rng.standard_normal((4, 3))).numpy().astype(np.float32), probabilities
    if name in ("poisson", "mean_squared_logarithmic_error", "mean_absolute_percentage_error"):
        return rng.uniform(0.1, 2, (4, 3)).astype(np.float32), rng.uniform(0.1, 2, (4, 3)).astype(np.float32)
    return rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((4, 3)).astype(np.float32)


def losses():
    cases = []
    for index, (name, config) in enumerate(LOSSES):
        rng = generator(200 + index)
        y_true, y_pred = loss_inputs(name, config, rng)
        function = keras.losses.get(name)  # the per-sample function; its keyword arguments are the config

        def loss(target, prediction, function=function, config=config):
            return function(target, prediction, **config)
        y_pred_variable = tf.Variable(y_pred)
        with tf.GradientTape() as tape:
            value = tf.reduce_mean(loss(tf.constant(y_true), y_pred_variable))
        gradient = tape.gradient(value, y_pred_variable)
        cases.append({
            "loss": name, "config": config, "y_true": array(y_true), "y_pred": array(y_pred),
            "loss_value": float(value), "d_y_pred": array(gradient),
        })
    return cases


# MARK: Optimizers

OPTIMIZERS = [
    ("SGD", {}), ("SGD", {"momentum": 0.9}), ("SGD", {"momentum": 0.9, "nesterov": True}), ("RMSprop", {}),
    ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}), ("Adadelta", {}),
    ("Adadelta", {"learning_rate": 1.0}), ("Adam", {}), ("Adam", {"amsgrad": True}), ("Adamax", {}),
    ("Nadam", {}), ("AdamW", {}),
]
# Keys of get_config() that are Keras' bookkeeping rather than the update's arguments.
NOT_DEFAULTS = {"name", "loss_scale_factor", "gradient_accumulation_steps", "clipnorm", "clipvalue",
                "global_clipnorm", "ema_overwrite_frequency"}


def optimizers():
    cases = []
    for index, (name, config) in enumerate(OPTIMIZERS):
        rng = generator(300 + index)
        w0 = rng.standard_normal((4, 3)).astype(np.float32)
        grads = [rng.standard_normal((4, 3)).astype(np.float32) for _ in range(4)]
        optimizer = getattr(keras.optimizers, name)(**config)
        variable = keras.Variable(w0)
        after = []
        for gradient in grads:
            optimizer.apply_gradients([(tf.constant(gradient), variable)])
            after.append(array(variable.numpy()))
        defaults = {k: v for k, v in optimizer.get_config().items() if k not in NOT_DEFAULTS and v is not None}
        cases.append({
            "optimizer": name, "config": config, "resolved_defaults": defaults, "w0": array(w0),
            "grads": [array(g) for g in grads], "weights_after_each_step": after,
        })
    return cases


# MARK: Layers

# Layers summed in a different order than TensorFlow (convolutions, pooling, reductions) are compared
# with atol 1e-4; the others with rtol 1e-5, atol 1e-6. The tolerance travels in each case.
EXACT, REORDERED = {"rtol": 1e-5, "atol": 1e-6}, {"rtol": 1e-4, "atol": 1e-4}

LAYERS = [
    ("dense relu", keras.layers.Dense, {"units": 5, "activation": "relu"}, (2, 7)),
    ("dense linear no bias", keras.layers.Dense, {"units": 4, "use_bias": False}, (2, 6)),
    ("conv2d f4 k3 s1 valid", keras.layers.Conv2D, {"filters": 4, "kernel_size": 3, "activation": "relu"}, (2, 8, 8, 2)),
    ("conv2d f3 k3 s1 same", keras.layers.Conv2D, {"filters": 3, "kernel_size": 3, "padding": "same", "activation": "relu"},
     (2, 7, 7, 2)),
    ("conv2d f4 k5 s1 same", keras.layers.Conv2D, {"filters": 4, "kernel_size": 5, "padding": "same", "activation": "relu"},
     (2, 9, 9, 1)),
    ("conv2d f2 k3 s2 valid", keras.layers.Conv2D, {"filters": 2, "kernel_size": 3, "strides": 2, "activation": "relu"},
     (2, 9, 9, 3)),
    ("conv2d f2 k3 s2 same", keras.layers.Conv2D,
     {"filters": 2, "kernel_size": 3, "strides": 2, "padding": "same", "activation": "relu"}, (2, 8, 8, 2)),
    ("MaxPooling2D p2 s2 valid", keras.layers.MaxPooling2D, {"pool_size": 2}, (2, 6, 6, 2)),
    ("MaxPooling2D p2 s2 valid", keras.layers.MaxPooling2D, {"pool_size": 2}, (2, 7, 7, 2)),
    ("MaxPooling2D p2 s2 same", keras.layers.MaxPooling2D, {"pool_size": 2, "padding": "same"}, (2, 7, 7, 2)),
    ("MaxPooling2D p3 s2 valid", keras.layers.MaxPooling2D, {"pool_size": 3, "strides": 2}, (2, 9, 9, 1)),
    ("AveragePooling2D p2 s2 valid", keras.layers.AveragePooling2D, {"pool_size": 2}, (2, 6, 6, 2)),
    ("AveragePooling2D p2 s2 same", keras.layers.AveragePooling2D, {"pool_size": 2, "padding": "same"}, (2, 5, 5, 2)),
    ("flatten", keras.layers.Flatten, {}, (2, 3, 4, 2)),
    ("leaky_relu", keras.layers.LeakyReLU, {"negative_slope": 0.2}, (2, 6)),
    ("prelu", keras.layers.PReLU, {}, (2, 6)),
    ("global average pooling", keras.layers.GlobalAveragePooling2D, {}, (2, 4, 4, 3)),
    ("batchnorm", keras.layers.BatchNormalization, {}, (4, 5)),
]


# The layers of the plugin in Examples/CustomLayers: their cases go to that package's fixture.
PLUGIN_LAYERS = {"LeakyReLU", "PReLU"}


def layers(plugin=False):
    cases = []
    for index, (description, kind, arguments, shape) in enumerate(LAYERS):
        if (kind.__name__ in PLUGIN_LAYERS) != plugin:
            continue
        rng = generator(400 + index)
        layer = kind(**arguments)
        x = rng.standard_normal(shape).astype(np.float32)
        if "MaxPooling" in kind.__name__:  # distinct values: a tie could route the gradient either way
            x = rng.permutation(np.arange(x.size, dtype=np.float32) * 0.01).reshape(shape)
        layer.build(shape)
        weights = []
        for variable in layer.weights:
            values = rng.standard_normal(variable.shape).astype(np.float32) * 0.5
            if variable.name == "moving_variance":
                values = np.abs(values) + 0.5
            variable.assign(values)
            weights.append(values)
        y = layer(x, training=False)
        upstream = rng.standard_normal(y.shape).astype(np.float32)
        trainable = list(layer.weights)
        # `y` is inference (moving statistics); the gradients are of a training call (batch statistics),
        # as a training step computes them.
        x_variable = tf.Variable(x)
        with tf.GradientTape() as tape:
            out = layer(x_variable, training=True)
            total = tf.reduce_sum(out * upstream)
        gradients = tape.gradient(total, [x_variable] + [v.value for v in trainable])
        cases.append({
            "layer": kind.__name__, "desc": description, "config": layer.get_config(), "x": array(x),
            "weights": [array(w) for w in weights], "weight_names": [v.name for v in layer.weights],
            "y": array(y), "upstream": array(upstream), "dx": array(gradients[0]),
            "d_weights": [array(g if g is not None else np.zeros(v.shape)) for g, v in zip(gradients[1:], trainable)],
            "tolerance": EXACT if kind.__name__ in ("Dense", "Flatten", "LeakyReLU", "PReLU") else REORDERED,
        })
    return cases


# MARK: Seed models

# Each seed model's layers, made only when asked for (after a session reset, so names start afresh).
SEED_MODELS = {
    "mlp": lambda L: [L.Input((28, 28)), L.Flatten(), L.Dense(128, activation="relu"), L.Dropout(0.2),
                      L.Dense(10, activation="softmax")],
    "cnn": lambda L: [L.Input((28, 28, 1)), L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                      L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Conv2D(64, 3, activation="relu"),
                      L.Flatten(), L.Dense(64, activation="relu"), L.Dense(10)],
    "deep_mnist": lambda L: [L.Input((28, 28, 1)), L.Conv2D(32, 5, padding="same", activation="relu"),
                             L.MaxPooling2D(2, padding="same"), L.Conv2D(64, 5, padding="same", activation="relu"),
                             L.MaxPooling2D(2, padding="same"), L.Flatten(), L.Dense(1024, activation="relu"),
                             L.Dropout(0.5), L.Dense(10, activation="softmax")],
    "horses_vs_humans": lambda L: [L.Input((300, 300, 3)), L.Conv2D(16, 3, activation="relu"), L.MaxPooling2D(2),
                                   L.Conv2D(32, 3, activation="relu"), L.MaxPooling2D(2),
                                   L.Conv2D(64, 3, activation="relu"), L.MaxPooling2D(2), L.Flatten(),
                                   L.Dense(512, activation="relu"), L.Dense(1, activation="sigmoid")],
}


def summaries():
    cases = []
    for name, make in SEED_MODELS.items():
        keras.backend.clear_session()  # layer names as a fresh program gives them: conv2d, conv2d_1, …
        model = keras.Sequential(make(keras.layers))
        cases.append({
            "model": name,
            "layers": [{"name": l.name, "type": type(l).__name__, "output_shape": list(l.output.shape),
                        "params": l.count_params()} for l in model.layers],
            "total_params": model.count_params(),
        })
    return cases


# MARK: A training run

class RunningLoss(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def fashion_mnist(count):
    directory = "/usr/share/datasets/fashion-mnist"

    def read(name, offset):
        with gzip.open(os.path.join(directory, name + ".gz")) as f:
            return np.frombuffer(f.read(), np.uint8, offset=offset)
    images = read("train-images-idx3-ubyte", 16).reshape(-1, 28, 28)[:count].astype(np.float32) / 255
    labels = read("train-labels-idx1-ubyte", 8)[:count].astype(np.int64)
    return images, labels


def training():
    x, y = fashion_mnist(256)
    cases = []
    for index, optimizer in enumerate(["sgd", "adam"]):
        keras.utils.set_random_seed(500 + index)
        model = keras.Sequential([keras.layers.Input((28, 28)), keras.layers.Flatten(),
                                  keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])
        initial = [array(w) for w in model.get_weights()]
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        recorder = RunningLoss()
        history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[recorder])
        cases.append({
            "optimizer": optimizer, "model": "Flatten(28,28) -> Dense(32, relu) -> Dense(10, softmax)",
            "data": "fashion-mnist train images [0, 256), pixels / 255", "batch_size": 32, "epochs": 2,
            "shuffle": False, "initial_weights": initial, "running_mean_loss_after_each_step": recorder.losses,
            "history": {k: [float(v) for v in values] for k, values in history.history.items()},
            "final_weights": [array(w) for w in model.get_weights()],
            "note": "Keras reports the running mean of the batch losses within an epoch",
        })
    return cases


# MARK: Learning-rate schedules

SCHEDULES = [
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5)),
    ("ExponentialDecay", dict(initial_learning_rate=0.1, decay_steps=4, decay_rate=0.5, staircase=True)),
    ("PiecewiseConstantDecay", dict(boundaries=[3, 7], values=[1.0, 0.5, 0.1])),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5)),
    ("InverseTimeDecay", dict(initial_learning_rate=0.1, decay_steps=2, decay_rate=0.5, staircase=True)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=8)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=8, end_learning_rate=0.01, power=2.0)),
    ("PolynomialDecay", dict(initial_learning_rate=0.1, decay_steps=6, end_learning_rate=0.01, power=0.5,
                             cycle=True)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10)),
    ("CosineDecay", dict(initial_learning_rate=0.1, decay_steps=10, alpha=0.1)),
    ("CosineDecay", dict(initial_learning_rate=0.0, decay_steps=10, warmup_target=0.2, warmup_steps=4)),
    ("CosineDecay", dict(initial_learning_rate=0.05, decay_steps=8, alpha=0.2, warmup_target=0.1,
                         warmup_steps=3)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=4)),
    ("CosineDecayRestarts", dict(initial_learning_rate=0.1, first_decay_steps=3, t_mul=1.5, m_mul=0.5,
                                 alpha=0.05)),
]


class LearningRates(keras.callbacks.Callback):
    """The optimizer's learning rate as each step uses it (read before the step increments it)."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self.rates.append(float(optimizer.learning_rate(optimizer.iterations)
                                if callable(optimizer.learning_rate) else optimizer.learning_rate))


def schedules():
    cases = []
    for class_name, config in SCHEDULES:
        schedule = getattr(keras.optimizers.schedules, class_name)(**config)
        steps = list(range(25))
        cases.append({
            "kind": "schedule", "class_name": class_name, "config": schedule.get_config(),
            "serialized": keras.saving.serialize_keras_object(schedule), "steps": steps,
            "learning_rates": [float(np.float32(schedule(step))) for step in steps],
        })
    x, y = fashion_mnist(256)
    keras.utils.set_random_seed(7)
    model = keras.Sequential([keras.layers.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])
    initial = [array(w) for w in model.get_weights()]
    schedule = keras.optimizers.schedules.ExponentialDecay(0.01, decay_steps=8, decay_rate=0.5)
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    recorder, rates = RunningLoss(), LearningRates()
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[recorder, rates])
    cases.append({
        "kind": "training", "model": "Flatten(28,28) -> Dense(32, relu) -> Dense(10, softmax)",
        "data": "fashion-mnist train images [0, 256), pixels / 255, labels as integers", "batch_size": 32,
        "epochs": 2, "shuffle": False, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
        "optimizer": "Adam", "optimizer_config": json.loads(json.dumps(optimizer.get_config(), default=float)),
        "schedule": {"class_name": "ExponentialDecay", "config": schedule.get_config()},
        "initial_weights": initial, "learning_rate_used_at_each_step": rates.rates,
        "running_mean_loss_after_each_step": recorder.losses,
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
        "final_weights": [array(w) for w in model.get_weights()],
        "optimizer_iterations": int(optimizer.iterations.numpy()),
        "note": "step k (0-based) uses schedule(k): the optimizer evaluates the schedule at its iteration count "
                "before incrementing it",
    })
    return cases


# MARK: Weight constraints

CONSTRAINTS = [  # (layer, kernel constraint, bias constraint)
    ("Dense", keras.constraints.MaxNorm(max_value=2, axis=0), None),
    ("Dense", keras.constraints.MaxNorm(max_value=1.5, axis=1), None),
    ("Dense", keras.constraints.NonNeg(), keras.constraints.NonNeg()),
    ("Dense", keras.constraints.UnitNorm(axis=0), None),
    ("Dense", keras.constraints.UnitNorm(axis=1), None),
    ("Dense", keras.constraints.MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0), None),
    ("Dense", keras.constraints.MinMaxNorm(min_value=0.5, max_value=1.2, rate=0.7, axis=0), None),
    ("Dense", keras.constraints.MaxNorm(max_value=1.0, axis=[0, 1]), None),
    ("Conv2D", keras.constraints.MaxNorm(max_value=2, axis=0), None),
    ("Conv2D", keras.constraints.MaxNorm(max_value=1.0, axis=[0, 1, 2]),
     keras.constraints.MaxNorm(max_value=0.5, axis=0)),
    ("Conv2D", keras.constraints.NonNeg(), None),
    ("Conv2D", keras.constraints.UnitNorm(axis=[0, 1, 2]), None),
    ("Conv2D", keras.constraints.MinMaxNorm(min_value=0.8, max_value=1.5, rate=0.5, axis=[0, 1, 2]), None),
]


def constraints():
    rng = generator(7)
    cases = []
    for layer_name, kernel_constraint, bias_constraint in CONSTRAINTS:
        keras.backend.clear_session()  # each layer keeps its plain name ("dense", "conv2d")
        if layer_name == "Dense":
            layer = keras.layers.Dense(3, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
            layer.build((None, 4))
        else:
            layer = keras.layers.Conv2D(2, 3, kernel_constraint=kernel_constraint, bias_constraint=bias_constraint)
            layer.build((None, 5, 5, 2))
        # Starting weights large enough that the norm constraints bind (Keras does not constrain them).
        w0 = [rng.normal(0, 1.5, w.shape).astype(np.float32) for w in layer.get_weights()]
        layer.set_weights(w0)
        optimizer = keras.optimizers.SGD(learning_rate=0.1)
        grads, after = [], []
        for _ in range(2):
            step = [rng.normal(0, 1, w.shape).astype(np.float32) for w in w0]
            optimizer.apply_gradients(zip([tf.constant(g) for g in step], layer.trainable_weights))
            grads.append([array(g) for g in step])
            after.append([array(w) for w in layer.get_weights()])
        serialize = keras.saving.serialize_keras_object
        cases.append({
            "layer": layer_name, "config": layer.get_config(), "kernel_constraint": serialize(kernel_constraint),
            "bias_constraint": serialize(bias_constraint) if bias_constraint else None, "optimizer": "SGD",
            "optimizer_config": {"learning_rate": 0.1}, "weight_names": ["kernel", "bias"],
            "w0": [array(w) for w in w0], "grads": grads, "weights_after_each_step": after,
            "rule": "w <- constraint(w - lr * g) after every step; w0 itself is not constrained",
        })
    return cases


# MARK: Metrics

METRICS = [  # (class, constructor arguments, kind of data)
    ("Precision", {}, "binary"), ("Precision", {"thresholds": 0.3}, "binary"),
    ("Precision", {"thresholds": [0.3, 0.6]}, "binary"), ("Precision", {}, "onehot"),
    ("Precision", {"top_k": 2}, "multilabel"), ("Precision", {"class_id": 1}, "multilabel"),
    ("Recall", {}, "binary"), ("Recall", {"thresholds": 0.3}, "binary"), ("Recall", {}, "onehot"),
    ("Recall", {"top_k": 2}, "multilabel"), ("Recall", {"class_id": 1, "thresholds": 0.3}, "multilabel"),
    ("AUC", {}, "binary"), ("AUC", {"num_thresholds": 50}, "binary"), ("AUC", {"curve": "PR"}, "binary"),
    ("AUC", {"curve": "PR", "num_thresholds": 50}, "binary"), ("AUC", {}, "multilabel"),
    ("AUC", {"multi_label": True}, "multilabel"), ("AUC", {"summation_method": "minoring"}, "binary"),
    ("F1Score", {}, "onehot"), ("F1Score", {"average": "micro"}, "onehot"),
    ("F1Score", {"average": "macro"}, "onehot"), ("F1Score", {"average": "weighted"}, "onehot"),
    ("F1Score", {"threshold": 0.4}, "multilabel"), ("F1Score", {"average": "macro", "threshold": 0.5}, "multilabel"),
    ("F1Score", {"average": "micro", "threshold": 0.3}, "onehot"),
    ("TopKCategoricalAccuracy", {"k": 3}, "onehot6"), ("TopKCategoricalAccuracy", {}, "onehot6"),
    ("SparseTopKCategoricalAccuracy", {}, "sparse"), ("SparseTopKCategoricalAccuracy", {"k": 2}, "sparse"),
]


def metric_batch(kind, rng):
    """Targets and predictions of eight samples: `binary` (n, 1), `multilabel` (n, 4) multi-hot with
    independent scores, `onehot`/`onehot6` one-hot with softmax rows, `sparse` labels with softmax rows."""
    def softmax_rows(classes):
        logits = rng.normal(0, 1.5, (8, classes))
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return np.round(e / e.sum(axis=1, keepdims=True), 4)
    if kind == "binary":
        return rng.integers(0, 2, (8, 1)).astype(np.float32), np.round(rng.uniform(0, 1, (8, 1)), 4)
    if kind == "multilabel":
        return rng.integers(0, 2, (8, 4)).astype(np.float32), np.round(rng.uniform(0, 1, (8, 4)), 4)
    if kind == "sparse":
        return rng.integers(0, 7, 8).astype(np.float32), softmax_rows(7)
    classes = 6 if kind == "onehot6" else 4
    return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, 8)], softmax_rows(classes)


def metric_result(metric):
    value = np.asarray(metric.result())
    return float(value) if value.ndim == 0 else array(value)


def metrics():
    rng = generator(7)
    cases = []
    for class_name, args, kind in METRICS:
        metric = getattr(keras.metrics, class_name)(**args)
        batches, results = [], []
        for _ in range(2):
            y_true, y_pred = metric_batch(kind, rng)
            metric.update_state(y_true, y_pred.astype(np.float32))
            batches.append({"y_true": array(y_true), "y_pred": array(y_pred)})
            results.append(metric_result(metric))
        cases.append({
            "metric": class_name, "args": args, "config": metric.get_config(), "data_kind": kind,
            "batches": batches, "result_after_batch_1": results[0], "result_after_batch_2": results[1],
        })
    return cases


# MARK: Class and sample weights

WEIGHTED_LOSSES = [  # (loss, from_logits or None, kind of targets)
    ("sparse_categorical_crossentropy", False, "sparse"), ("sparse_categorical_crossentropy", True, "sparse"),
    ("binary_crossentropy", False, "binary"), ("mean_squared_error", None, "regression"),
]


def seed_mlp(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.layers.Input((28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10, activation="softmax")])


def weighting():
    x, y = fashion_mnist(256)
    rng = generator(7)
    cases = []
    class_weight = {0: 0.5, 1: 2.0, 2: 1.0, 3: 1.5, 4: 0.25, 5: 1.0, 6: 3.0, 7: 0.75, 8: 1.25, 9: 2.0}
    sample_weight = np.round(rng.uniform(0.2, 1.6, 256), 3).astype(np.float32)
    for weighting_kind in ["class_weight", "sample_weight"]:
        model = seed_mlp(7)
        initial = [array(w) for w in model.get_weights()]
        model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        recorder = RunningLoss()
        given = {"class_weight": class_weight} if weighting_kind == "class_weight" else {
            "sample_weight": sample_weight}
        history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[recorder],
                            **given)
        case = {
            "kind": "training", "weighting": weighting_kind,
            "model": "Flatten(28,28) -> Dense(32, relu) -> Dense(10, softmax)",
            "data": "fashion-mnist train images [0, 256), pixels / 255, labels as integers", "batch_size": 32,
            "epochs": 2, "shuffle": False, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
            "optimizer": "sgd", "initial_weights": initial, "running_mean_loss_after_each_step": recorder.losses,
            "history": {k: [float(v) for v in values] for k, values in history.history.items()},
            "final_weights": [array(w) for w in model.get_weights()],
        }
        if weighting_kind == "class_weight":
            case["class_weight"] = {str(k): v for k, v in class_weight.items()}
        else:
            case["sample_weight"] = array(sample_weight)
        cases.append(case)
    weights = np.round(rng.uniform(0, 2, 5), 3).astype(np.float32)
    weights[1] = 0
    # Both sparse cases share labels and logits: probabilities are their softmax.
    logits = rng.normal(0, 1.2, (5, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 5).astype(np.float32)
    for name, from_logits, kind in WEIGHTED_LOSSES:
        if kind == "sparse":
            y_true = labels
            y_pred = logits if from_logits else np.asarray(keras.ops.softmax(logits))
        elif kind == "binary":
            y_true = rng.integers(0, 2, (5, 3)).astype(np.float32)
            y_pred = rng.uniform(0.05, 0.95, (5, 3)).astype(np.float32)
        else:
            y_true = rng.normal(0, 1, (5, 3)).astype(np.float32)
            y_pred = rng.normal(0, 1, (5, 3)).astype(np.float32)
        arguments = {} if from_logits is None else {"from_logits": from_logits}
        class_name = "".join(part.capitalize() for part in name.split("_"))

        def make(reduction):
            return getattr(keras.losses, class_name)(reduction=reduction, **arguments)
        loss = make("sum_over_batch_size")
        per_sample = np.asarray(make("none")(y_true, y_pred))
        cases.append({
            "kind": "loss", "loss": name, "config": loss.get_config(), "y_true": array(y_true),
            "y_pred": array(y_pred), "sample_weight": array(weights), "per_sample_loss_unweighted": array(per_sample),
            "loss_value": float(loss(y_true, y_pred, sample_weight=weights)),
            "loss_value_unweighted": float(loss(y_true, y_pred)),
            "by_reduction": {
                "sum_over_batch_size": float(loss(y_true, y_pred, sample_weight=weights)),
                "sum": float(make("sum")(y_true, y_pred, sample_weight=weights)),
                "mean_with_sample_weight": float(make("mean_with_sample_weight")(y_true, y_pred,
                                                                                 sample_weight=weights)),
                "none": array(make("none")(y_true, y_pred, sample_weight=weights)),
            },
            "rule": "sum_over_batch_size: sum(per_sample * sample_weight) / batch_size (not / sum(sample_weight))",
        })
    return cases


# MARK: Regularizers

R = keras.regularizers
REGULARIZED_MODELS = [  # (description, input shape, layers)
    ("dense kernel 'l1'", (5,), lambda: [keras.layers.Dense(3, kernel_regularizer="l1")]),
    ("dense kernel 'l2', bias 'l1'", (5,), lambda: [keras.layers.Dense(3, kernel_regularizer="l2",
                                                                        bias_regularizer="l1")]),
    ("dense kernel 'l1l2' (the only L1L2 string that works; factors 0)", (5,),
     lambda: [keras.layers.Dense(3, kernel_regularizer="l1l2")]),
    ("dense objects: kernel L1(0.05), bias L2(0.2), activity L1L2(0.01, 0.03)", (5,),
     lambda: [keras.layers.Dense(3, activation="tanh", kernel_regularizer=R.L1(0.05), bias_regularizer=R.L2(0.2),
                                 activity_regularizer=R.L1L2(0.01, 0.03))]),
    ("dense activity 'l2'", (5,), lambda: [keras.layers.Dense(3, activity_regularizer="l2")]),
    ("dense kernel L1L2(l1=0.02, l2=0.005), no bias", (5,),
     lambda: [keras.layers.Dense(3, use_bias=False, kernel_regularizer=R.L1L2(l1=0.02, l2=0.005))]),
    ("two dense layers: L2(0.01) kernel, then L1(0.01) activity", (5,),
     lambda: [keras.layers.Dense(4, activation="relu", kernel_regularizer=R.L2(0.01)),
              keras.layers.Dense(2, activity_regularizer=R.L1(0.01))]),
    ("conv2d kernel 'l2', bias 'l1', activity L1(0.002)", (5, 5, 2),
     lambda: [keras.layers.Conv2D(2, 3, activation="relu", kernel_regularizer="l2", bias_regularizer="l1",
                                  activity_regularizer=R.L1(0.002))]),
    ("conv2d same, kernel L1L2(l1=0.003, l2=0.004), bias L2(0.5)", (5, 5, 2),
     lambda: [keras.layers.Conv2D(2, 3, padding="same", kernel_regularizer=R.L1L2(l1=0.003, l2=0.004),
                                  bias_regularizer=R.L2(0.5))]),
    ("conv2d -> flatten -> dense, kernel 'l1' on both, activity 'l1' on dense", (5, 5, 2),
     lambda: [keras.layers.Conv2D(2, 3, strides=2, kernel_regularizer="l1"), keras.layers.Flatten(),
              keras.layers.Dense(2, kernel_regularizer="l1", activity_regularizer="l1")]),
]


def regularizers():
    serialize = keras.saving.serialize_keras_object
    resolves_to = {}
    for name in ["l1", "l2", "l1_l2", "l1l2", "L1", "L2", "L1L2"]:
        try:
            resolves_to[name] = serialize(keras.regularizers.get(name))
        except Exception as error:  # Keras refuses some names; the case records how
            resolves_to[name] = {"error": f"{type(error).__name__}: {error}"}
    cases = [{"desc": "string identifiers", "kind": "identifiers", "resolves_to": resolves_to}]
    rng = generator(7)
    for desc, input_shape, make_layers in REGULARIZED_MODELS:
        keras.backend.clear_session()
        layers = make_layers()
        model = keras.Sequential([keras.layers.Input(input_shape)] + layers)
        weights = [rng.normal(0, 0.5, w.shape).astype(np.float32) for w in model.get_weights()]
        model.set_weights(weights)
        x = rng.normal(0, 1, (3,) + input_shape).astype(np.float32)
        y_pred = np.asarray(model(x, training=False))
        y_true = rng.normal(0, 1, y_pred.shape).astype(np.float32)
        mse = keras.losses.MeanSquaredError()
        terms, outputs = [], x
        for layer in layers:
            outputs_before, outputs = outputs, np.asarray(layer(outputs))
            for on, regularizer in [("kernel", getattr(layer, "kernel_regularizer", None)),
                                    ("bias", getattr(layer, "bias_regularizer", None)),
                                    ("activity", getattr(layer, "activity_regularizer", None))]:
                if regularizer is None or (on == "bias" and not layer.use_bias):
                    continue
                term = {"layer": layer.name, "on": on, "regularizer": serialize(regularizer)}
                if on == "activity":
                    before = float(regularizer(outputs))
                    term["value"] = before / x.shape[0]
                    term["value_before_batch_division"] = before
                else:
                    term["value"] = float(regularizer(getattr(layer, on)))
                terms.append(term)
        model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mean_squared_error")
        model(x, training=False)
        keras_order = [float(v) for v in model.losses]
        with tf.GradientTape() as tape:
            prediction = model(x, training=True)
            total = mse(y_true, prediction) + tf.add_n(model.losses)
        gradients = tape.gradient(total, model.trainable_weights)
        cases.append({
            "desc": desc, "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()}
                                     for layer in layers],
            "loss": "mean_squared_error", "x": array(x), "y_true": array(y_true),
            "weights": [array(w) for w in weights],
            "weight_names": [w.name for w in model.weights], "weight_paths": [w.path for w in model.weights],
            "weight_trainable": [bool(w.trainable) for w in model.weights], "y_pred": array(y_pred),
            "data_loss": float(mse(y_true, y_pred)), "penalty_terms_keras_order": keras_order,
            "penalty_terms": terms, "penalty": float(sum(term["value"] for term in terms)),
            "total_loss_evaluate": float(model.evaluate(x, y_true, batch_size=3, verbose=0)),
            "total_loss_compute_loss": float(model.compute_loss(x, y_true, model(x, training=False))),
            "d_weights": [array(g) for g in gradients],
            "d_weight_paths": [w.path for w in model.trainable_weights],
        })
    return cases


# MARK: Frozen layers

def summary_lines(model):
    """The `Total/Trainable/Non-trainable/Optimizer params` lines of `model.summary()`."""
    lines = []
    model.summary(print_fn=lambda text, **_: lines.extend(text.splitlines()))
    found = {}
    for line in lines:
        for key in ["Total params", "Trainable params", "Non-trainable params", "Optimizer params"]:
            if line.strip().startswith(key + ":"):
                found[key] = " ".join(line.split())
    return found


def parameter_counts(model):
    trainable = int(sum(np.prod(w.shape) for w in model.trainable_weights))
    frozen = int(sum(np.prod(w.shape) for w in model.non_trainable_weights))
    return {"trainable_params": trainable, "non_trainable_params": frozen}


def frozen():
    x, y = fashion_mnist(256)
    model = seed_mlp(7)
    model.layers[1].trainable = False
    initial = [array(w) for w in model.get_weights()]
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    before = summary_lines(model)
    recorder = RunningLoss()
    history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0, callbacks=[recorder])
    counts = parameter_counts(model)
    cases = [{
        "kind": "training", "model": "Flatten(28,28) -> Dense(32, relu, trainable=False) -> Dense(10, softmax)",
        "data": "fashion-mnist train images [0, 256), pixels / 255, labels as integers", "batch_size": 32,
        "epochs": 2, "shuffle": False, "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
        "optimizer": "adam",
        "layers": [{"class_name": type(layer).__name__, "config": layer.get_config()} for layer in model.layers],
        "initial_weights": initial, "weight_names": [w.name for w in model.weights],
        "weight_paths": [w.path for w in model.weights], "weight_trainable": [bool(w.trainable) for w in model.weights],
        "running_mean_loss_after_each_step": recorder.losses,
        "history": {k: [float(v) for v in values] for k, values in history.history.items()},
        "final_weights": [array(w) for w in model.get_weights()], **counts,
        "total_params": counts["trainable_params"] + counts["non_trainable_params"],
        "summary_lines_before_fit": before, "summary_lines_after_fit": summary_lines(model),
        "optimizer_variables": [v.path for v in model.optimizer.variables],
    }]
    rng = generator(7)
    x = rng.normal(0, 1, (3, 5, 5, 2)).astype(np.float32)
    labels = np.array([1, 2, 0])

    def batchnorm_model(bn_trainable):
        keras.backend.clear_session()
        return keras.Sequential([
            keras.layers.Input((5, 5, 2)), keras.layers.Conv2D(3, 3, padding="same"),
            keras.layers.BatchNormalization(trainable=bn_trainable), keras.layers.Activation("relu"),
            keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    model = batchnorm_model(False)
    shapes = [w.shape for w in model.get_weights()]
    weights = [rng.normal(0, 0.5, shapes[0]), rng.normal(0, 0.1, shapes[1]), rng.uniform(0.5, 1.5, shapes[2]),
               rng.normal(0, 0.3, shapes[3]), rng.normal(0, 0.3, shapes[4]), rng.uniform(0.5, 2, shapes[5]),
               rng.normal(0, 0.5, shapes[6]), rng.normal(0, 0.1, shapes[7])]
    weights = [w.astype(np.float32) for w in weights]
    case = {
        "kind": "batchnorm_frozen",
        "model": "Conv2D(same) -> BatchNormalization(trainable=False) -> Activation(relu) -> "
                 "GlobalAveragePooling2D -> Dense(softmax)",
        "x": array(x), "y": [int(v) for v in labels], "loss": "sparse_categorical_crossentropy",
        "optimizer": "SGD", "optimizer_config": {"learning_rate": 0.1}, "weights": [array(w) for w in weights],
    }
    for part, bn_trainable in [("frozen", False), ("contrast_bn_trainable", True)]:
        model = batchnorm_model(bn_trainable)
        model.set_weights(weights)
        if not bn_trainable:
            case["layers"] = [{"class_name": type(layer).__name__, "config": layer.get_config()}
                              for layer in model.layers]
            case["weight_names"] = [w.name for w in model.weights]
            case["weight_paths"] = [w.path for w in model.weights]
            case["y_training_mode"] = array(model(x, training=True))
            case["y_inference_mode"] = array(model(x, training=False))
        else:
            case["y_training_mode_if_bn_trainable"] = array(model(x, training=True))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy")
        loss_function = keras.losses.SparseCategoricalCrossentropy()
        with tf.GradientTape() as tape:
            loss = loss_function(labels, model(x, training=True))
        gradients = tape.gradient(loss, model.trainable_weights)
        model.set_weights(weights)
        step_loss = model.train_on_batch(x, labels)
        case[part] = {
            "train_on_batch_loss": float(step_loss), "loss_before_step": float(loss),
            "d_trainable_weights": [array(g) for g in gradients],
            "trainable_weight_paths": [w.path for w in model.trainable_weights],
            "weights_after_one_step": [array(w) for w in model.get_weights()], **parameter_counts(model),
            "summary_lines": summary_lines(model),
        }
    cases.append(case)
    return cases


# MARK: Functional models

def functional_models():
    """(description, model, compile arguments or None) for each case, built in a fresh session."""
    L = keras.layers
    def residual():
        x = L.Input((5, 5, 3))
        y = L.Conv2D(3, 3, padding="same")(x)
        y = L.Activation("relu")(L.BatchNormalization()(y))
        y = L.Conv2D(3, 3, padding="same")(y)
        y = L.Activation("relu")(L.Add()([x, y]))
        return keras.Model(x, L.Dense(2)(L.GlobalAveragePooling2D()(y)))

    def two_inputs():
        a, b = L.Input((4,), name="input_a"), L.Input((2,), name="input_b")
        y = L.Dense(3, activation="relu")(L.Concatenate()([a, b]))
        return keras.Model([a, b], L.Dense(2)(y))

    def two_heads():
        x = L.Input((5,))
        h = L.Dense(8, activation="relu")(x)
        return keras.Model(x, [L.Dense(3, activation="softmax", name="class")(h), L.Dense(1, name="reg")(h)])

    def shared():
        a, b = L.Input((3,)), L.Input((3,))
        dense = L.Dense(2, activation="tanh")
        return keras.Model([a, b], L.Subtract()([dense(a), dense(b)]))

    def merges():
        x = L.Input((4,))
        branches = [L.Dense(3, activation="tanh")(x), L.Dense(3)(x), L.Dense(3, activation="sigmoid")(x)]
        merged = [L.Multiply()(branches[:2]), L.Average()(branches), L.Maximum()(branches),
                  L.Minimum()(branches[1:])]
        return keras.Model(x, L.Dense(2)(L.Concatenate()(merged)))

    two_losses = {"loss": {"class": "sparse_categorical_crossentropy", "reg": "mse"},
                  "loss_weights": {"class": 1.0, "reg": 0.5}}
    return [
        ("residual block: x -> Conv2D(same) -> BN -> relu -> Conv2D(same) -> Add([x, .]) -> relu -> GAP -> Dense",
         residual, None, 2),
        ("two inputs -> Concatenate -> Dense(relu) -> Dense", two_inputs, None, 2),
        ("one input, two heads (softmax class + linear reg), two losses with loss_weights", two_heads, two_losses, 3),
        ("shared Dense(tanh) applied to two inputs, then Subtract", shared, None, 2),
        ("three Dense branches merged by Multiply, Average, Maximum, Minimum, then Concatenate -> Dense", merges,
         None, 4),
    ]


def summary_rows(model):
    """Each row of `model.summary()`'s table: name, type, output shape, parameters, what it is connected to."""
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        model.summary(line_length=160)
    lines = text.getvalue().rstrip("\n").splitlines()
    rows = []
    for line in lines:
        if not line.startswith("│"):
            continue
        cells = [cell.strip() for cell in line.strip("│").split("│")]
        if cells[2]:
            # A long "name (Type)" wraps: the type then starts the next line.
            name, kind = cells[0].rsplit(" (", 1) if " (" in cells[0] else (cells[0], "")
            rows.append({"name": name, "type": kind.rstrip(")"), "output_shape": cells[1],
                         "params": int(cells[2].replace(",", "")), "connected_to": cells[3]})
            continue
        if rows and cells[0].startswith("(") and not rows[-1]["type"]:
            rows[-1]["type"] = cells[0].strip("()")
        if rows and cells[3]:  # a layer fed by several tensors: the list wraps, each line but the last ends in ","
            separator = " " if rows[-1]["connected_to"].endswith(",") else ", "
            rows[-1]["connected_to"] += separator + cells[3]
    return rows, "\n".join(lines)


def functional():
    rng = generator(7)
    cases = []
    for desc, build, compile_arguments, batch in functional_models():
        keras.backend.clear_session()
        model = build()
        weights = []
        for w in model.weights:
            if w.name == "moving_variance" or w.name == "gamma":
                weights.append(rng.uniform(0.5, 1.5, w.shape).astype(np.float32))
            else:
                weights.append(rng.normal(0, 0.5, w.shape).astype(np.float32))
        model.set_weights(weights)
        inputs = [rng.normal(0, 1, (batch,) + tuple(i.shape[1:])).astype(np.float32) for i in model.inputs]
        result = model(inputs, training=False)
        outputs = [np.asarray(o) for o in (result if isinstance(result, (list, tuple)) else [result])]
        upstream = [rng.normal(0, 1, o.shape).astype(np.float32) for o in outputs]
        rows, text = summary_rows(model)
        counts = parameter_counts(model)
        case = {
            "desc": desc, "config": model.get_config(), "serialized": keras.saving.serialize_keras_object(model),
            "weights": [array(w) for w in weights], "weight_names": [w.name for w in model.weights],
            "weight_paths": [w.path for w in model.weights],
            "weight_trainable": [bool(w.trainable) for w in model.weights],
            "inputs": [array(i) for i in inputs], "input_names": [i._keras_history[0].name for i in model.inputs],
            "outputs_inference": [array(o) for o in outputs], "output_names": list(model.output_names),
        }
        def gradients(training):
            with tf.GradientTape() as tape:
                result = model(inputs, training=training)
                result = result if isinstance(result, (list, tuple)) else [result]
                total = tf.add_n([tf.reduce_sum(o * u) for o, u in zip(result, upstream)])
            return result, total, tape.gradient(total, model.trainable_weights)
        if compile_arguments is None:
            _, total, grads = gradients(False)
            case.update({"loss": "sum over outputs of sum(output * upstream), outputs in inference mode "
                                 "(training=False)", "upstream": [array(u) for u in upstream],
                         "loss_value": float(total), "d_weights": [array(g) for g in grads]})
        else:
            model.compile(optimizer="sgd", **compile_arguments)
            case["serialized"] = keras.saving.serialize_keras_object(model)  # with its compile config
            y_true = {"class": rng.integers(0, 3, batch), "reg": rng.normal(0, 1, (batch, 1)).astype(np.float32)}
            with tf.GradientTape() as tape:
                predictions = model(inputs, training=True)
                total = model.compute_loss(inputs, y_true, dict(zip(model.output_names, predictions)))
            grads = tape.gradient(total, model.trainable_weights)
            evaluation = model.evaluate(inputs, y_true, batch_size=batch, verbose=0, return_dict=True)
            case.update({
                "loss": "the compiled loss: loss_weights['class'] * sparse_categorical_crossentropy + "
                        "loss_weights['reg'] * mse (upstream unused)",
                "upstream": [array(u) for u in upstream], "loss_value": float(total),
                "d_weights": [array(g) for g in grads],
            })
        case.update({
            "d_weight_paths": [w.path for w in model.trainable_weights], "summary_rows": rows,
            "total_params": counts["trainable_params"] + counts["non_trainable_params"], **counts,
            "summary_text": text,
        })
        if compile_arguments is not None:
            case.update({
                "compile": compile_arguments,
                "y_true": {"class": [int(v) for v in y_true["class"]], "reg": array(y_true["reg"])},
                "evaluate": {k: float(v) for k, v in evaluation.items()},
                "note_loss": "total = sum_i loss_weights[i] * loss_i (each loss_i mean over the batch); evaluate "
                             "reports the per-output losses unweighted as <output name>_loss",
            })
        if any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers):
            result, _, grads = gradients(True)
            case.update({
                "outputs_training": [array(o) for o in result], "d_weights_training": [array(g) for g in grads],
                "note_training": "training=True: BatchNormalization uses batch statistics (biased variance); the "
                                 "moving statistics are updated by that call, so weights_after_training_call "
                                 "gives them",
                "weights_after_training_call": [array(w) for w in model.get_weights()],
            })
        cases.append(case)
    return cases


FIXTURES = [
    ("StrataActivationsTests/Fixtures/activations.json", activations),
    ("StrataLossesTests/Fixtures/losses.json", losses),
    ("StrataOptimizersTests/Fixtures/optimizers.json", optimizers),
    ("StrataLayersTests/Fixtures/layers.json", layers),
    ("../Examples/CustomLayers/Tests/CustomLayersTests/Fixtures/layers.json", lambda: layers(plugin=True)),
    ("StrataTests/Fixtures/summaries.json", summaries),
    ("StrataTests/Fixtures/training.json", training),
    ("StrataTests/Fixtures/schedules.json", schedules),
    ("StrataTests/Fixtures/constraints.json", constraints),
    ("StrataTests/Fixtures/metrics.json", metrics),
    ("StrataTests/Fixtures/weighting.json", weighting),
    ("StrataTests/Fixtures/regularizers.json", regularizers),
    ("StrataTests/Fixtures/frozen.json", frozen),
    ("StrataTests/Fixtures/functional.json", functional),
]

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Regenerate Strata's Keras fixtures.")
    parser.add_argument("--out", default=ROOT, help="the folder that holds the test targets (default: Tests/)")
    parser.add_argument("--only", help="one fixture file name, e.g. losses.json")
    options = parser.parse_args()
    for path, make in FIXTURES:
        if options.only and not path.endswith(options.only):
            continue
        destination = os.path.join(options.out, path)
        os.makedirs(os.path.dirname(destination), exist_ok=True)
        text = json.dumps({"generator": GENERATOR, "cases": make()}) + "\n"
        if len(text) > COMPRESS_ABOVE:
            # Large fixtures are kept gzipped (mtime 0: the same numbers give the same bytes).
            destination += ".gz"
            with open(destination, "wb") as f:
                with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as z:
                    z.write(text.encode())
        else:
            with open(destination, "w") as f:
                f.write(text)
        print(f"wrote {destination}")
