#!/usr/bin/python3
"""edgetrain and PyTorch side by side: the same network, data, epochs and threads, in one run.

    /usr/bin/python3 bench/side_by_side.py [--network lenet|small-resnet] [--epochs 1] [--threads N]
                                           [--data-dir DIR] [--edgetrain build/edgetrain]
                                           [--precision float32|bf16] [--json results.json]

--network lenet (default): the seed's LeNet on MNIST (../shared/data/mnist). --network
small-resnet: the second reference workload, `edgetrain train --preset small-resnet` (batch norm,
a residual block, 64 channels) on Fashion-MNIST (/usr/share/datasets/fashion-mnist), against
bench/pytorch_small_resnet.py. --precision bf16 trains edgetrain with `--precision bf16` (mixed
precision where the CPU has AVX512-BF16); PyTorch trains in float32 either way.

Runs, one after the other, each as a child process whose peak RSS (os.wait4 → ru_maxrss) and wall
time are measured:
  1. edgetrain training:  build/edgetrain train --dataset DIR --epochs E --threads T --init he --json
                          (and --preset small-resnet)
  2. edgetrain inference: build/edgetrain_bench (bench/bench_inference.cpp), 5 repetitions, medians:
     BM_PredictSingleImage/threads:T (one image through a Predictor that T threads share) and
     BM_EvaluateBatch/threads:T
     (evaluate() on 1000 images); for small-resnet their *SmallResnet variants
  3. PyTorch training and inference: /usr/bin/python3 bench/pytorch_lenet.py or
     bench/pytorch_small_resnet.py (same options)
then prints, for each, seconds per epoch, samples/s, achieved GFLOP/s, peak RSS, test accuracy,
single-image latency and batch throughput, and the ratios edgetrain/PyTorch, with the CPU model and
core count. Standard library only. Timings are only comparable on an otherwise idle machine.
"""

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "mnist"))
FASHION_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DEFAULT_EDGETRAIN = os.path.join(REPO, "build", "edgetrain")
PYTHON = "/usr/bin/python3"  # Debian's, for its python3-torch

# ---- The work per training sample ---------------------------------------------------------------
# Multiply-adds of each layer's forward pass, per sample (valid convolutions, stride 1):
#   conv1   (1 → 32, 3x3) on 28x28 → 26x26:  32·26·26 outputs × 1·3·3 taps   =   194,688
#   conv2   (32 → 32, 2x2) on 13x13 → 12x12: 32·12·12 outputs × 32·2·2 taps  =   589,824
#   hidden1 (1152 → 500)                                                     =   576,000
#   hidden2 (500 → 10)                                                       =     5,000
# A multiply-add is 2 FLOP. Training does each product three times, forward, dW (weight gradient)
# and dX (input gradient), except conv1's dX (the image needs no gradient):
#   conv1 2·2·194,688 = 778,752;    conv2 3·2·589,824 = 3,538,944;
#   hidden1 3·2·576,000 = 3,456,000; hidden2 3·2·5,000 = 30,000;
#   total 7,803,696 FLOP per training sample (≈ 7.8 MFLOP).
# Biases, ReLU, pooling, softmax, the loss and Adam are left out (about 0.1 MFLOP per sample, and
# Adam's ~10 FLOP per parameter per batch of 128 adds 0.05 MFLOP per sample): they are memory-bound.
# Inference is the forward pass alone: 2·(194,688 + 589,824 + 576,000 + 5,000) = 2,731,024 FLOP.
# These are the dense counts, for both frameworks. edgetrain's fused conv + ReLU + max-pool backward
# only visits the positions that pass a gradient (at most 1 in 4, fewer after ReLU), so it does
# less arithmetic than this for the same result: its GFLOP/s is the dense-equivalent rate.
LAYER_MACS = {"conv1": 32 * 26 * 26 * 1 * 3 * 3, "conv2": 32 * 12 * 12 * 32 * 2 * 2,
              "hidden1": 1152 * 500, "hidden2": 500 * 10}
