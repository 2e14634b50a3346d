#!/usr/bin/python3
"""PyTorch references for edgetrain's layer kinds: the fixtures of tests/nn/test_layers.cpp.

Each case is one Core ML layer (its NeuralNetworkLayer in protobuf's JSON form, with Apple's field
names and its weights as floatValue), seeded random inputs for two samples, and the outputs PyTorch
computes from the same inputs and weights. The C++ test reads the layer through edgetrain's own
Core ML reader, runs it, compares, and checks its gradients by finite differences.

    /usr/bin/python3 tools/layer_reference.py            # writes tests/fixtures/layers/base.json

Other families of kinds have their own scripts (tools/layer_reference_<family>.py) built on the
helpers here, each writing tests/fixtures/layers/<family>.json. Requires Debian's python3-torch and
python3-numpy; CPU, float32, deterministic.
"""

import argparse
import json
import os

import numpy as np
import torch
import torch.nn.functional as F

SAMPLES = 2  # each case runs a batch of two


class Case:
    """One layer: `inputs` maps input names to per-sample shapes, `layer` is the Core ML JSON."""

    def __init__(self, name, layer, inputs, exact_mapping=False, indices=(), gradient=True,
                 low=-1.0, high=1.0, mode="inference"):
        self.name = name
        self.layer = layer
        self.inputs = inputs  # [(name, per-sample shape)]
        self.exact_mapping = exact_mapping
        self.indices = set(indices)  # input names holding integer indices (no gradient)
        self.gradient = gradient
        self.low, self.high = low, high
        # "training": forward and gradients in training mode (batch statistics); the reference
        # must compute the same (both samples as one batch).
        self.mode = mode


def rng_for(name):
    # A seed from the case name, so adding a case never changes another's data.
    return np.random.default_rng(abs(hash_name(name)))


def hash_name(name):
    h = 1469598103934665603
    for c in name.encode():
        h = ((h ^ c) * 1099511628211) % (1 << 63)
    return h


def floats(array):
    return [float(v) for v in np.asarray(array, dtype=np.float32).reshape(-1)]


def weights(array):
    """A WeightParams message holding `array` as float32 values (Core ML's row-major order)."""
    return {"floatValue": floats(array)}


def random_array(rng, shape, low=-1.0, high=1.0):
    return rng.uniform(low, high, size=shape).astype(np.float32)


def tensor(array):
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def write(family, cases, compute, output_dir):
    """Runs every case through `compute(case, layer_json, inputs) -> [outputs]` (torch tensors of
    shape (SAMPLES, ...)) and writes the fixture file of the family. Integer-index inputs (named in
    Case.indices) are drawn from [0, high)."""
    torch.manual_seed(0)
    torch.set_num_threads(1)
    records = []
    for case in cases:
        rng = rng_for(case.name)
        inputs = {}
        for name, shape in case.inputs:
            if name in case.indices:
                inputs[name] = rng.integers(0, int(case.high), size=(SAMPLES, *shape)).astype(
                    np.float32)
            else:
                inputs[name] = random_array(rng, (SAMPLES, *shape), case.low, case.high)
        layer = case.layer(rng) if callable(case.layer) else case.layer
        with torch.no_grad():
            outputs = compute(case, layer, {k: tensor(v) for k, v in inputs.items()})
        records.append({
            "name": case.name,
            "layer": layer,
            "exact_mapping": case.exact_mapping,
            "inputs": [{"name": name, "shape": list(shape), "values": floats(inputs[name]),
                        "indices": name in case.indices} for name, shape in case.inputs],
            "outputs": [{"name": name, "shape": list(out.shape[1:]), "values": floats(out.numpy())}
                        for name, out in zip(layer["output"], outputs)],
            "gradient": case.gradient,
            "mode": case.mode,
        })
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, family + ".json")
    with open(path, "w") as f:
        json.dump({"generator": "tools/layer_reference*.py", "family": family, "cases": records},
                  f, separators=(",", ":"))
        f.write("\n")
    print(f"{path}: {len(records)} cases")


def main(family, cases, compute):
    parser = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--output-dir", default=os.path.join(here, "..", "tests", "fixtures",
                                                             "layers"))
    args = parser.parse_args()
    write(family, cases, compute, args.output_dir)


