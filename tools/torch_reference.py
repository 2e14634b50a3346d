#!/usr/bin/python3
"""PyTorch reference for edgetrain's LeNet training loop.

Purpose
-------
Trains the edgetrain LeNet (conv 3x3x32 -> relu -> maxpool 2 -> conv 2x2x32 ->
relu -> maxpool 2 -> channel-last flatten -> fc 500 -> relu -> fc 10 ->
softmax, categorical cross-entropy on the probabilities) for 10 Adam steps
from deterministic, formula-generated initial weights on the first 64 MNIST
training images, and writes a small JSON fixture that the C++ tests compare
against.

Regenerate the fixture (from the repository root):

    /usr/bin/python3 tools/torch_reference.py \
        [--data-dir ../shared/data/mnist] \
        [--output tests/fixtures/lenet_torch_reference.json]

Requires torch (tested with 1.13) and numpy; runs on CPU in float32 with one
thread.

Initial weights
---------------
Parameter tensors are numbered p = 0..7 (conv1.weight, conv1.bias,
conv2.weight, conv2.bias, hidden1.weight, hidden1.bias, hidden2.weight,
hidden2.bias), using Core ML layouts: conv (out, in, kh, kw), inner product
(out, in). Element i (flat row-major index) of tensor p is

    z = (p+1)*0x9E3779B97F4A7C15 + (i+1)*0xBF58476D1CE4E5B9      (mod 2^64)
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9                     (mod 2^64)
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB                     (mod 2^64)
    z = z ^ (z >> 31)
    u = (z >> 40) / 2^24                                          (exact)
    value = float32((2*u - 1) * limit)     # product in float64, then rounded

limit = sqrt(6 / fan_in) (float64) for weights, fan_in = 9, 128, 1152, 500;
limit = 0.1 for biases.
"""

import argparse
import gzip
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

BATCH_SIZE = 32
STEPS = 10
NUM_SAMPLES = 64
LEARNING_RATE = 1e-3
BETA1 = 0.9
BETA2 = 0.999
EPS = 1e-8
PROB_CLAMP = 1e-12

# (name, shape, limit)
PARAM_SPECS = [
    ("conv1.weight", (32, 1, 3, 3), math.sqrt(6.0 / 9)),
    ("conv1.bias", (32,), 0.1),
    ("conv2.weight", (32, 32, 2, 2), math.sqrt(6.0 / 128)),
    ("conv2.bias", (32,), 0.1),
    ("hidden1.weight", (500, 1152), math.sqrt(6.0 / 1152)),
    ("hidden1.bias", (500,), 0.1),
    ("hidden2.weight", (10, 500), math.sqrt(6.0 / 500)),
    ("hidden2.bias", (10,), 0.1),
]

M64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15
MIX1 = 0xBF58476D1CE4E5B9
MIX2 = 0x94D049BB133111EB


def init_values(p, count, limit):
    """Vectorised initial values (numpy uint64 wrap-around arithmetic)."""
    with np.errstate(over="ignore"):
        i1 = np.arange(1, count + 1, dtype=np.uint64)
        z = np.uint64((p + 1) * GOLDEN & M64) + i1 * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(MIX1)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(MIX2)
        z = z ^ (z >> np.uint64(31))
    u = (z >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return ((2.0 * u - 1.0) * limit).astype(np.float32)


def init_value_py(p, i, limit):
    """Scalar pure-Python-int version, used to cross-check init_values."""
    z = ((p + 1) * GOLDEN + (i + 1) * MIX1) & M64
    z = ((z ^ (z >> 30)) * MIX1) & M64
    z = ((z ^ (z >> 27)) * MIX2) & M64
    z = z ^ (z >> 31)
    u = (z >> 40) / float(1 << 24)
    return float(np.float32((2.0 * u - 1.0) * limit))


def make_params():
    params = {}
    for p, (name, shape, limit) in enumerate(PARAM_SPECS):
        count = int(np.prod(shape))
        vals = init_values(p, count, limit)
        for i in (0, 1, 2, count // 2, count - 1):
            ref = init_value_py(p, i, limit)
            if float(vals[i]) != ref:
                raise AssertionError(f"init mismatch {name}[{i}]: {vals[i]!r} vs {ref!r}")
        params[name] = torch.tensor(vals.reshape(shape), dtype=torch.float32,
                                    requires_grad=True)
    return params


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * k:8 + 4 * k], "big") for k in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_mnist(data_dir, n):
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))[:n]
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))[:n]
    x = torch.from_numpy((images.astype(np.float32) / np.float32(255.0)).reshape(n, 1, 28, 28))
    t = torch.from_numpy(labels.astype(np.int64))
    return x, t


