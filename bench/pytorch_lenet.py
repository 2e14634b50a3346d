#!/usr/bin/python3
"""The PyTorch side of the side-by-side benchmark: edgetrain's lenet() trained and timed in PyTorch.

    /usr/bin/python3 bench/pytorch_lenet.py [--epochs 1] [--threads N] [--data-dir DIR] [--limit N]

Same network, hyper-parameters and data as `edgetrain train`:
  conv 32@3x3 valid, ReLU, max-pool 2x2/2, conv 32@2x2 valid, ReLU, max-pool 2x2/2, flatten,
  dense 500, ReLU, dense 10, softmax + categorical cross-entropy (here CrossEntropyLoss on the
  logits, the same function); He-uniform weights (bound sqrt(6 / fan_in)), zero biases; Adam lr 1e-3
  (betas 0.9, 0.999, eps 1e-8), batch 128, shuffled every epoch; pixels / 255.
edgetrain flattens channel-last and PyTorch channel-first: the same network up to a fixed
permutation of the first dense layer's input columns, so the work and the accuracy are the same.

The MNIST IDX files are read and turned into tensors before the clock starts; train time is the
training loop alone. After training: test accuracy and loss, single-image latency (median of 1000
batch-1 calls under torch.no_grad) and batched throughput (batches of 1000 test images).

Prints one line per epoch, then one JSON line (the last line of stdout) with the same keys as
`edgetrain train --json` where they overlap, plus seconds_per_epoch, epoch_seconds,
single_image_median_us, batch_images_per_second and torch_version.
Written for Debian's python3-torch 1.13 (oneDNN + OpenBLAS) and python3-numpy.
"""

import argparse
import gzip
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_DATA_DIR = os.path.normpath(os.path.join(REPO, "..", "shared", "data", "mnist"))

IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049


