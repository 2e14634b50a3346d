#!/usr/bin/python3
"""PyTorch references for batchnorm, embedding, embeddingND and batchedMatmul: the cases of
tests/fixtures/layers/tensor.json (see tools/layer_reference.py for the format).

    /usr/bin/python3 tools/layer_reference_tensor.py   # writes tests/fixtures/layers/tensor.json

Shapes are per sample (each case runs two samples). Core ML's batchnorm folds leading dimensions
into the batch; its training-mode cases (mode "training") normalise with the statistics of both
samples together, as PyTorch's BatchNorm2d does in training.
"""

import numpy as np
import torch
import torch.nn.functional as F

from layer_reference import Case, layer, main, random_array, weights


# ---- batchnorm ----------------------------------------------------------------------------------

def batchnorm_case(name, shape, epsilon=1e-3, compute=False, instance=False, mode="inference",
                   updatable=False, exact_mapping=False, stored_epsilon=None):
    channels = shape[-3] if len(shape) >= 3 else shape[0]

    def make(rng):
        params = {"channels": channels, "epsilon": epsilon if stored_epsilon is None else stored_epsilon,
                  "computeMeanVar": compute, "instanceNormalization": instance,
                  "gamma": weights(random_array(rng, (channels,), 0.5, 1.5)),
                  "beta": weights(random_array(rng, (channels,), -0.5, 0.5))}
        if not compute:
            params["mean"] = weights(random_array(rng, (channels,), -0.3, 0.3))
            params["variance"] = weights(random_array(rng, (channels,), 0.5, 2.0))
        spec = layer(name, "batchnorm", params)
        if updatable:
            spec["isUpdatable"] = True
        return spec
    return Case(name, make, [("x", shape)], exact_mapping=exact_mapping, mode=mode)


def compute_batchnorm(case, spec, x):
    p = spec["batchnorm"]
    channels = p["channels"]
    epsilon = p["epsilon"] or 1e-5
    samples = x.shape[0]
    if x.dim() == 2:  # a rank-1 sample [C] is (C, 1, 1)
        x = x.reshape(samples, channels, 1, 1)
    rows = x.reshape(-1, *x.shape[-3:])  # leading dimensions are batch
    gamma = torch.tensor(p["gamma"]["floatValue"])
    beta = torch.tensor(p["beta"]["floatValue"])
    if p["computeMeanVar"] and p["instanceNormalization"]:
        y = F.instance_norm(rows, weight=gamma, bias=beta, eps=epsilon)
    elif p["computeMeanVar"] or (case.mode == "training" and spec.get("isUpdatable", False)):
        # An updatable batchnorm in training: the batch's statistics (edgetrain's extension).
        y = F.batch_norm(rows, None, None, gamma, beta, training=True, eps=epsilon)
    else:
        mean = torch.tensor(p["mean"]["floatValue"])
        variance = torch.tensor(p["variance"]["floatValue"])
        y = F.batch_norm(rows, mean, variance, gamma, beta, training=False, eps=epsilon)
    return y.reshape(x.shape)


BATCHNORM_CASES = [
    batchnorm_case("batchnorm_inference", (3, 4, 5)),
    batchnorm_case("batchnorm_inference_default_epsilon", (2, 3, 3), stored_epsilon=0.0),
    batchnorm_case("batchnorm_inference_leading_dims", (2, 3, 4, 2), exact_mapping=True),
    batchnorm_case("batchnorm_inference_rank1", (4,)),
    batchnorm_case("batchnorm_training", (3, 4, 5), mode="training", updatable=True),
    batchnorm_case("batchnorm_training_leading_dims", (2, 3, 2, 3), mode="training",
                   updatable=True, exact_mapping=True, epsilon=1e-5),
    batchnorm_case("batchnorm_training_frozen", (3, 2, 4), mode="training"),
    batchnorm_case("batchnorm_instance", (3, 4, 4), compute=True, instance=True),
    batchnorm_case("batchnorm_instance_leading_dims", (2, 2, 3, 3), compute=True, instance=True,
                   exact_mapping=True),
    batchnorm_case("batchnorm_batch_statistics", (3, 3, 4), compute=True),
]


# ---- embedding and embeddingND ------------------------------------------------------------------

def embedding_case(name, shape, vocabulary, size, bias, nd=False, exact_mapping=True):
    kind = "embeddingND" if nd else "embedding"

    def make(rng):
        params = ({"vocabSize": vocabulary, "embeddingSize": size} if nd
                  else {"inputDim": vocabulary, "outputChannels": size})
        params["hasBias"] = bias
        params["weights"] = weights(random_array(rng, (size, vocabulary)))
        if bias:
            params["bias"] = weights(random_array(rng, (size,)))
        return layer(name, kind, params)
    return Case(name, make, [("x", shape)], exact_mapping=exact_mapping, indices=("x",),
                high=vocabulary)


