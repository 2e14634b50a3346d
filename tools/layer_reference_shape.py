#!/usr/bin/python3
"""PyTorch references for the layer kinds that move data: reshape, permute, padding (classic) and
reshapeStatic, flattenTo2D, squeeze, expandDims, constantPad (ND). Writes
tests/fixtures/layers/shape.json for tests/nn/test_layers.cpp.

    cd tools && /usr/bin/python3 layer_reference_shape.py

Shapes follow edgetrain's per-sample reading of Core ML (include/edgetrain/layers.h): the classic
kinds see a blob as (Seq, C, H, W) blocks (a per-sample (C, H, W) has Seq 1; a rank-5 one under the
exact mapping is [Seq, Batch, C, H, W]); the ND kinds count Core ML's axes on the whole tensor,
which under the default rank-5 mapping is [Seq, Batch] + the per-sample shape.
"""

import math

import torch
import torch.nn.functional as F

from layer_reference import Case, layer, main


def case(name, kind, params, shape, exact=False, **options):
    return Case(name, layer(name, kind, params), [("x", shape)], exact_mapping=exact, **options)


# ---- Classic kinds: the (Seq, C, H, W) view ------------------------------------------------------

def sequence_view(shape):
    """A per-sample shape as (Seq, Batch, C, H, W), as edgetrain's classic layers read it."""
    if len(shape) == 1:
        return (1, 1, shape[0], 1, 1)
    if len(shape) == 3:
        return (1, 1, *shape)
    if len(shape) == 4:
        return (shape[0], 1, *shape[1:])
    return tuple(shape)


def reshape_output_shape(shape, target):
    """edgetrain's per-sample output of Core ML's reshape (src/nn/layers/reshape.cpp)."""
    if len(target) == 3:
        return tuple(target) if len(shape) <= 3 else (*shape[:-3], *target)
    if len(shape) == 5:
        return (target[0], 1, *target[1:])
    if len(shape) <= 3 and target[0] == 1:
        return tuple(target[1:])
    return tuple(target)


def reshape_reference(x, target, channel_last):
    """Apple's ReshapeLayerParams: channel-first reshapes the values in order; channel-last reads
    each (C, H, W) block in (H, W, C) order, reshapes to [Seq', H', W', C'] and permutes every
    block back to (C', H', W')."""
    n, shape = x.shape[0], tuple(x.shape[1:])
    seq, _, c, h, w = sequence_view(shape)
    seq = math.prod(shape) // (c * h * w)  # every leading dimension is sequence
    out_shape = reshape_output_shape(shape, target)
    c2, h2, w2 = target[-3:]
    if channel_last:
        blocks = x.reshape(n, seq, c, h, w).permute(0, 1, 3, 4, 2).reshape(n, -1, h2, w2, c2)
        x = blocks.permute(0, 1, 4, 2, 3)
    return x.reshape(n, *out_shape)


def permute_reference(x, axes):
    """Core ML's permute over (Seq, C, H, W) of [Seq, Batch, C, H, W], Batch kept in place."""
    n, shape = x.shape[0], tuple(x.shape[1:])
    view = sequence_view(shape)
    with_batch = [0 if a == 0 else a + 1 for a in axes]
    perm = [with_batch[0], 1, with_batch[1], with_batch[2], with_batch[3]]
    y = x.reshape(n, *view).permute(0, *[p + 1 for p in perm])
    out = [view[perm[0]], view[1], view[perm[2]], view[perm[3]], view[perm[4]]]
    if len(shape) == 5:
        return y.reshape(n, *out)
    if len(shape) <= 3 and out[0] == 1:
        return y.reshape(n, *out[2:])
    return y.reshape(n, out[0], *out[2:])


def padding_params(kind, amounts, value=0.0):
    top, bottom, left, right = amounts
    params = {kind: {"value": value} if kind == "constant" else {}}
    if amounts != (0, 0, 0, 0):
        params["paddingAmounts"] = {"borderAmounts": [
            {"startEdgeSize": top, "endEdgeSize": bottom},
            {"startEdgeSize": left, "endEdgeSize": right}]}
    return params


