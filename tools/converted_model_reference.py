#!/usr/bin/python3
"""A model as Core ML converters write them, and what PyTorch computes from the same weights.

The model (Core ML's JSON form, specification 4, rank-5 array mapping) has two inputs, a category
index and a 3x4x5 image-like array, and a graph a converter would emit for a small tabular + image
network: embedding of the category, permute of the array to channel-last, flatten, concat of both
branches, inner product, ReLU, inner product, softmax. tests/coreml/test_converted_model.cpp reads it
with edgetrain's reader and compares its predictions with PyTorch's.

    /usr/bin/python3 tools/converted_model_reference.py   # writes tests/fixtures/converted_model.json

Requires Debian's python3-torch and python3-numpy.
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F

CATEGORIES, EMBEDDING = 7, 6
C, H, W = 3, 4, 5
HIDDEN, CLASSES = 12, 4
SAMPLES = 5


def floats(array):
    return [float(v) for v in np.asarray(array, dtype=np.float32).reshape(-1)]


def array_feature(name, shape):
    return {"name": name, "type": {"multiArrayType": {"shape": shape, "dataType": "FLOAT32"}}}


def main():
    rng = np.random.default_rng(20261130)
    embedding = rng.uniform(-1, 1, (EMBEDDING, CATEGORIES)).astype(np.float32)  # [out, inputDim]
    embedding_bias = rng.uniform(-0.1, 0.1, EMBEDDING).astype(np.float32)
    features = EMBEDDING + C * H * W
    w1 = rng.uniform(-0.3, 0.3, (HIDDEN, features)).astype(np.float32)
    b1 = rng.uniform(-0.1, 0.1, HIDDEN).astype(np.float32)
    w2 = rng.uniform(-0.5, 0.5, (CLASSES, HIDDEN)).astype(np.float32)
    b2 = rng.uniform(-0.1, 0.1, CLASSES).astype(np.float32)

    def layer(name, inputs, outputs, kind, params):
        return {"name": name, "input": inputs, "output": outputs, kind: params}

    layers = [
        layer("embedding", ["category"], ["embedded"], "embedding",
              {"inputDim": CATEGORIES, "outputChannels": EMBEDDING, "hasBias": True,
               "weights": {"floatValue": floats(embedding)},
               "bias": {"floatValue": floats(embedding_bias)}}),
        # (Seq, C, H, W) → (Seq, H, W, C): the array channel-last.
        layer("to_channel_last", ["array"], ["permuted"], "permute", {"axis": [0, 2, 3, 1]}),
        layer("flatten", ["permuted"], ["flat"], "flatten", {"mode": "CHANNEL_FIRST"}),
        layer("join", ["embedded", "flat"], ["joined"], "concat", {}),
        layer("dense1", ["joined"], ["hidden"], "innerProduct",
              {"inputChannels": features, "outputChannels": HIDDEN, "hasBias": True,
               "weights": {"floatValue": floats(w1)}, "bias": {"floatValue": floats(b1)}}),
        layer("relu", ["hidden"], ["activated"], "activation", {"ReLU": {}}),
        layer("dense2", ["activated"], ["logits"], "innerProduct",
              {"inputChannels": HIDDEN, "outputChannels": CLASSES, "hasBias": True,
               "weights": {"floatValue": floats(w2)}, "bias": {"floatValue": floats(b2)}}),
        layer("softmax", ["logits"], ["probabilities"], "softmax", {}),
    ]
    model = {
        "specificationVersion": 4,
        "description": {
            "input": [array_feature("category", [1]), array_feature("array", [C, H, W])],
            "output": [array_feature("probabilities", [CLASSES])],
            "metadata": {"shortDescription": "converted-style model: embedding, permute, concat",
                         "author": "tools/converted_model_reference.py"},
        },
        "neuralNetwork": {"layers": layers},
    }

    categories = rng.integers(0, CATEGORIES, SAMPLES).astype(np.float32)
    arrays = rng.uniform(-1, 1, (SAMPLES, C, H, W)).astype(np.float32)
    with torch.no_grad():
        index = torch.from_numpy(categories).long()
        embedded = F.embedding(index, torch.from_numpy(embedding.T)) + torch.from_numpy(
            embedding_bias)
        permuted = torch.from_numpy(arrays).permute(0, 2, 3, 1).reshape(SAMPLES, -1)
        joined = torch.cat([embedded, permuted], dim=1)
        hidden = F.relu(F.linear(joined, torch.from_numpy(w1), torch.from_numpy(b1)))
        probabilities = torch.softmax(F.linear(hidden, torch.from_numpy(w2), torch.from_numpy(b2)),
                                      dim=1)
    fixture = {
        "generator": "tools/converted_model_reference.py",
        "model": model,
        "samples": [{"category": [float(categories[i])], "array": floats(arrays[i]),
                     "probabilities": floats(probabilities[i].numpy())} for i in range(SAMPLES)],
    }
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "tests", "fixtures", "converted_model.json")
    with open(path, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(path)


if __name__ == "__main__":
    main()
