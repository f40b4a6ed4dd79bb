"""Writes tiny_legacy_weights.h5: tiny_legacy.h5's weights in the layout of tf.keras 2's
`model.save_weights("x.h5")` (layer groups at the root, `layer_names` and `weight_names` as
fixed-length byte strings, weight datasets named `<layer>/kernel:0`).
    python make_legacy_weights.py   (needs h5py and numpy)"""
import h5py
import numpy as np

with h5py.File("tiny_legacy.h5", "r") as source, h5py.File("tiny_legacy_weights.h5", "w") as target:
    layers = [name for name in source["model_weights"].attrs["layer_names"]]
    target.attrs["layer_names"] = np.array([name.encode() for name in layers])
    target.attrs["backend"] = b"tensorflow"
    target.attrs["keras_version"] = b"2.15.0"
    for layer in layers:
        group = source["model_weights"][layer]
        names = list(group.attrs["weight_names"])
        out = target.create_group(layer)
        renamed = [f"{layer}/{name.split('/')[-1]}:0" for name in names]
        out.attrs["weight_names"] = np.array([name.encode() for name in renamed])
        for name, new in zip(names, renamed):
            out.create_dataset(new, data=group[name][()])