def forward(params, x):
    h = F.relu(F.conv2d(x, params["conv1.weight"], params["conv1.bias"]))
    h = F.max_pool2d(h, 2, 2)                      # (N,32,13,13)
    h = F.relu(F.conv2d(h, params["conv2.weight"], params["conv2.bias"]))
    h = F.max_pool2d(h, 2, 2)                      # (N,32,6,6)
    h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # channel-last flatten
    h = F.relu(F.linear(h, params["hidden1.weight"], params["hidden1.bias"]))
    logits = F.linear(h, params["hidden2.weight"], params["hidden2.bias"])
    return torch.softmax(logits, dim=1)


def loss_fn(probs, targets):
    picked = probs.gather(1, targets.view(-1, 1)).squeeze(1)
    return (-torch.log(picked.clamp_min(PROB_CLAMP))).mean()


def f64(v):
    return float(v)


def main():
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir",
                    default=os.path.normpath(os.path.join(repo, "..", "shared", "data", "mnist")))
    ap.add_argument("--output",
                    default=os.path.join(repo, "tests", "fixtures", "lenet_torch_reference.json"))
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)

    x_all, t_all = load_mnist(args.data_dir, NUM_SAMPLES)
    params = make_params()
    names = [s[0] for s in PARAM_SPECS]

    initial_parameter_check = {
        n: [f64(v) for v in params[n].detach().reshape(-1)[:3]] for n in names}

    with torch.no_grad():
        p0 = forward(params, x_all[:2])
    initial_probabilities = [[f64(v) for v in row] for row in p0]

    opt = torch.optim.Adam([params[n] for n in names], lr=LEARNING_RATE,
                           betas=(BETA1, BETA2), eps=EPS, weight_decay=0)
    losses = []
    initial_gradient_sums = None
    for s in range(STEPS):
        start = (s % 2) * BATCH_SIZE
        x = x_all[start:start + BATCH_SIZE]
        t = t_all[start:start + BATCH_SIZE]
        opt.zero_grad()
        loss = loss_fn(forward(params, x), t)
        losses.append(f64(loss.item()))
        loss.backward()
        if s == 0:
            initial_gradient_sums = {}
            for n in names:
                g = params[n].grad.detach().reshape(-1).double()
                initial_gradient_sums[n] = {
                    "sum": f64(g.sum()),
                    "abs_sum": f64(g.abs().sum()),
                    "first": [f64(v) for v in g[:4]],
                }
        opt.step()

    final_parameter_sums = {}
    for n in names:
        v = params[n].detach().reshape(-1)
        final_parameter_sums[n] = {
            "sum": f64(v.double().sum()),
            "first": [f64(e) for e in v[:4]],
        }

    fixture = {
        "description": (
            "PyTorch reference for the edgetrain LeNet (conv1 3x3x32, relu, maxpool2, "
            "conv2 2x2x32, relu, maxpool2, channel-last flatten, hidden1 1152->500, relu, "
            "hidden2 500->10, softmax, cross-entropy -log(max(p[target],1e-12)) averaged "
            "over the batch). Deterministic splitmix64-style initial weights (see "
            "tools/torch_reference.py header), first 64 MNIST training images (pixels/255), "
            "batch 32 without shuffling (step s uses images [(s%2)*32, (s%2)*32+32)), "
            "torch.optim.Adam, float32, 1 thread. losses[s] is the loss before update s. "
            "Gradient/parameter sums are accumulated in float64 from the float32 values. "
            "Regenerate from the repo root with: /usr/bin/python3 tools/torch_reference.py "
            "[--data-dir ../shared/data/mnist]"),
        "torch_version": torch.__version__,
        "batch_size": BATCH_SIZE,
        "steps": STEPS,
        "learning_rate": LEARNING_RATE,
        "beta1": BETA1,
        "beta2": BETA2,
        "eps": EPS,
        "losses": losses,
        "initial_probabilities": initial_probabilities,
        "initial_gradient_sums": initial_gradient_sums,
        "final_parameter_sums": final_parameter_sums,
        "initial_parameter_check": initial_parameter_check,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        json.dump(fixture, f, indent=2)
        f.write("\n")

    print(f"torch {torch.__version__}; wrote {args.output} "
          f"({os.path.getsize(args.output)} bytes)")
    print("losses:")
    for s, l in enumerate(losses):
        print(f"  step {s}: {l:.9g}")
    print("initial probabilities sample 0:", " ".join(f"{v:.4f}" for v in initial_probabilities[0]))
    print("initial parameters (first 3):")
    for n in names:
        print(f"  {n:15s}", " ".join(f"{v:.9g}" for v in initial_parameter_check[n]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
