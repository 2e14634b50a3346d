#!/usr/bin/python3
"""PyTorch references for the remaining converter layers (issue #11): unary, clip, reduce and the
ND reductions, softmaxND, l2normalize, lrn, upsample, crop, split, slice, sliceStatic, loadConstant
and loadConstantND. Writes tests/fixtures/layers/more.json for tests/nn/test_layers.cpp (see
tools/layer_reference.py for the format).

    cd tools && /usr/bin/python3 layer_reference_more.py

Shapes are per sample (each case runs two samples). Classic layers read the last three dimensions
as (C, H, W), leading ones as batch; a rank-1 [C] under the default rank-5 mapping is (C, 1, 1).
ND layers count Core ML's axes on the whole tensor: under the exact mapping the per-sample shape,
under the rank-5 mapping [Seq, Batch] + the per-sample shape. Where PyTorch has no function for
Core ML's definition (the default bilinear grid, Python-style slices), the reference writes
Apple's formula out with torch operations.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

from layer_reference import Case, layer, main, random_array, weights


def case(name, kind, params, shape, exact=False, **options):
    return Case(name, layer(name, kind, params), [("x", shape)], exact_mapping=exact, **options)


def leading(case_):
    return 0 if case_.exact_mapping else 2


def sample_axis(axis, rank, case_):
    """A Core ML axis as a per-sample axis (counting the batch of two as axis 0 of the tensor)."""
    full = rank + leading(case_)
    at = axis + full if axis < 0 else axis
    assert leading(case_) <= at < full, "the case names Seq or Batch"
    return at - leading(case_) + 1


# ---- unary and clip -----------------------------------------------------------------------------

def unary_case(name, params, shape=(3, 4, 5), low=-1.0, high=1.0, exact=False):
    return case(name, "unary", params, shape, exact=exact, low=low, high=high)


def compute_unary(p, x):
    scale = p.get("scale") or 1.0
    epsilon = p.get("epsilon") or 1e-6
    alpha = p.get("alpha", 0.0)
    x = scale * x + p.get("shift", 0.0)
    kind = p.get("type", "SQRT")
    if kind == "SQRT": return torch.sqrt(x)
    if kind == "RSQRT": return torch.rsqrt(x + epsilon)
    if kind == "INVERSE": return 1.0 / (x + epsilon)
    if kind == "POWER": return torch.pow(x, alpha)
    if kind == "EXP": return torch.exp(x)
    if kind == "LOG": return torch.log(x)
    if kind == "ABS": return torch.abs(x)
    if kind == "THRESHOLD": return torch.clamp(x, min=alpha)
    raise ValueError(kind)


UNARY_CASES = [
    unary_case("unary_sqrt", {"type": "SQRT"}, low=0.5, high=2.0),
    unary_case("unary_rsqrt", {"type": "RSQRT", "epsilon": 1e-3}, low=0.5, high=2.0),
    unary_case("unary_inverse_default_epsilon", {"type": "INVERSE"}, low=0.5, high=2.0),
    # Strong curvature reads as a kink to the finite-difference check: inputs away from 0.
    unary_case("unary_power", {"type": "POWER", "alpha": 3.0}, low=1.2, high=2.0),
    unary_case("unary_power_fractional", {"type": "POWER", "alpha": 0.5}, low=0.5, high=2.0),
    unary_case("unary_exp", {"type": "EXP"}),
    unary_case("unary_log", {"type": "LOG"}, low=0.5, high=2.0),
    unary_case("unary_abs", {"type": "ABS"}, low=-2.0, high=2.0),
    unary_case("unary_threshold", {"type": "THRESHOLD", "alpha": 0.25}),
    unary_case("unary_scale_shift", {"type": "SQRT", "scale": 2.0, "shift": 0.5}, low=0.1,
               high=2.0),
    unary_case("unary_abs_scaled_exact", {"type": "ABS", "scale": -1.5, "shift": 0.2}, (4, 5),
               exact=True),
    case("clip_relu6", "clip", {"minVal": 0.0, "maxVal": 6.0}, (3, 4, 5), low=-3.0, high=9.0),
    case("clip_narrow", "clip", {"minVal": -0.5, "maxVal": 0.25}, (2, 3, 3)),
    case("clip_exact", "clip", {"minVal": -0.3, "maxVal": 0.6}, (2, 3, 4, 2), exact=True),
]


# ---- reduce (classic) and the ND reductions -----------------------------------------------------

CLASSIC_AXES = {"CHW": (-3, -2, -1), "HW": (-2, -1), "C": (-3,), "H": (-2,), "W": (-1,)}


def classic_reduce(p, x):
    axes = CLASSIC_AXES[p.get("axis", "CHW")]
    mode = p.get("mode", "SUM")
    epsilon = p.get("epsilon") or 1e-6
    if mode == "SUM": return x.sum(axes, keepdim=True)
    if mode == "AVG": return x.mean(axes, keepdim=True)
    if mode == "PROD":
        for axis in axes:
            x = x.prod(axis, keepdim=True)
        return x
    if mode == "LOGSUM": return torch.log(x + epsilon).sum(axes, keepdim=True)
    if mode == "SUMSQUARE": return (x * x).sum(axes, keepdim=True)
    if mode == "L1": return x.abs().sum(axes, keepdim=True)
    if mode == "L2": return torch.sqrt((x * x).sum(axes, keepdim=True))
    if mode == "MAX": return torch.amax(x, axes, keepdim=True)
    if mode == "MIN": return torch.amin(x, axes, keepdim=True)
    if mode == "ARGMAX":
        (axis,) = axes
        return torch.argmax(x, axis, keepdim=True).float()
    raise ValueError(mode)


def reduce_case(name, mode, axis, shape=(3, 4, 5), exact=False, low=-1.0, high=1.0, **params):
    return case(name, "reduce", {"mode": mode, "axis": axis, **params}, shape, exact=exact,
                low=low, high=high, gradient=mode != "ARGMAX")


ND_REDUCTIONS = {
    "reduceSum": lambda x, a, k: x.sum(a, keepdim=k),
    "reduceMean": lambda x, a, k: x.mean(a, keepdim=k),
    "reduceMax": lambda x, a, k: torch.amax(x, a, keepdim=k),
    "reduceMin": lambda x, a, k: torch.amin(x, a, keepdim=k),
    "reduceProd": lambda x, a, k: prod(x, a, k),
    "reduceL1": lambda x, a, k: x.abs().sum(a, keepdim=k),
    "reduceL2": lambda x, a, k: torch.sqrt((x * x).sum(a, keepdim=k)),
    "reduceLogSum": lambda x, a, k: torch.log(x.sum(a, keepdim=k)),
    "reduceSumSquare": lambda x, a, k: (x * x).sum(a, keepdim=k),
    "reduceLogSumExp": lambda x, a, k: torch.logsumexp(x, a, keepdim=k),
}


def prod(x, axes, keep):
    for axis in sorted(axes, reverse=True):
        x = x.prod(axis, keepdim=keep)
    return x


def nd_reduce(case_, kind, p, x):
    rank = x.dim() - 1
    if p.get("reduceAll"):
        axes = tuple(range(1, rank + 1))
    else:
        axes = tuple(sample_axis(a, rank, case_) for a in p["axes"])
    y = ND_REDUCTIONS[kind](x, axes, bool(p.get("keepDims")))
    return y.reshape(x.shape[0], 1) if y.dim() == 1 else y  # nothing left: a rank-1 [1]


def nd_reduce_case(name, kind, params, shape, exact=True, low=-1.0, high=1.0):
    return case(name, kind, params, shape, exact=exact, low=low, high=high)


REDUCE_CASES = [
    reduce_case("reduce_sum_chw", "SUM", "CHW"),
    reduce_case("reduce_average_hw", "AVG", "HW"),
    reduce_case("reduce_product_c", "PROD", "C", low=0.5, high=1.5),
    reduce_case("reduce_log_sum_h", "LOGSUM", "H", low=0.5, high=2.0),
    reduce_case("reduce_log_sum_epsilon", "LOGSUM", "W", low=0.5, high=2.0, epsilon=0.25),
    reduce_case("reduce_sum_square_w", "SUMSQUARE", "W", low=1.0, high=2.0),
    reduce_case("reduce_l1_c", "L1", "C"),
    reduce_case("reduce_l2_hw", "L2", "HW"),
    reduce_case("reduce_max_w", "MAX", "W"),
    reduce_case("reduce_min_h", "MIN", "H"),
    reduce_case("reduce_argmax_c", "ARGMAX", "C"),
    reduce_case("reduce_argmax_w_exact_rank1", "ARGMAX", "W", (7,), exact=True),
    reduce_case("reduce_sum_w_exact_rank2", "SUM", "W", (3, 4), exact=True),
    reduce_case("reduce_average_chw_leading_exact", "AVG", "CHW", (2, 3, 4, 2), exact=True),
    nd_reduce_case("reduce_sum_nd_keep", "reduceSum", {"axes": [1], "keepDims": True}, (3, 4, 5)),
    nd_reduce_case("reduce_mean_nd_two_axes", "reduceMean", {"axes": [-1, 0]}, (3, 4, 5)),
    nd_reduce_case("reduce_max_nd_all", "reduceMax", {"reduceAll": True}, (2, 3, 4)),
    nd_reduce_case("reduce_min_nd_rank5", "reduceMin", {"axes": [2]}, (3, 4, 5), exact=False),
    nd_reduce_case("reduce_mean_nd_rank5_all_keep", "reduceMean",
                   {"reduceAll": True, "keepDims": True}, (2, 3, 4), exact=False),
    nd_reduce_case("reduce_prod_nd", "reduceProd", {"axes": [1], "keepDims": True}, (2, 3, 2),
                   low=0.5, high=1.5),
    nd_reduce_case("reduce_l1_nd", "reduceL1", {"axes": [0, 2]}, (3, 2, 4)),
    nd_reduce_case("reduce_l2_nd", "reduceL2", {"axes": [-1], "keepDims": True}, (2, 5)),
    nd_reduce_case("reduce_log_sum_nd", "reduceLogSum", {"axes": [0]}, (4, 3), low=0.2, high=1.0),
    nd_reduce_case("reduce_sum_square_nd", "reduceSumSquare", {"axes": [-2]}, (2, 3, 4)),
    nd_reduce_case("reduce_log_sum_exp_nd", "reduceLogSumExp",
                   {"reduceAll": True, "keepDims": True}, (3, 4), low=-3.0, high=3.0),
]


# ---- softmaxND, l2normalize, lrn ----------------------------------------------------------------

def rows_of(x):
    """(N, ..., C, H, W) → (rows, C, H, W): leading dimensions as batch."""
    return x.reshape(-1, *x.shape[-3:])


NORMALIZE_CASES = [
    case("softmax_nd_last", "softmaxND", {"axis": -1}, (3, 4, 5), exact=True, low=-3.0, high=3.0),
    case("softmax_nd_first", "softmaxND", {"axis": 0}, (3, 4, 5), exact=True, low=-3.0, high=3.0),
    case("softmax_nd_rank5", "softmaxND", {"axis": 3}, (3, 4, 5), low=-3.0, high=3.0),
    case("l2_normalize", "l2normalize", {}, (3, 4, 5)),
    case("l2_normalize_leading_exact", "l2normalize", {"epsilon": 1e-3}, (2, 3, 2, 2), exact=True),
    case("l2_normalize_vector", "l2normalize", {}, (6,)),
    case("lrn_five", "lrn", {"alpha": 0.5, "beta": 0.75, "localSize": 5, "k": 2.0}, (7, 3, 3),
         low=-2.0, high=2.0),
    case("lrn_three_default_k", "lrn", {"alpha": 1.0, "beta": 0.5, "localSize": 3}, (4, 2, 3),
         low=-2.0, high=2.0),
    case("lrn_one", "lrn", {"alpha": 2.0, "beta": 1.5, "localSize": 1, "k": 1.5}, (3, 2, 2),
         low=-2.0, high=2.0),
    case("lrn_leading_exact", "lrn", {"alpha": 0.3, "beta": 0.75, "localSize": 3, "k": 1.0},
         (2, 5, 2, 2), exact=True, low=-2.0, high=2.0),
]


def compute_normalize(case_, kind, p, x):
    if kind == "softmaxND":
        return torch.softmax(x, sample_axis(p["axis"], x.dim() - 1, case_))
    if kind == "l2normalize":
        epsilon = p.get("epsilon") or 1e-6
        return x / torch.sqrt((x * x).sum((-3, -2, -1), keepdim=True) + epsilon)
    if kind == "lrn":
        y = F.local_response_norm(rows_of(x), p["localSize"], p["alpha"], p["beta"],
                                  p.get("k") or 1.0)
        return y.reshape(x.shape)
    raise ValueError(kind)


# ---- upsample -----------------------------------------------------------------------------------

def default_grid(size_in, size_out):
    """Apple's DEFAULT bilinear grid: spacing (in - in/out) / (out - 1), clamped to [0, in - 1]."""
    spacing = (size_in - size_in / size_out) / (size_out - 1) if size_out > 1 else 0.0
    return [min(size_in - 1.0, max(0.0, i * spacing)) for i in range(size_out)]