# small_resnet() (src/nn/builder.cpp), the same way:
#   conv1  (1 → 32, 3x3) on 28x28 → 26x26:          32·26·26 × 1·3·3   =   194,688
#   conv2a (32 → 32, 3x3 same) on 13x13:            32·13·13 × 32·3·3  = 1,557,504
#   conv2b (32 → 32, 3x3 same) on 13x13:                                 1,557,504
#   conv3  (32 → 64, 2x2) on 13x13 → 12x12:         64·12·12 × 32·2·2  = 1,179,648
#   dense1 (2304 → 128)                                                =   294,912
#   dense2 (128 → 10)                                                  =     1,280
#   training: 2·(2·194,688 + 3·4,590,848) = 28,323,840 FLOP per sample (≈ 28.3 MFLOP, 3.6x
#   LeNet's); inference 2·4,785,536 = 9,571,072. Batch norm (3 layers, ~10 FLOP per value), the
#   add, ReLUs and pooling are left out as for LeNet: they are memory-bound.
RESNET_LAYER_MACS = {"conv1": 32 * 26 * 26 * 9, "conv2a": 32 * 13 * 13 * 288,
                     "conv2b": 32 * 13 * 13 * 288, "conv3": 64 * 12 * 12 * 128,
                     "dense1": 2304 * 128, "dense2": 128 * 10}


def flop_per_sample(layer_macs):
    """(training, forward) FLOPs per sample: every product thrice in training (forward, dW, dX)
    but the first convolution's dX (the image needs no gradient)."""
    first = next(iter(layer_macs))
    train = sum(2 * (2 if name == first else 3) * macs for name, macs in layer_macs.items())
    return train, sum(2 * macs for macs in layer_macs.values())


NETWORKS = {  # --network: FLOPs, edgetrain flags, PyTorch script, default data, benchmark suffix
    "lenet": {"flop": flop_per_sample(LAYER_MACS), "flags": [], "script": "pytorch_lenet.py",
              "data_dir": DEFAULT_DATA_DIR, "bench_suffix": "", "title": "LeNet"},
    "small-resnet": {"flop": flop_per_sample(RESNET_LAYER_MACS),
                     "flags": ["--preset", "small-resnet"], "script": "pytorch_small_resnet.py",
                     "data_dir": FASHION_DATA_DIR, "bench_suffix": "SmallResnet",
                     "title": "small-resnet"},
}
assert NETWORKS["lenet"]["flop"] == (7_803_696, 2_731_024)
assert NETWORKS["small-resnet"]["flop"] == (28_323_840, 9_571_072)


