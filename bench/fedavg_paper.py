#!/usr/bin/python3
"""The FedAvg paper's MNIST figures (McMahan et al. 2017, Tables 1 and 2) with `edgetrain fed-sim`.

K = 100 clients, C = 0.1 (10 a round), plain SGD on the clients, the paper's 2NN and CNN:
  2nn-iid / 2nn-shards   E = 1, B = 10, rounds to 97 % test accuracy (paper: 87 IID, 664 non-IID)
  cnn-iid / cnn-shards   E = 5, B = 10, rounds to 99 % test accuracy (paper: 20 IID, 229 non-IID)
"shards" is the paper's pathological non-IID partition (sorted by label, 200 shards of 300, two per
client). The paper tuned the learning rate per setting; give a grid with --learning-rates and every
rate is run (a run stops at the target or after --max-rounds).

  /usr/bin/python3 bench/fedavg_paper.py [--only 2nn-iid,cnn-iid] [--learning-rates 0.05,0.1,0.2]
      [--cli build/edgetrain] [--data-dir ../shared/data/mnist] [--workers 2] [--out results.json]

Long: the CNN settings take minutes to hours. Each run's JSON line (fed-sim --json) is appended to
--out as it finishes; the table at the end gives rounds to target, seconds and megabytes per round.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = {
    # name: (preset, partition, local epochs, batch, target, paper rounds, max rounds)
    "2nn-iid": ("2nn", "iid", 1, 10, 0.97, 87, 400),
    "2nn-shards": ("2nn", "shards", 1, 10, 0.97, 664, 2000),
    "cnn-iid": ("cnn", "iid", 5, 10, 0.99, 20, 120),
    "cnn-shards": ("cnn", "shards", 5, 10, 0.99, 229, 800),
}


def run(name, learning_rate, args):
    preset, partition, epochs, batch, target, _, max_rounds = SETTINGS[name]
    command = [args.cli, "fed-sim", "--preset", preset, "--partition-kind", partition,
               "--clients", "100", "--fraction", "0.1", "--local-epochs", str(epochs),
               "--batch-size", str(batch), "--learning-rate", str(learning_rate),
               "--rounds", str(args.max_rounds or max_rounds), "--target-accuracy", str(target),
               "--stop-at-target", "--seed", str(args.seed), "--workers", str(args.workers),
               "--dataset", args.data_dir, "--json"]
    print("$ " + " ".join(command), flush=True)
    last = ""
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:  # the per-round lines as they come
            print("  " + line.rstrip(), flush=True)
            last = line
    if process.returncode != 0:
        sys.exit(f"fed-sim failed with exit code {process.returncode}")
    summary = json.loads(last)
    summary["setting"] = name
    with open(args.out, "a") as out:
        out.write(json.dumps(summary) + "\n")
    return summary


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SETTINGS))
    parser.add_argument("--learning-rates", default="0.1")
    parser.add_argument("--cli", default=os.path.join(HERE, "..", "build", "edgetrain"))
    parser.add_argument("--data-dir", default=os.path.join(HERE, "..", "..", "shared", "data", "mnist"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--max-rounds", type=int, default=0)
    parser.add_argument("--out", default="fedavg_paper.jsonl")
    args = parser.parse_args()

    rows = []
    for name in args.only.split(","):
        if name not in SETTINGS:
            sys.exit(f"unknown setting {name}; one of {', '.join(SETTINGS)}")
        for rate in args.learning_rates.split(","):
            summary = run(name, float(rate), args)
            rounds = summary["rounds_to_target"]
            paper = SETTINGS[name][5]
            seconds = summary["seconds_per_round"]
            rows.append((name, rate, paper, rounds,
                         f"{(rounds - paper) / paper:+.0%}" if rounds else "not reached",
                         sum(seconds) / len(seconds), summary["bytes_per_round"][0] / 1e6,
                         summary["test_accuracy"][-1]))
            print(f"{name} lr {rate}: {rounds} rounds (paper {paper})", flush=True)
    print("\n| setting | lr | paper | ours | vs paper | s/round | MB/round | last accuracy |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rate, paper, rounds, delta, seconds, megabytes, accuracy in rows:
        print(f"| {name} | {rate} | {paper} | {rounds or '-'} | {delta} | {seconds:.2f} | "
              f"{megabytes:.1f} | {accuracy:.4f} |")


if __name__ == "__main__":
    main()