def interpolate_axis(x, axis, points):
    """Linear interpolation of x along `axis` at the given (fractional) positions."""
    size = x.shape[axis]
    lower = [int(math.floor(p)) for p in points]
    upper = [min(low + 1, size - 1) for low in lower]
    weight = torch.tensor([p - low for p, low in zip(points, lower)], dtype=torch.float32)
    shape = [1] * x.dim()
    shape[axis] = len(points)
    weight = weight.reshape(shape)
    return (x.index_select(axis, torch.tensor(lower)) * (1 - weight) +
            x.index_select(axis, torch.tensor(upper)) * weight)


def upsample_case(name, params, shape, exact=False):
    return case(name, "upsample", params, shape, exact=exact)


UPSAMPLE_CASES = [
    upsample_case("upsample_nearest", {"scalingFactor": [2, 3]}, (2, 3, 4)),
    upsample_case("upsample_nearest_unset_is_identity", {}, (2, 2, 3)),
    upsample_case("upsample_nearest_leading_exact", {"scalingFactor": [2, 2]}, (2, 2, 3, 3),
                  exact=True),
    upsample_case("upsample_bilinear_default", {"scalingFactor": [2, 3], "mode": "BILINEAR"},
                  (2, 3, 4)),
    upsample_case("upsample_bilinear_align_corners",
                  {"scalingFactor": [2, 3], "mode": "BILINEAR",
                   "linearUpsampleMode": "ALIGN_CORNERS_TRUE"}, (2, 3, 4)),
    upsample_case("upsample_bilinear_half_pixel",
                  {"scalingFactor": [3, 2], "mode": "BILINEAR",
                   "linearUpsampleMode": "ALIGN_CORNERS_FALSE"}, (2, 3, 4)),
    upsample_case("upsample_fractional_half_pixel",
                  {"fractionalScalingFactor": [1.5, 0.75], "mode": "BILINEAR",
                   "linearUpsampleMode": "ALIGN_CORNERS_FALSE"}, (1, 4, 5)),
    upsample_case("upsample_fractional_align_corners",
                  {"fractionalScalingFactor": [2.5, 1.5], "mode": "BILINEAR",
                   "linearUpsampleMode": "ALIGN_CORNERS_TRUE"}, (2, 3, 3)),
]