# ---- The machine --------------------------------------------------------------------------------
def cpu_description():
    """(model name, logical cores usable by this process, SIMD extensions of interest)."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    simd = [name for name in ("avx2", "fma", "avx512f", "avx512bw", "avx512_vnni") if name in flags]
    return model, len(os.sched_getaffinity(0)), simd


# ---- Children -----------------------------------------------------------------------------------
def run_child(label, command):
    """Runs `command`, echoing its stdout with a prefix (stderr passes through), and returns
    (stdout lines, wall seconds, peak RSS in MB of 2^20 bytes). Exits naming the command on
    failure."""
    print(f"\n$ {shlex.join(command)}", flush=True)
    start = time.perf_counter()
    try:
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1)
    except OSError as error:
        sys.exit(f"side_by_side: cannot run {command[0]}: {error}")
    lines = []
    for line in child.stdout:
        lines.append(line.rstrip("\n"))
        if not line.startswith(("{", " ", "}", "]", "[")):  # skip the benchmark's JSON
            print(f"  [{label}] {line}", end="", flush=True)
    child.stdout.close()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        sys.exit(f"side_by_side: {shlex.join(command)} failed with exit code {child.returncode}")
    return lines, seconds, usage.ru_maxrss / 1024.0  # Linux reports ru_maxrss in KiB


def last_json_line(lines, command):
    for line in reversed(lines):
        if line.startswith("{"):
            return json.loads(line)
    sys.exit(f"side_by_side: no JSON line in the output of {shlex.join(command)}")


def edgetrain_training(args):
    command = [args.edgetrain, "train", "--dataset", args.data_dir, "--epochs", str(args.epochs),
               "--threads", str(args.threads), "--init", "he", "--json",  # He, as the PyTorch side
               "--precision", args.precision]
    command += NETWORKS[args.network]["flags"]
    if args.limit:
        command += ["--limit", str(args.limit)]
    lines, wall, rss = run_child("edgetrain", command)
    result = last_json_line(lines, command)
    result.update(process_seconds=wall, peak_rss_mb=rss, command=shlex.join(command))
    result["seconds_per_epoch"] = result["train_seconds"] / max(1, result["epochs"])
    return result


def edgetrain_inference(args):
    """Medians of 5 repetitions of bench/bench_inference.cpp; None when the binary is missing."""
    binary = os.path.join(os.path.dirname(args.edgetrain), "edgetrain_bench")
    if not os.access(binary, os.X_OK):
        print(f"\nno {binary} (Google Benchmark not installed?): edgetrain's inference is skipped")
        return None
    # BM_EvaluateBatch is registered at 1, 2, 4, ... threads and every core: run it at --threads,
    # or else at the nearest count it has.
    suffix = NETWORKS[args.network]["bench_suffix"]
    listed = subprocess.run([binary, "--benchmark_list_tests"], capture_output=True, text=True,
                            check=True).stdout.split()
    counts = [int(name.split("threads:")[1].split("/")[0])
              for name in listed if name.startswith(f"BM_EvaluateBatch{suffix}/threads:")]
    threads = min(counts, key=lambda t: (abs(t - args.threads), -t)) if counts else args.threads
    if threads != args.threads:
        print(f"note: edgetrain_bench has no BM_EvaluateBatch at {args.threads} threads; "
              f"using {threads}")
    selection = (f"^BM_PredictSingleImage{suffix}/threads:{threads}/|"
                 f"^BM_EvaluateBatch{suffix}/threads:{threads}/")
    command = [binary, f"--benchmark_filter={selection}", "--benchmark_repetitions=5",
               "--benchmark_format=json"]
    lines, _, _ = run_child("edgetrain_bench", command)
    medians = {b["run_name"]: b for b in json.loads("\n".join(lines))["benchmarks"]
               if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"}
    result = {"command": shlex.join(command), "batch_threads": threads}
    single = next((b for name, b in medians.items()
                   if name.startswith(f"BM_PredictSingleImage{suffix}/threads:{threads}/")), None)
    if single:
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[single["time_unit"]]
        result["single_image_median_us"] = single["real_time"] * scale
    batch = next((b for name, b in medians.items()
                  if name.startswith(f"BM_EvaluateBatch{suffix}/threads:{threads}/")), None)
    if batch:
        result["batch_images_per_second"] = batch["items_per_second"]
    return result


def pytorch(args):
    command = [PYTHON, os.path.join(BENCH, NETWORKS[args.network]["script"]),
               "--data-dir", args.data_dir,
               "--epochs", str(args.epochs), "--threads", str(args.threads)]
    if args.limit:
        command += ["--limit", str(args.limit)]
    lines, wall, rss = run_child("pytorch", command)
    result = last_json_line(lines, command)
    result.update(process_seconds=wall, peak_rss_mb=rss, command=shlex.join(command))
    return result


# ---- The report ---------------------------------------------------------------------------------
def add_rates(result, network):
    """Achieved GFLOP/s of training and of batched inference, from the FLOP counts above."""
    train_flop, forward_flop = NETWORKS[network]["flop"]
    result["train_gflops"] = result["samples_per_second"] * train_flop / 1e9
    if result.get("batch_images_per_second"):
        result["batch_gflops"] = result["batch_images_per_second"] * forward_flop / 1e9


def ratio_text(ours, theirs, lower_is_better):
    """'6.10× faster' for times and rates, '0.12× (1/8.3)' for memory."""
    if not ours or not theirs:
        return ""
    if lower_is_better is None:  # memory: edgetrain / PyTorch
        return f"{ours / theirs:.3f}× (1/{theirs / ours:.1f})"
    speedup = theirs / ours if lower_is_better else ours / theirs
    return f"{speedup:.2f}× {'faster' if speedup >= 1 else 'slower'}"


def print_table(edgetrain, torch_result, machine, network):
    train_flop = NETWORKS[network]["flop"][0]
    rows = [  # (label, key, format, lower_is_better: True, False, None = memory ratio, "" = none)
        ("training", None, None, ""),
        ("seconds per epoch", "seconds_per_epoch", "{:.2f}", True),
        ("samples/s", "samples_per_second", "{:.0f}", False),
        (f"GFLOP/s, dense-equivalent ({train_flop / 1e6:.2f} MFLOP/sample)",
         "train_gflops", "{:.2f}", False),
        ("peak RSS (MB)", "peak_rss_mb", "{:.0f}", None),
        ("test accuracy", "test_accuracy", "{:.4f}", ""),
        ("test loss", "test_loss", "{:.4f}", ""),
        ("process wall time (s)", "process_seconds", "{:.1f}", ""),
        ("inference", None, None, ""),
        ("one image, median (µs)", "single_image_median_us", "{:.1f}", True),
        ("batches of 1000 (images/s)", "batch_images_per_second", "{:.0f}", False),
        ("batches of 1000 (GFLOP/s)", "batch_gflops", "{:.2f}", False),
    ]
    header = f"PyTorch {torch_result['torch_version']}"
    print(f"\n{NETWORKS[network]['title']} on {edgetrain['dataset']}: {edgetrain['epochs']} epoch(s) of "
          f"{edgetrain['train_samples']} images, batch {edgetrain['batch_size']}, Adam lr "
          f"{edgetrain['learning_rate']:g}, {edgetrain['threads']} threads")
    simd = " ".join(machine["simd"]) or "no AVX"
    print(f"CPU: {machine['cpu']} — {machine['cores']} cores, {simd}; load average "
          f"{machine['load_average'][0]:.2f} at the start, "
          f"{machine['load_average_end'][0]:.2f} at the end\n")
    print(f"{'':46}{'edgetrain':>12}{header:>18}   edgetrain vs PyTorch")
    for label, key, fmt, lower_is_better in rows:
        if key is None:
            print(label)
            continue
        ours, theirs = edgetrain.get(key), torch_result.get(key)
        cells = [fmt.format(v) if v is not None else "n/a" for v in (ours, theirs)]
        ratio = "" if lower_is_better == "" else ratio_text(ours, theirs, lower_is_better)
        print(f"  {label:44}{cells[0]:>12}{cells[1]:>18}   {ratio}")
    print("\nSpeed-up = PyTorch time / edgetrain time (for rates, edgetrain / PyTorch).\n"
          "Memory ratio = edgetrain / PyTorch peak RSS of the training process (PyTorch's also\n"
          f"runs its inference afterwards). Both run their single image with "
          f"{edgetrain['batch_threads']} (edgetrain) and {torch_result['threads']} (PyTorch) threads.\n"
          "edgetrain's inference images are seeded noise.")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", choices=sorted(NETWORKS), default="lenet",
                        help="lenet (default, on MNIST) or small-resnet (on Fashion-MNIST)")
    parser.add_argument("--epochs", type=int, default=1, help="epochs (default 1)")
    parser.add_argument("--data-dir", default=None,
                        help=f"folder of the four IDX files (default {DEFAULT_DATA_DIR} for lenet, "
                             f"{FASHION_DATA_DIR} for small-resnet)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads for both (default: every core)")
    parser.add_argument("--edgetrain", default=DEFAULT_EDGETRAIN,
                        help="the edgetrain binary (default build/edgetrain); edgetrain_bench is "
                             "looked for next to it")
    parser.add_argument("--limit", type=int, default=0,
                        help="train on the first N images only (a quick check of the script)")
    parser.add_argument("--precision", choices=("float32", "bf16"), default="float32",
                        help="edgetrain's training precision (default float32; PyTorch's is "
                             "float32 either way)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    args = parser.parse_args()
    if args.epochs < 1 or args.threads < 1:
        parser.error("--epochs and --threads must be positive")
    args.data_dir = os.path.abspath(args.data_dir or NETWORKS[args.network]["data_dir"])
    args.edgetrain = os.path.abspath(args.edgetrain)

    cpu, cores, simd = cpu_description()
    machine = {"cpu": cpu, "cores": cores, "simd": simd, "load_average": os.getloadavg(),
               "kernel": platform.release()}
    machine["edgetrain_precision"] = args.precision
    print(f"CPU: {cpu}, {cores} cores; load average {machine['load_average'][0]:.2f}; "
          f"edgetrain trains in {args.precision}")
    if machine["load_average"][0] > 0.5:
        print("warning: other processes are running; the timings will be noisy, PyTorch's OpenMP "
              "threads\n(which wait for each other at every barrier) suffer most when cores are "
              "shared.")

    edgetrain = edgetrain_training(args)
    inference = edgetrain_inference(args)
    if inference:
        edgetrain.update({k: v for k, v in inference.items() if k != "command"})
        edgetrain["inference_command"] = inference["command"]
    torch_result = pytorch(args)
    for result in (edgetrain, torch_result):
        add_rates(result, args.network)
    machine["load_average_end"] = os.getloadavg()
    print_table(edgetrain, torch_result, machine, args.network)

    if args.json:
        ratios = {
            "training_speedup": torch_result["train_seconds"] / edgetrain["train_seconds"],
            "peak_rss_ratio": edgetrain["peak_rss_mb"] / torch_result["peak_rss_mb"],
        }
        if edgetrain.get("single_image_median_us"):
            ratios["single_image_speedup"] = (torch_result["single_image_median_us"] /
                                              edgetrain["single_image_median_us"])
        if edgetrain.get("batch_images_per_second"):
            ratios["batch_speedup"] = (edgetrain["batch_images_per_second"] /
                                       torch_result["batch_images_per_second"])
        with open(args.json, "w") as f:
            train_flop, forward_flop = NETWORKS[args.network]["flop"]
            json.dump({"machine": machine, "network": args.network,
                       "train_flop_per_sample": train_flop,
                       "forward_flop_per_sample": forward_flop, "edgetrain": edgetrain,
                       "pytorch": torch_result, "ratios": ratios}, f, indent=2)
            f.write("\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