def padding_reference(x, params):
    borders = params.get("paddingAmounts", {}).get("borderAmounts")
    top, bottom, left, right = (0, 0, 0, 0) if not borders else (
        borders[0]["startEdgeSize"], borders[0]["endEdgeSize"],
        borders[1]["startEdgeSize"], borders[1]["endEdgeSize"])
    shape = x.shape
    planes = x.reshape(-1, 1, shape[-2], shape[-1])  # reflect/replicate want (N, C, H, W)
    if "constant" in params:
        y = F.pad(planes, (left, right, top, bottom), value=params["constant"]["value"])
    else:
        mode = "reflect" if "reflection" in params else "replicate"
        y = F.pad(planes, (left, right, top, bottom), mode=mode)
    return y.reshape(*shape[:-2], y.shape[-2], y.shape[-1])


# ---- ND kinds: Core ML's axes on [Seq, Batch] + the per-sample shape (rank-5 mapping) ------------

def per_sample_axis(axis, rank, exact):
    leading = 0 if exact else 2
    at = axis + rank + leading if axis < 0 else axis
    assert leading <= at < rank + leading, "the case names Seq or Batch"
    return at - leading


def nd_reference(case_, spec, x):
    n, shape = x.shape[0], tuple(x.shape[1:])
    exact = case_.exact_mapping
    if "reshapeStatic" in spec:
        target = spec["reshapeStatic"]["targetShape"][0 if exact else 2:]
        return x.reshape(n, *target)
    if "flattenTo2D" in spec:
        axis = per_sample_axis(spec["flattenTo2D"]["axis"], len(shape), exact)
        return x.reshape(n, math.prod(shape[:axis]), math.prod(shape[axis:]))
    if "squeeze" in spec:
        p = spec["squeeze"]
        if p.get("squeezeAll"):
            removed = {a for a, d in enumerate(shape) if d == 1}
        else:
            removed = {per_sample_axis(a, len(shape), exact) for a in p["axes"]}
        dims = [d for a, d in enumerate(shape) if a not in removed] or [1]
        return x.reshape(n, *dims)
    if "expandDims" in spec:
        axes = spec["expandDims"]["axes"]
        rank = len(shape) + len(axes)
        added = {per_sample_axis(a, rank, exact) for a in axes}
        rest = iter(shape)
        return x.reshape(n, *[1 if a in added else next(rest) for a in range(rank)])
    if "constantPad" in spec:
        p = spec["constantPad"]
        amounts = p["padAmounts"][0 if exact else 4:]
        pads = []  # F.pad lists (before, after) from the last axis backwards
        for axis in reversed(range(len(shape))):
            before, after = amounts[2 * axis], amounts[2 * axis + 1]
            if p.get("padToGivenOutputSizeMode"):
                before, after = max(0, before - shape[axis]), max(0, after - shape[axis])
            pads += [before, after]
        return F.pad(x, pads, value=p["value"])
    raise ValueError("no reference for " + case_.name)