def compute_upsample(p, x):
    height, width = x.shape[-2], x.shape[-1]
    if "fractionalScalingFactor" in p:
        fh, fw = p["fractionalScalingFactor"]
        # Core ML's float factors, as float32, rounded down.
        out = (int(math.floor(height * float(np.float32(fh)))),
               int(math.floor(width * float(np.float32(fw)))))
    else:
        fh, fw = p.get("scalingFactor", [1, 1])
        out = (height * fh, width * fw)
    planes = rows_of(x)
    if p.get("mode", "NN") == "NN":
        y = F.interpolate(planes, size=out, mode="nearest")
    elif p.get("linearUpsampleMode", "DEFAULT") == "DEFAULT":
        y = interpolate_axis(planes, 2, default_grid(height, out[0]))
        y = interpolate_axis(y, 3, default_grid(width, out[1]))
    else:
        aligned = p["linearUpsampleMode"] == "ALIGN_CORNERS_TRUE"
        y = F.interpolate(planes, size=out, mode="bilinear", align_corners=aligned)
    return y.reshape(*x.shape[:-2], *out)


# ---- crop, split, slice, sliceStatic ------------------------------------------------------------

def crop_amounts(top, bottom, left, right):
    return {"cropAmounts": {"borderAmounts": [{"startEdgeSize": top, "endEdgeSize": bottom},
                                              {"startEdgeSize": left, "endEdgeSize": right}]}}