def compute_embedding(p, x, nd):
    size = p["embeddingSize"] if nd else p["outputChannels"]
    vocabulary = p["vocabSize"] if nd else p["inputDim"]
    table = torch.tensor(p["weights"]["floatValue"]).reshape(size, vocabulary).t()  # (V, size)
    bias = torch.tensor(p["bias"]["floatValue"]) if p["hasBias"] else torch.zeros(size)
    if nd:  # (N, ..., 1) → (N, ..., size)
        return F.embedding(x[..., 0].long(), table) + bias
    # (N, ..., 1, 1, 1) → (N, ..., size, 1, 1); a rank-1 sample [1] is (1, 1, 1) → (size, 1, 1)
    if x.dim() == 2:
        x = x.reshape(x.shape[0], 1, 1, 1)
    indices = x[..., 0, 0, 0]
    y = F.embedding(indices.long(), table) + bias
    return y.reshape(*indices.shape, size, 1, 1)


EMBEDDING_CASES = [
    embedding_case("embedding_one_index", (1,), 7, 5, True, exact_mapping=False),
    embedding_case("embedding_sequence", (4, 1, 1, 1), 6, 3, False),
    embedding_case("embedding_rank5", (2, 3, 1, 1, 1), 5, 4, True),
    embedding_case("embedding_nd_sequence", (3, 1), 8, 6, True, nd=True),
    embedding_case("embedding_nd_rank3", (2, 2, 1), 5, 4, False, nd=True),
    embedding_case("embedding_nd_rank5", (1, 2, 2, 2, 1), 4, 3, True, nd=True),
]


# ---- batchedMatmul ------------------------------------------------------------------------------

def matmul_weights_case(name, shape, rows, columns, bias):
    def make(rng):
        w = random_array(rng, (rows, columns), -0.5, 0.5)  # (X1, X2)
        params = {"weightMatrixFirstDimension": rows, "weightMatrixSecondDimension": columns,
                  "hasBias": bias,
                  # Core ML stores the (X1, X2) matrix column-major: W transposed, row-major.
                  "weights": weights(w.T)}
        if bias:
            params["bias"] = weights(random_array(rng, (columns,)))
        return layer(name, "batchedMatmul", params)
    return Case(name, make, [("x", shape)], exact_mapping=True)


def matmul_case(name, a, b, transpose_a=False, transpose_b=False):
    params = {"transposeA": transpose_a, "transposeB": transpose_b}
    return Case(name, layer(name, "batchedMatmul", params, inputs=("a", "b")),
                [("a", a), ("b", b)], exact_mapping=True)


def compute_matmul(case, p, inputs):
    if len(case.inputs) == 1:
        x = inputs["x"]
        rows, columns = p["weightMatrixFirstDimension"], p["weightMatrixSecondDimension"]
        # Read the stored values back as Core ML defines them: column-major (X1, X2).
        w = torch.tensor(p["weights"]["floatValue"]).reshape(columns, rows).t()
        y = torch.matmul(x, w)
        if p["hasBias"]:
            y = y + torch.tensor(p["bias"]["floatValue"])
        return y
    a, b = inputs["a"], inputs["b"]
    samples = a.shape[0]
    a_dims, b_dims = list(a.shape[1:]), list(b.shape[1:])
    if len(a_dims) == 1:
        a_dims = [1] + a_dims
    if len(b_dims) == 1:
        b_dims = b_dims + [1]
    rank = max(len(a_dims), len(b_dims))
    # The samples stay apart: pad each sample's leading dimensions to the same rank first.
    a = a.reshape(samples, *([1] * (rank - len(a_dims))), *a_dims)
    b = b.reshape(samples, *([1] * (rank - len(b_dims))), *b_dims)
    if p["transposeA"]:
        a = a.transpose(-1, -2)
    if p["transposeB"]:
        b = b.transpose(-1, -2)
    return torch.matmul(a, b)


MATMUL_CASES = [
    matmul_weights_case("batched_matmul_weights_rank1", (6,), 6, 4, True),
    matmul_weights_case("batched_matmul_weights_rank3", (2, 3, 5), 5, 4, False),
    matmul_weights_case("batched_matmul_weights_rank2_bias", (3, 2), 2, 3, True),
    matmul_case("batched_matmul_two", (3, 4), (4, 5)),
    matmul_case("batched_matmul_two_transposed", (4, 3), (5, 4), True, True),
    matmul_case("batched_matmul_two_transpose_a", (2, 4, 3), (4, 2), transpose_a=True),
    matmul_case("batched_matmul_two_transpose_b", (3, 4), (2, 5, 4), transpose_b=True),
    matmul_case("batched_matmul_two_broadcast", (2, 1, 3, 4), (3, 4, 2)),
    matmul_case("batched_matmul_two_rank1_a", (4,), (2, 4, 3)),
    matmul_case("batched_matmul_two_rank1_b", (2, 3, 4), (4,)),
]


def compute(case, spec, inputs):
    if "batchnorm" in spec:
        return [compute_batchnorm(case, spec, inputs["x"])]
    if "embedding" in spec:
        return [compute_embedding(spec["embedding"], inputs["x"], nd=False)]
    if "embeddingND" in spec:
        return [compute_embedding(spec["embeddingND"], inputs["x"], nd=True)]
    if "batchedMatmul" in spec:
        return [compute_matmul(case, spec["batchedMatmul"], inputs)]
    raise ValueError("no reference for " + case.name)


if __name__ == "__main__":
    main("tensor", BATCHNORM_CASES + EMBEDDING_CASES + MATMUL_CASES, compute)