SHAPE_CASES = [
    # reshape: per (C, H, W) block, and over the whole sample with a sequence axis
    case("reshape_channel_first", "reshape", {"targetShape": [6, 2, 2], "mode": "CHANNEL_FIRST"},
         (3, 4, 2)),
    case("reshape_channel_last", "reshape", {"targetShape": [4, 3, 2], "mode": "CHANNEL_LAST"},
         (3, 4, 2)),
    case("reshape_channel_last_vector", "reshape",
         {"targetShape": [3, 2, 2], "mode": "CHANNEL_LAST"}, (12,)),
    case("reshape_channel_first_to_sequence", "reshape",
         {"targetShape": [2, 3, 2, 2], "mode": "CHANNEL_FIRST"}, (2, 3, 4)),
    case("reshape_channel_last_to_sequence", "reshape",
         {"targetShape": [2, 2, 3, 2], "mode": "CHANNEL_LAST"}, (3, 2, 4)),
    case("reshape_channel_last_sequence_one", "reshape",
         {"targetShape": [1, 2, 6, 2], "mode": "CHANNEL_LAST"}, (3, 2, 4)),
    case("reshape_channel_last_rank5_exact", "reshape",
         {"targetShape": [2, 3, 2], "mode": "CHANNEL_LAST"}, (2, 1, 3, 2, 2), exact=True),
    # permute over (Seq, C, H, W)
    case("permute_whc", "permute", {"axis": [0, 3, 2, 1]}, (3, 4, 5)),
    case("permute_channel_last", "permute", {"axis": [0, 2, 3, 1]}, (3, 4, 5)),
    case("permute_swap_hw", "permute", {"axis": [0, 1, 3, 2]}, (2, 3, 4)),
    case("permute_identity", "permute", {"axis": [0, 1, 2, 3]}, (2, 3, 4)),
    case("permute_channels_to_sequence", "permute", {"axis": [1, 0, 2, 3]}, (3, 4, 5)),
    case("permute_moves_sequence", "permute", {"axis": [2, 3, 0, 1]}, (3, 4, 5)),
    case("permute_rank5_exact", "permute", {"axis": [3, 1, 2, 0]}, (2, 1, 3, 2, 4), exact=True),
    # padding of (H, W), asymmetric amounts
    case("padding_constant", "padding", padding_params("constant", (1, 2, 0, 3), 0.5), (2, 4, 5)),
    case("padding_reflection", "padding", padding_params("reflection", (2, 1, 3, 1)), (2, 4, 5)),
    case("padding_replication", "padding", padding_params("replication", (3, 0, 1, 4)),
         (2, 3, 4)),
    case("padding_reflection_rank2_exact", "padding", padding_params("reflection", (1, 2, 2, 0)),
         (4, 5), exact=True),
    case("padding_replication_vector", "padding", padding_params("replication", (0, 2, 1, 1)),
         (3,)),
    case("padding_none", "padding", padding_params("constant", (0, 0, 0, 0)), (2, 3, 3)),
    # reshapeStatic: Core ML's whole-tensor shape
    case("reshape_static_exact", "reshapeStatic", {"targetShape": [3, -1, 2]}, (4, 6), exact=True),
    case("reshape_static_to_vector_exact", "reshapeStatic", {"targetShape": [24]}, (2, 3, 4),
         exact=True),
    case("reshape_static_rank5", "reshapeStatic", {"targetShape": [1, 1, 6, -1]}, (2, 3, 4)),
    # flattenTo2D
    case("flatten_to_2d_exact", "flattenTo2D", {"axis": 1}, (2, 3, 4), exact=True),
    case("flatten_to_2d_negative_exact", "flattenTo2D", {"axis": -1}, (2, 3, 4), exact=True),
    case("flatten_to_2d_first_exact", "flattenTo2D", {"axis": 0}, (5,), exact=True),
    case("flatten_to_2d_rank5", "flattenTo2D", {"axis": 3}, (2, 3, 4)),
    # squeeze
    case("squeeze_exact", "squeeze", {"axes": [1, -1]}, (3, 1, 4, 1), exact=True),
    case("squeeze_all_exact", "squeeze", {"squeezeAll": True}, (1, 2, 1, 3), exact=True),
    case("squeeze_rank1_exact", "squeeze", {"axes": [0]}, (1,), exact=True),
    case("squeeze_rank5", "squeeze", {"axes": [2, 4]}, (1, 3, 1)),
    # expandDims
    case("expand_dims_exact", "expandDims", {"axes": [0, 2]}, (3, 4), exact=True),
    case("expand_dims_last_exact", "expandDims", {"axes": [-1]}, (3, 4), exact=True),
    case("expand_dims_rank5", "expandDims", {"axes": [2]}, (2, 3, 4)),
    case("expand_dims_negative_rank5", "expandDims", {"axes": [-1, -3]}, (2, 3, 4)),
    # constantPad: (before, after) per axis
    case("constant_pad_exact", "constantPad", {"value": 0.25, "padAmounts": [1, 2, 0, 1]}, (3, 4),
         exact=True),
    case("constant_pad_rank5", "constantPad",
         {"value": -1.0, "padAmounts": [0, 0, 0, 0, 1, 0, 0, 2, 3, 1]}, (2, 3, 4)),
    case("constant_pad_to_size_exact", "constantPad",
         {"value": 2.0, "padAmounts": [5, 0, 0, 6, 0, 0], "padToGivenOutputSizeMode": True},
         (3, 4, 2), exact=True),
]


def compute_shape(case_, spec, inputs):
    x = inputs["x"]
    if not case_.exact_mapping and x.dim() == 2:  # the rank-5 mapping reads [C] as (C, 1, 1)
        x = x.reshape(x.shape[0], -1, 1, 1)
    if "reshape" in spec:
        p = spec["reshape"]
        return [reshape_reference(x, p["targetShape"], p["mode"] == "CHANNEL_LAST")]
    if "permute" in spec:
        return [permute_reference(x, spec["permute"]["axis"])]
    if "padding" in spec:
        return [padding_reference(x, spec["padding"])]
    return [nd_reference(case_, spec, x)]


if __name__ == "__main__":
    main("shape", SHAPE_CASES, compute_shape)