def split_case(name, shape, parts, exact=False):
    outputs = tuple(f"part{i}" for i in range(parts))
    return Case(name, layer(name, "split", {"nOutputs": parts}, outputs=outputs), [("x", shape)],
                exact_mapping=exact)


SLICE_CASES = [
    case("crop_amounts", "crop", crop_amounts(1, 2, 0, 3), (2, 6, 7)),
    Case("crop_to_reference", layer("crop_to_reference", "crop", {"offset": [2, 1]},
                                    inputs=("x", "reference")),
         [("x", (2, 6, 7)), ("reference", (2, 3, 4))]),
    case("crop_leading_exact", "crop", crop_amounts(2, 0, 1, 1), (2, 3, 5, 5), exact=True),
    split_case("split_three", (6, 2, 3), 3),
    split_case("split_two_leading_exact", (2, 4, 3, 2), 2, exact=True),
    split_case("split_vector", (4,), 2),
    case("slice_channel", "slice", {"startIndex": 1, "endIndex": 5, "stride": 2,
                                    "axis": "CHANNEL_AXIS"}, (6, 3, 4)),
    case("slice_height_negative", "slice", {"startIndex": -5, "endIndex": -1, "stride": 1,
                                            "axis": "HEIGHT_AXIS"}, (3, 7, 4)),
    case("slice_width_past_the_end", "slice", {"startIndex": 2, "endIndex": 100, "stride": 3,
                                               "axis": "WIDTH_AXIS"}, (3, 4, 9)),
    case("slice_height_exact_rank2", "slice", {"startIndex": 0, "endIndex": -2, "stride": 2,
                                               "axis": "HEIGHT_AXIS"}, (5, 6), exact=True),
    case("slice_static_exact", "sliceStatic",
         {"beginIds": [1, 0, 3], "endIds": [4, -1, 0], "strides": [2, 1, -1],
          "beginMasks": [False, True, False], "endMasks": [False, False, True]}, (5, 6, 4),
         exact=True),
    case("slice_static_squeeze_exact", "sliceStatic",
         {"beginIds": [2, 1], "endIds": [0, 4], "strides": [1, 2], "beginMasks": [False, False],
          "endMasks": [True, False], "squeezeMasks": [True, False]}, (4, 5), exact=True),
    case("slice_static_negative_stride_exact", "sliceStatic",
         {"beginIds": [-1], "endIds": [0], "strides": [-2], "beginMasks": [False],
          "endMasks": [False]}, (6,), exact=True),
    case("slice_static_rank5", "sliceStatic",
         {"beginIds": [0, 0, 0, 1, -2], "endIds": [1, 1, 0, 3, 0], "strides": [1, 1, -1, 1, 1],
          "beginMasks": [True, True, True, False, False],
          "endMasks": [True, True, True, False, True]}, (3, 4, 5)),
]


