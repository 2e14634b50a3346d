#!/usr/bin/python3
"""PyTorch references for the layer kinds that merge several inputs: concat, concatND, add,
multiply, average, max and min (tests/nn/test_layers.cpp reads the fixture).

    /usr/bin/python3 tools/layer_reference_merge.py      # writes tests/fixtures/layers/merge.json

Shapes are per sample; PyTorch's tensors carry the batch of two in front. Under Core ML's default
rank-5 mapping a per-sample (C, H, W) is Core ML's (Seq, Batch, C, H, W), so concatND's axis 2 is
C; under the exact mapping Core ML's axes are the per-sample tensor's. Requires Debian's
python3-torch and python3-numpy.
"""

import torch

from layer_reference import Case, layer, main

NAMES = "abcd"


def merge_case(name, kind, params, shapes, exact_mapping=False, gradient=True):
    inputs = [(NAMES[i], shape) for i, shape in enumerate(shapes)]
    spec = layer(name, kind, params, inputs=[n for n, _ in inputs])
    return Case(name, spec, inputs, exact_mapping=exact_mapping, gradient=gradient)


def concat_nd(name, shapes, axis, interleave=False, exact_mapping=False):
    params = {"axis": axis}
    if interleave:
        params["interleave"] = True
    return merge_case(name, "concatND", params, shapes, exact_mapping)


MERGE_CASES = [
    merge_case("concat_two", "concat", {}, [(2, 3, 4), (3, 3, 4)]),
    merge_case("concat_three", "concat", {}, [(1, 2, 3), (2, 2, 3), (3, 2, 3)]),
    merge_case("concat_rank4_exact", "concat", {}, [(2, 3, 2, 2), (2, 1, 2, 2)],
               exact_mapping=True),
    merge_case("concat_rank5_exact", "concat", {}, [(2, 1, 2, 3, 2), (2, 1, 1, 3, 2),
                                                    (2, 1, 3, 3, 2)], exact_mapping=True),
    concat_nd("concat_nd_channels_rank5_mapping", [(2, 3, 4), (1, 3, 4)], axis=2),
    concat_nd("concat_nd_last_axis_rank5_mapping", [(2, 3, 1), (2, 3, 4), (2, 3, 2)], axis=-1),
    concat_nd("concat_nd_height_rank5_mapping", [(2, 1, 4), (2, 3, 4)], axis=3),
    concat_nd("concat_nd_rank1_exact", [(3,), (5,)], axis=-1, exact_mapping=True),
    concat_nd("concat_nd_rank2_axis0_exact", [(2, 3), (4, 3)], axis=0, exact_mapping=True),
    concat_nd("concat_nd_rank4_exact", [(2, 3, 4, 2), (2, 3, 1, 2), (2, 3, 2, 2)], axis=-2,
              exact_mapping=True),
    concat_nd("concat_nd_rank5_axis1_exact", [(1, 2, 2, 2, 3), (1, 3, 2, 2, 3)], axis=1,
              exact_mapping=True),
    concat_nd("concat_nd_interleave_exact", [(3, 2), (3, 2)], axis=0, interleave=True,
              exact_mapping=True),
    concat_nd("concat_nd_interleave_rank5_mapping", [(2, 3, 4)] * 3, axis=-2, interleave=True),
    merge_case("add_one_input", "add", {"alpha": 0.75}, [(3, 4, 5)]),
    merge_case("add_two", "add", {}, [(3, 4, 5), (3, 4, 5)]),
    merge_case("add_three", "add", {}, [(2, 3, 4)] * 3),
    merge_case("add_broadcast", "add", {}, [(3, 4, 5), (1, 1, 1), (3, 1, 1), (1, 4, 5)]),
    merge_case("add_broadcast_first_small", "add", {}, [(3, 1, 1), (3, 4, 5)]),
    merge_case("add_rank2_exact", "add", {}, [(4, 6), (4, 6)], exact_mapping=True),
    merge_case("add_rank4_broadcast_exact", "add", {}, [(2, 3, 4, 5), (2, 3, 1, 1)],
               exact_mapping=True),
    merge_case("multiply_one_input", "multiply", {"alpha": -1.5}, [(3, 4, 5)]),
    merge_case("multiply_two", "multiply", {}, [(3, 4, 5), (3, 4, 5)]),
    merge_case("multiply_three", "multiply", {}, [(2, 3, 4)] * 3),
    merge_case("multiply_broadcast", "multiply", {}, [(3, 4, 5), (3, 1, 1), (1, 4, 5)]),
    merge_case("multiply_rank1_exact", "multiply", {}, [(7,), (7,)], exact_mapping=True),
    merge_case("average_two", "average", {}, [(3, 4, 5), (3, 4, 5)]),
    merge_case("average_three", "average", {}, [(2, 3, 4)] * 3),
    merge_case("average_broadcast", "average", {}, [(2, 3, 4), (1, 3, 4), (1, 1, 1)]),
    merge_case("average_rank5_exact", "average", {}, [(2, 1, 2, 3, 2)] * 2, exact_mapping=True),
    merge_case("max_two", "max", {}, [(3, 4, 5), (3, 4, 5)]),
    merge_case("max_three", "max", {}, [(2, 3, 4)] * 3),
    merge_case("max_broadcast_plane", "max", {}, [(3, 4, 5), (3, 1, 1)]),
    merge_case("max_rank2_exact", "max", {}, [(4, 6), (4, 6)], exact_mapping=True),
    merge_case("min_two", "min", {}, [(3, 4, 5), (3, 4, 5)]),
    merge_case("min_three", "min", {}, [(2, 3, 4)] * 3),
    merge_case("min_broadcast_plane", "min", {}, [(3, 1, 1), (3, 4, 5)]),
    merge_case("min_rank4_exact", "min", {}, [(2, 3, 2, 2), (2, 3, 2, 2)], exact_mapping=True),
]


def torch_dim(axis, rank, exact_mapping):
    """The dimension of a (batch, per-sample...) tensor that Core ML's `axis` names."""
    if axis < 0:
        return axis  # counted from the end, the same in both
    return axis + 1 if exact_mapping else axis - 2 + 1


def compute_merge(case, spec, inputs):
    xs = [inputs[name] for name in spec["input"]]
    kind = next(k for k in ("concat", "concatND", "add", "multiply", "average", "max", "min")
                if k in spec)
    p = spec[kind]
    if kind == "concat":
        return [torch.cat(xs, dim=-3)]
    if kind == "concatND":
        dim = torch_dim(p["axis"], xs[0].dim() - 1, case.exact_mapping)
        if dim < 0:
            dim += xs[0].dim()
        if not p.get("interleave", False):
            return [torch.cat(xs, dim=dim)]
        stacked = torch.stack(xs, dim=dim + 1)  # (..., axis, inputs, ...)
        return [stacked.flatten(dim, dim + 1)]
    if kind == "add":
        if len(xs) == 1:
            return [xs[0] + p.get("alpha", 0.0)]
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return [total]
    if kind == "multiply":
        if len(xs) == 1:
            return [xs[0] * p.get("alpha", 0.0)]
        product = xs[0]
        for x in xs[1:]:
            product = product * x
        return [product]
    if kind == "average":
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return [total / len(xs)]
    reduce = torch.maximum if kind == "max" else torch.minimum
    result = xs[0]
    for x in xs[1:]:
        result = reduce(result, x)
    return [result]


if __name__ == "__main__":
    main("merge", MERGE_CASES, compute_merge)
