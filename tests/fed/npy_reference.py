#!/usr/bin/python3
"""The .npy reference for tests/fed/test_npy.cpp, from NumPy itself (Debian's python3-numpy).

  npy_reference.py write DIR   writes each case with numpy.save (what Flower's ndarray_to_bytes
                               does), plus arrays edgetrain must refuse
  npy_reference.py check DIR   loads DIR/cpp-<case>.npy (written by edgetrain) with numpy.load
                               (what Flower's bytes_to_ndarray does) and compares with the case

The values are computed the same way on both sides: float32((i % 97) * 0.37 - 11.5).
"""
import io
import sys

import numpy as np

CASES = {
    "conv-weight": (32, 1, 5, 5),
    "bias": (32,),
    "dense-weight": (10, 200),
    "scalar": (),
    "empty": (0,),
    "empty-middle": (3, 0, 2),
    "five-dims": (1, 2, 1, 3, 1),
    "long-first-axis": (12345, 2),
}


def values(shape):
    count = int(np.prod(shape)) if shape else 1
    return ((np.arange(count) % 97) * 0.37 - 11.5).astype(np.float32).reshape(shape)


def special():
    return np.array([0.0, -0.0, 1e-45, 3.4028235e38, -np.inf, np.inf, np.nan], dtype=np.float32)


def save(path, array, **kwargs):
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    with open(path, "wb") as f:
        f.write(buffer.getvalue())


def write(folder):
    for name, shape in CASES.items():
        save(f"{folder}/{name}.npy", values(shape), allow_pickle=False)
    save(f"{folder}/special.npy", special(), allow_pickle=False)
    # Other format versions numpy writes when asked: accepted.
    for version in [(2, 0), (3, 0)]:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, values((4, 3)), version=version)
        with open(f"{folder}/version-{version[0]}.npy", "wb") as f:
            f.write(buffer.getvalue())
    # Refused: not little-endian float32 in C order.
    save(f"{folder}/refuse-float64.npy", np.zeros(3), allow_pickle=False)
    save(f"{folder}/refuse-int32.npy", np.zeros(3, dtype=np.int32), allow_pickle=False)
    save(f"{folder}/refuse-big-endian.npy", np.zeros(3, dtype=">f4"), allow_pickle=False)
    save(f"{folder}/refuse-float16.npy", np.zeros(3, dtype=np.float16), allow_pickle=False)
    save(f"{folder}/refuse-fortran.npy", np.asfortranarray(values((2, 3))), allow_pickle=False)
    save(f"{folder}/refuse-object.npy", np.array([None, 1], dtype=object), allow_pickle=True)
    save(f"{folder}/refuse-structured.npy",
         np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]), allow_pickle=False)


def check(folder):
    failures = 0
    for name, shape in list(CASES.items()) + [("special", None)]:
        expected = special() if shape is None else values(shape)
        with open(f"{folder}/cpp-{name}.npy", "rb") as f:
            array = np.load(io.BytesIO(f.read()), allow_pickle=False)
        same = (array.dtype == np.float32 and array.shape == expected.shape and
                np.array_equal(array.view(np.uint32), expected.view(np.uint32)))
        print(("ok " if same else "MISMATCH ") + name, flush=True)
        failures += not same
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