def python_slice(begin, end, stride, begin_mask, end_mask):
    return slice(None if begin_mask else begin, None if end_mask else end, stride)


def torch_slice(x, dim, window):
    """x sliced along dim as Python slices a list (torch tensors refuse negative steps)."""
    indices = list(range(x.shape[dim]))[window]
    return x.index_select(dim, torch.tensor(indices, dtype=torch.long))


def compute_slice(case_, kind, p, inputs):
    x = inputs["x"]
    if kind == "crop":
        if "offset" in p:
            reference = inputs["reference"]
            top, left = p["offset"]
            return [x[..., top:top + reference.shape[-2], left:left + reference.shape[-1]]]
        (height, width) = p["cropAmounts"]["borderAmounts"]
        return [x[..., height["startEdgeSize"]:x.shape[-2] - height["endEdgeSize"],
                  width["startEdgeSize"]:x.shape[-1] - width["endEdgeSize"]]]
    if kind == "split":
        return list(torch.chunk(x, p["nOutputs"], dim=-3))
    if kind == "slice":
        axis = {"CHANNEL_AXIS": -3, "HEIGHT_AXIS": -2, "WIDTH_AXIS": -1}[p["axis"]]
        return [torch_slice(x, x.dim() + axis, slice(p["startIndex"], p["endIndex"], p["stride"]))]
    if kind == "sliceStatic":
        skip = leading(case_)
        squeezed = []
        for a in range(skip, len(p["beginIds"])):
            dim = a - skip + 1
            if p.get("squeezeMasks") and p["squeezeMasks"][a]:
                at = p["beginIds"][a] % x.shape[dim]  # only beginIds[a], from the end if < 0
                x = torch_slice(x, dim, slice(at, at + 1))
                squeezed.append(dim)
                continue
            x = torch_slice(x, dim, python_slice(p["beginIds"][a], p["endIds"][a], p["strides"][a],
                                                 p["beginMasks"][a], p["endMasks"][a]))
        kept = [d for i, d in enumerate(x.shape) if i not in squeezed]
        return [x.reshape(*(kept if len(kept) > 1 else [x.shape[0], 1]))]
    raise ValueError(kind)