def read_idx(path, magic):
    """An IDX file (raw or gzip, told by its first bytes) as a uint8 array of its declared shape."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or int.from_bytes(data[:4], "big") != magic:
        raise SystemExit(f"{path}: not an IDX file with magic {magic}")
    rank = data[3]
    header = 4 + 4 * rank
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    if len(data) != header + int(np.prod(shape)):
        raise SystemExit(f"{path}: {len(data) - header} bytes of data; the header says {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def find_file(folder, name):
    for candidate in (name + ".gz", name):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    raise SystemExit(f"{folder}: no {name}.gz or {name} (point --data-dir at the MNIST IDX files)")


def load_split(folder, split):
    """(images (N, 1, 28, 28) float32 in [0, 1], labels (N) int64) of 'train' or 't10k'."""
    images = read_idx(find_file(folder, f"{split}-images-idx3-ubyte"), IMAGES_MAGIC)
    labels = read_idx(find_file(folder, f"{split}-labels-idx1-ubyte"), LABELS_MAGIC)
    if len(images) != len(labels):
        raise SystemExit(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
    pixels = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return pixels.contiguous(), torch.from_numpy(labels.astype(np.int64))


class LeNet(nn.Module):
    """edgetrain's lenet() (src/nn/builder.cpp); forward returns the logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)  # (N, 1, 28, 28) → (N, 32, 26, 26)
        self.conv2 = nn.Conv2d(32, 32, kernel_size=2)  # (N, 32, 13, 13) → (N, 32, 12, 12)
        self.hidden1 = nn.Linear(32 * 6 * 6, 500)  # (N, 1152) → (N, 500)
        self.hidden2 = nn.Linear(500, 10)  # (N, 500) → (N, 10)
        for layer in (self.conv1, self.conv2, self.hidden1, self.hidden2):
            nn.init.kaiming_uniform_(layer.weight, a=0, nonlinearity="relu")  # ±sqrt(6 / fan_in)
            nn.init.zeros_(layer.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (N, 32, 13, 13)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (N, 32, 6, 6)
        x = F.relu(self.hidden1(torch.flatten(x, 1)))
        return self.hidden2(x)


def train(model, images, labels, epochs, batch_size, learning_rate):
    """Adam on shuffled mini-batches; returns the seconds of each epoch and the last epoch's mean
    loss and accuracy."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(0.9, 0.999), eps=1e-8)
    model.train()
    count = len(labels)
    epoch_seconds, mean_loss, accuracy = [], 0.0, 0.0
    for epoch in range(epochs):
        start = time.perf_counter()
        order = torch.randperm(count)
        loss_sum = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for first in range(0, count, batch_size):
            batch = order[first : first + batch_size]
            x, y = images[batch], labels[batch]
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            # Training loss and accuracy per epoch, as edgetrain reports them.
            loss_sum += loss.detach() * len(y)
            correct += (logits.detach().argmax(1) == y).sum()
        seconds = time.perf_counter() - start
        epoch_seconds.append(seconds)
        mean_loss, accuracy = loss_sum.item() / count, correct.item() / count
        print(f"epoch {epoch + 1}/{epochs}  loss {mean_loss:.4f}  accuracy {accuracy:.4f}  "
              f"{seconds:.2f} s", flush=True)
    return epoch_seconds, mean_loss, accuracy


@torch.no_grad()
def evaluate(model, images, labels, batch_size=1000):
    """Test accuracy and mean loss, and images/s: the median time of one batch of `batch_size`
    over three passes (softmax, loss and arg-max included, as in edgetrain's evaluate())."""
    model.eval()
    batch_seconds, loss_sum, correct = [], 0.0, 0
    for repetition in range(3):
        for first in range(0, len(labels), batch_size):
            x, y = images[first : first + batch_size], labels[first : first + batch_size]
            start = time.perf_counter()
            logits = model(x)
            probabilities = F.softmax(logits, dim=1)
            loss = F.cross_entropy(logits, y, reduction="sum")
            predicted = probabilities.argmax(1)
            batch_seconds.append((time.perf_counter() - start) * batch_size / len(y))
            if repetition == 0:
                loss_sum += loss.item()
                correct += int((predicted == y).sum())
    count = len(labels)
    return correct / count, loss_sum / count, batch_size / statistics.median(batch_seconds)


@torch.no_grad()
def single_image_latency_us(model, images, calls=1000, warmup=50):
    """Median microseconds of one batch-1 prediction (probabilities and arg-max), over `calls`."""
    model.eval()
    inputs = [images[i : i + 1] for i in range(min(len(images), 100))]
    times = []
    for call in range(warmup + calls):
        x = inputs[call % len(inputs)]
        start = time.perf_counter_ns()
        probabilities = F.softmax(model(x), dim=1)
        int(probabilities.argmax())
        if call >= warmup:
            times.append(time.perf_counter_ns() - start)
    return statistics.median(times) / 1000.0


def run_benchmark(make_model, name, default_data_dir, description, extra=None):
    """Parses the options, trains make_model() and measures it; prints one line per epoch, then the
    JSON line. Shared by every workload (pytorch_small_resnet.py), so all are measured alike.
    `extra` adds keys to the JSON line."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1, help="epochs (default 1)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch.set_num_threads (default: every core)")
    parser.add_argument("--data-dir", default=default_data_dir,
                        help=f"folder of the four IDX files (default {default_data_dir})")
    parser.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    parser.add_argument("--batch-size", type=int, default=128, help="mini-batch size (default 128)")
    parser.add_argument("--learning-rate", type=float, default=1e-3, help="Adam lr (default 1e-3)")
    parser.add_argument("--seed", type=int, default=42, help="seed of the weights and shuffling")
    args = parser.parse_args()
    if args.epochs < 1 or args.threads < 1 or args.batch_size < 1:
        parser.error("--epochs, --threads and --batch-size must be positive")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train_images, train_labels = load_split(args.data_dir, "train")
    test_images, test_labels = load_split(args.data_dir, "t10k")
    if args.limit > 0:
        train_images, train_labels = train_images[: args.limit], train_labels[: args.limit]
    model = make_model()
    # Batch norm's running mean and variance count, as edgetrain (and Core ML) store them.
    parameters = sum(p.numel() for p in model.parameters()) + sum(
        b.numel() for buffer_name, b in model.named_buffers()
        if buffer_name.endswith(("running_mean", "running_var")))
    print(f"training {name} ({parameters} parameters) in PyTorch {torch.__version__} on "
          f"{len(train_labels)} images: {args.epochs} epochs, batch {args.batch_size}, "
          f"Adam lr {args.learning_rate:g}, {torch.get_num_threads()} threads", flush=True)

    epoch_seconds, train_loss, train_accuracy = train(
        model, train_images, train_labels, args.epochs, args.batch_size, args.learning_rate)
    train_seconds = sum(epoch_seconds)
    test_accuracy, test_loss, batch_images_per_second = evaluate(model, test_images, test_labels)
    latency_us = single_image_latency_us(model, test_images)
    print(f"test accuracy {test_accuracy:.4f}  loss {test_loss:.4f}  ({len(test_labels)} images)")
    print(f"inference: one image {latency_us:.1f} µs (median), batches of 1000: "
          f"{batch_images_per_second:.0f} images/s")

    samples = len(train_labels) * args.epochs
    result = {
        "framework": "pytorch",
        "network": name,
        "torch_version": torch.__version__,
        "dataset": args.data_dir,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "threads": torch.get_num_threads(),
        "train_samples": len(train_labels),
        "train_seconds": train_seconds,
        "seconds_per_epoch": train_seconds / args.epochs,
        "epoch_seconds": epoch_seconds,
        "samples_per_second": samples / train_seconds if train_seconds > 0 else 0,
        "train_loss": train_loss,
        "train_accuracy": train_accuracy,
        "parameters": parameters,
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "test_samples": len(test_labels),
        "single_image_median_us": latency_us,
        "batch_images_per_second": batch_images_per_second,
    }
    result.update(extra or {})
    print(json.dumps(result), flush=True)


def main():
    run_benchmark(LeNet, "LeNet", DEFAULT_DATA_DIR, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
