#!/usr/bin/python3
"""LeNet's test accuracy and speed in float32 and bf16 over several seeds (issue #14's bf16 check).

    /usr/bin/python3 bench/precision_seeds.py [--seeds 1 2 3 4] [--epochs 10] [--threads N]
                                              [--data-dir DIR] [--edgetrain build/edgetrain]
                                              [--json results.json]

For each seed, trains the seed's LeNet on MNIST (../shared/data/mnist) once with --precision
float32 and once with --precision bf16, the same flags otherwise (`--init he`, as
bench/side_by_side.py), alternating the two so that a change in the machine's load touches both;
prints each run's test accuracy and seconds per epoch, the means, and whether bf16's mean accuracy
is within --tolerance (default 0.001) of float32's. Exits 1 when it is not. Standard library only;
speeds are only comparable on an otherwise idle machine.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)
PRECISIONS = ("float32", "bf16")


def train(args, seed, precision):
    command = [args.edgetrain, "train", "--dataset", args.data_dir, "--epochs", str(args.epochs),
               "--threads", str(args.threads), "--seed", str(seed), "--init", "he",
               "--precision", precision, "--quiet", "--json"]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"precision_seeds: {' '.join(command)} failed:\n{done.stderr.strip()}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    return {"seed": seed, "precision": precision, "test_accuracy": result["test_accuracy"],
            "seconds_per_epoch": result["train_seconds"] / max(1, result["epochs"])}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--data-dir",
                        default=os.path.normpath(os.path.join(REPO, "..", "shared", "data",
                                                              "mnist")))
    parser.add_argument("--edgetrain", default=os.path.join(REPO, "build", "edgetrain"))
    parser.add_argument("--tolerance", type=float, default=0.001,
                        help="largest accepted |mean bf16 - mean float32| accuracy (0.001)")
    parser.add_argument("--json", metavar="FILE", help="also write the runs to FILE")
    args = parser.parse_args()

    runs = []
    for seed in args.seeds:
        for precision in PRECISIONS:
            run = train(args, seed, precision)
            runs.append(run)
            print(f"seed {seed}  {precision:7}  accuracy {run['test_accuracy']:.4f}  "
                  f"{run['seconds_per_epoch']:.2f} s/epoch", flush=True)

    def of(precision, key):
        return [run[key] for run in runs if run["precision"] == precision]

    accuracy = {p: statistics.mean(of(p, "test_accuracy")) for p in PRECISIONS}
    speed = {p: statistics.mean(of(p, "seconds_per_epoch")) for p in PRECISIONS}
    print(f"\n| | " + " | ".join(f"seed {s}" for s in args.seeds) + " | mean | s/epoch (mean) |")
    print("|---" * (len(args.seeds) + 3) + "|")
    for p in PRECISIONS:
        cells = " | ".join(f"{a:.4f}" for a in of(p, "test_accuracy"))
        print(f"| {p} | {cells} | {accuracy[p]:.4f} | {speed[p]:.2f} |")
    difference = accuracy["bf16"] - accuracy["float32"]
    accepted = abs(difference) <= args.tolerance
    print(f"\nbf16 - float32: accuracy {difference:+.4f} (tolerance {args.tolerance}), "
          f"speed-up {speed['float32'] / speed['bf16']:.2f}x: "
          f"{'within' if accepted else 'NOT within'} tolerance")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"runs": runs, "accepted": accepted}, f, indent=1)
    sys.exit(0 if accepted else 1)


if __name__ == "__main__":
    main()