# ---- The base kinds: convolution, pooling, activation, flatten, inner product, softmax ----------

def layer(name, kind, params, inputs=("x",), outputs=("y",)):
    return {"name": name, "input": list(inputs), "output": list(outputs), kind: params}


def same_pads(size, kernel, stride, dilation, top_left_heavy):
    extent = (kernel - 1) * dilation + 1
    out = (size + stride - 1) // stride
    total = max(0, (out - 1) * stride + extent - size)
    before = total - total // 2 if top_left_heavy else total // 2
    return before, total - before


def convolution_case(name, channels, size, out, kernel, stride=(1, 1), dilation=(1, 1), groups=1,
                     padding=("valid", (0, 0, 0, 0)), bias=True):
    def make(rng):
        w = random_array(rng, (out, channels // groups, *kernel), -0.5, 0.5)
        params = {"outputChannels": out, "kernelChannels": channels // groups, "nGroups": groups,
                  "kernelSize": list(kernel), "stride": list(stride),
                  "dilationFactor": list(dilation), "hasBias": bias, "weights": weights(w)}
        kind, amounts = padding
        if kind == "valid":
            params["valid"] = {"paddingAmounts": {"borderAmounts": [
                {"startEdgeSize": amounts[0], "endEdgeSize": amounts[1]},
                {"startEdgeSize": amounts[2], "endEdgeSize": amounts[3]}]}}
        else:
            params["same"] = {"asymmetryMode": kind}
        if bias:
            params["bias"] = weights(random_array(rng, (out,)))
        return layer(name, "convolution", params)
    return Case(name, make, [("x", (channels, *size))])


def pooling_case(name, kind, size, kernel=(2, 2), stride=(2, 2), padding=("valid", (0, 0, 0, 0)),
                 exclude=True, global_pool=False, channels=3):
    params = {"type": kind, "kernelSize": list(kernel), "stride": list(stride),
              "avgPoolExcludePadding": exclude, "globalPooling": global_pool}
    mode, amounts = padding
    if mode == "valid":
        params["valid"] = {"paddingAmounts": {"borderAmounts": [
            {"startEdgeSize": amounts[0], "endEdgeSize": amounts[1]},
            {"startEdgeSize": amounts[2], "endEdgeSize": amounts[3]}]}}
    elif mode == "includeLastPixel":
        params["includeLastPixel"] = {"paddingAmounts": [amounts[0], amounts[2]]}
    else:
        params["same"] = {"asymmetryMode": mode}
    return Case(name, layer(name, "pooling", params), [("x", (channels, *size))])


def activation_case(name, params, shape=(3, 4, 5), per_channel=None, low=-2.0, high=2.0):
    def make(rng):
        p = dict(params)
        if per_channel == "PReLU":
            p = {"PReLU": {"alpha": weights(random_array(rng, (shape[0],), 0.0, 0.5))}}
        elif per_channel == "parametricSoftplus":
            p = {"parametricSoftplus": {"alpha": weights(random_array(rng, (shape[0],), 0.5, 1.5)),
                                        "beta": weights(random_array(rng, (shape[0],), 0.5, 1.5))}}
        return layer(name, "activation", p)
    return Case(name, make, [("x", shape)], low=low, high=high)


BASE_CASES = [
    convolution_case("convolution_valid", 3, (7, 6), 4, (3, 2)),
    convolution_case("convolution_valid_amounts", 2, (5, 5), 3, (3, 3), padding=("valid", (1, 0, 2, 1))),
    convolution_case("convolution_same_bottom_right", 2, (6, 7), 4, (3, 2), stride=(2, 1),
                     padding=("BOTTOM_RIGHT_HEAVY", None)),
    convolution_case("convolution_same_top_left", 2, (6, 7), 4, (2, 4), stride=(1, 2),
                     padding=("TOP_LEFT_HEAVY", None)),
    convolution_case("convolution_grouped_dilated", 4, (7, 7), 6, (2, 2), dilation=(2, 1),
                     groups=2, bias=False),
    pooling_case("pooling_max", "MAX", (6, 6)),
    pooling_case("pooling_average_same_top_left", "AVERAGE", (5, 6), (3, 2), (2, 2),
                 ("TOP_LEFT_HEAVY", None), exclude=True),
    pooling_case("pooling_average_padded_counted", "AVERAGE", (5, 5), (3, 3), (2, 2),
                 ("valid", (1, 1, 1, 1)), exclude=False),
    pooling_case("pooling_l2", "L2", (6, 5), (2, 2), (1, 1)),
    pooling_case("pooling_max_include_last_pixel", "MAX", (7, 7), (3, 3), (2, 2),
                 ("includeLastPixel", (1, 1, 1, 1))),
    pooling_case("pooling_average_global", "AVERAGE", (4, 3), global_pool=True),
    pooling_case("pooling_max_global", "MAX", (4, 3), global_pool=True),
    activation_case("activation_linear", {"linear": {"alpha": 1.5, "beta": -0.25}}),
    activation_case("activation_relu", {"ReLU": {}}),
    activation_case("activation_leaky_relu", {"leakyReLU": {"alpha": 0.2}}),
    activation_case("activation_thresholded_relu", {"thresholdedReLU": {"alpha": 0.5}}),
    activation_case("activation_prelu", {}, per_channel="PReLU"),
    activation_case("activation_tanh", {"tanh": {}}),
    activation_case("activation_scaled_tanh", {"scaledTanh": {"alpha": 1.7, "beta": 0.6}}),
    activation_case("activation_sigmoid", {"sigmoid": {}}),
    activation_case("activation_sigmoid_hard", {"sigmoidHard": {"alpha": 0.2, "beta": 0.5}},
                    low=-4.0, high=4.0),
    activation_case("activation_elu", {"ELU": {"alpha": 0.8}}),
    activation_case("activation_softsign", {"softsign": {}}),
    activation_case("activation_softplus", {"softplus": {}}),
    activation_case("activation_parametric_softplus", {}, per_channel="parametricSoftplus"),
    Case("flatten_channel_first", layer("flatten_channel_first", "flatten", {"mode": "CHANNEL_FIRST"}),
         [("x", (3, 2, 4))]),
    Case("flatten_channel_last", layer("flatten_channel_last", "flatten", {"mode": "CHANNEL_LAST"}),
         [("x", (3, 2, 4))]),
    Case("inner_product", lambda rng: layer("inner_product", "innerProduct", {
        "inputChannels": 24, "outputChannels": 5, "hasBias": True,
        "weights": weights(random_array(rng, (5, 24), -0.5, 0.5)),
        "bias": weights(random_array(rng, (5,)))}), [("x", (24, 1, 1))]),
    Case("inner_product_rows_exact", lambda rng: layer("inner_product_rows_exact", "innerProduct", {
        "inputChannels": 6, "outputChannels": 3, "hasBias": False,
        "weights": weights(random_array(rng, (3, 6), -0.5, 0.5))}), [("x", (4, 6))],
        exact_mapping=True),
    Case("softmax", layer("softmax", "softmax", {}), [("x", (5, 2, 3))], low=-3.0, high=3.0),
]


def compute_base(case, spec, inputs):
    x = inputs["x"]
    if "convolution" in spec:
        p = spec["convolution"]
        out, groups = p["outputChannels"], p["nGroups"]
        kh, kw = p["kernelSize"]
        sh, sw = p["stride"]
        dh, dw = p["dilationFactor"]
        w = torch.tensor(p["weights"]["floatValue"]).reshape(out, p["kernelChannels"], kh, kw)
        b = torch.tensor(p["bias"]["floatValue"]) if p["hasBias"] else None
        if "same" in p:
            top_left = p["same"]["asymmetryMode"] == "TOP_LEFT_HEAVY"
            top, bottom = same_pads(x.shape[2], kh, sh, dh, top_left)
            left, right = same_pads(x.shape[3], kw, sw, dw, top_left)
        else:
            borders = p["valid"]["paddingAmounts"]["borderAmounts"]
            top, bottom = borders[0]["startEdgeSize"], borders[0]["endEdgeSize"]
            left, right = borders[1]["startEdgeSize"], borders[1]["endEdgeSize"]
        x = F.pad(x, (left, right, top, bottom))
        return [F.conv2d(x, w, b, stride=(sh, sw), dilation=(dh, dw), groups=groups)]
    if "pooling" in spec:
        p = spec["pooling"]
        kind = p["type"]
        if p["globalPooling"]:
            kh, kw = x.shape[2], x.shape[3]
            sh, sw = 1, 1
        else:
            (kh, kw), (sh, sw) = p["kernelSize"], p["stride"]
        top = bottom = left = right = 0
        ceil = False
        if "same" in p:
            top_left = p["same"]["asymmetryMode"] == "TOP_LEFT_HEAVY"
            top, bottom = same_pads(x.shape[2], kh, sh, 1, top_left)
            left, right = same_pads(x.shape[3], kw, sw, 1, top_left)
        elif "includeLastPixel" in p:
            top, left = p["includeLastPixel"]["paddingAmounts"]
            bottom, right = top, left
            ceil = True
        elif "valid" in p:
            borders = p["valid"]["paddingAmounts"]["borderAmounts"]
            top, bottom = borders[0]["startEdgeSize"], borders[0]["endEdgeSize"]
            left, right = borders[1]["startEdgeSize"], borders[1]["endEdgeSize"]
        if kind == "MAX":
            if ceil:  # torch's ceil_mode takes symmetric padding itself
                return [F.max_pool2d(x, (kh, kw), (sh, sw), padding=(top, left), ceil_mode=True)]
            return [F.max_pool2d(F.pad(x, (left, right, top, bottom), value=-float("inf")),
                                 (kh, kw), (sh, sw))]
        padded = F.pad(x, (left, right, top, bottom))
        if kind == "L2":
            return [torch.sqrt(F.avg_pool2d(padded * padded, (kh, kw), (sh, sw)) * kh * kw)]
        sums = F.avg_pool2d(padded, (kh, kw), (sh, sw)) * kh * kw
        if not p["avgPoolExcludePadding"]:
            return [sums / (kh * kw)]
        ones = F.pad(torch.ones_like(x), (left, right, top, bottom))
        counts = F.avg_pool2d(ones, (kh, kw), (sh, sw)) * kh * kw
        return [sums / counts]
    if "activation" in spec:
        (kind, p), = spec["activation"].items()
        channels = (-1, 1, 1)
        if kind == "linear": return [p["alpha"] * x + p["beta"]]
        if kind == "ReLU": return [F.relu(x)]
        if kind == "leakyReLU": return [F.leaky_relu(x, p["alpha"])]
        if kind == "thresholdedReLU": return [torch.where(x > p["alpha"], x, torch.zeros_like(x))]
        if kind == "PReLU":
            return [F.prelu(x, torch.tensor(p["alpha"]["floatValue"]))]
        if kind == "tanh": return [torch.tanh(x)]
        if kind == "scaledTanh": return [p["alpha"] * torch.tanh(p["beta"] * x)]
        if kind == "sigmoid": return [torch.sigmoid(x)]
        if kind == "sigmoidHard": return [torch.clamp(p["alpha"] * x + p["beta"], 0.0, 1.0)]
        if kind == "ELU": return [F.elu(x, p["alpha"])]
        if kind == "softsign": return [F.softsign(x)]
        if kind == "softplus": return [F.softplus(x)]
        if kind == "parametricSoftplus":
            a = torch.tensor(p["alpha"]["floatValue"]).reshape(channels)
            b = torch.tensor(p["beta"]["floatValue"]).reshape(channels)
            return [a * F.softplus(b * x)]
    if "flatten" in spec:
        if spec["flatten"]["mode"] == "CHANNEL_LAST":
            x = x.permute(0, 2, 3, 1)
        return [x.reshape(x.shape[0], -1, 1, 1)]
    if "innerProduct" in spec:
        p = spec["innerProduct"]
        w = torch.tensor(p["weights"]["floatValue"]).reshape(p["outputChannels"], p["inputChannels"])
        b = torch.tensor(p["bias"]["floatValue"]) if p["hasBias"] else None
        if case.exact_mapping:
            return [F.linear(x, w, b)]
        return [F.linear(x.reshape(x.shape[0], -1), w, b).reshape(x.shape[0], -1, 1, 1)]
    if "softmax" in spec:
        return [torch.softmax(x, dim=-3)]
    raise ValueError("no reference for " + case.name)


if __name__ == "__main__":
    main("base", BASE_CASES, compute_base)