# ---- loadConstant and loadConstantND ------------------------------------------------------------

def constant_case(name, kind, shape, exact=False):
    def make(rng):
        return layer(name, kind, {"shape": list(shape),
                                  "data": weights(random_array(rng, shape))}, inputs=())
    # The model needs an input; the constant reads none.
    return Case(name, make, [("x", (1,))], exact_mapping=exact, gradient=False)


CONSTANT_CASES = [
    constant_case("load_constant", "loadConstant", (2, 3, 4)),
    constant_case("load_constant_exact", "loadConstant", (2, 2, 3), exact=True),
    constant_case("load_constant_nd_exact", "loadConstantND", (3, 4), exact=True),
    constant_case("load_constant_nd_rank5", "loadConstantND", (1, 1, 2, 3)),
]


def compute_constant(case_, kind, p, samples):
    data = torch.tensor(p["data"]["floatValue"]).reshape(p["shape"])
    if kind == "loadConstant" and case_.exact_mapping:
        data = data.reshape(1, 1, *p["shape"])
    if kind == "loadConstantND":
        data = data.reshape(p["shape"][leading(case_):])
    return data.unsqueeze(0).expand(samples, *data.shape)


# -------------------------------------------------------------------------------------------------

def compute(case_, spec, inputs):
    kind = next(k for k in spec if k not in ("name", "input", "output"))
    p = spec[kind]
    samples = next(iter(inputs.values())).shape[0]
    if kind in ("loadConstant", "loadConstantND"):
        return [compute_constant(case_, kind, p, samples)]
    if not case_.exact_mapping:  # the rank-5 mapping reads [C] as (C, 1, 1)
        inputs = {k: v.reshape(v.shape[0], -1, 1, 1) if v.dim() == 2 else v
                  for k, v in inputs.items()}
    x = inputs["x"]
    if kind == "unary":
        return [compute_unary(p, x)]
    if kind == "clip":
        return [torch.clamp(x, p["minVal"], p["maxVal"])]
    if kind == "reduce":
        return [classic_reduce(p, x)]
    if kind in ND_REDUCTIONS:
        return [nd_reduce(case_, kind, p, x)]
    if kind in ("softmaxND", "l2normalize", "lrn"):
        return [compute_normalize(case_, kind, p, x)]
    if kind == "upsample":
        return [compute_upsample(p, x)]
    return compute_slice(case_, kind, p, inputs)


CASES = UNARY_CASES + REDUCE_CASES + NORMALIZE_CASES + UPSAMPLE_CASES + SLICE_CASES + CONSTANT_CASES

if __name__ == "__main__":
    main("more", CASES, compute)
