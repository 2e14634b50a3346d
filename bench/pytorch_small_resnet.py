#!/usr/bin/python3
"""The PyTorch side of the second side-by-side workload: edgetrain's small_resnet() in PyTorch.

    /usr/bin/python3 bench/pytorch_small_resnet.py [--epochs 1] [--threads N] [--data-dir DIR]
                                                   [--limit N]

Same network, hyper-parameters and data as `edgetrain train --preset small-resnet`
(src/nn/builder.cpp), shapes per sample:
  conv 32@3x3 valid, ReLU, max-pool 2x2/2                  (1, 28, 28) → (32, 13, 13)
  batch norm                                               the block's input and shortcut
  conv 32@3x3 same (no bias), batch norm, ReLU, conv 32@3x3 same (no bias), batch norm,
  add the shortcut, ReLU                                   (32, 13, 13)
  conv 64@2x2 valid, ReLU, max-pool 2x2/2                  (64, 6, 6)
  flatten, dense 128, ReLU, dense 10, softmax + cross-entropy (CrossEntropyLoss on the logits).
He-uniform weights (bound sqrt(6 / fan_in)), zero biases, batch norm γ = 1, β = 0, momentum 0.1,
ε 1e-5 (edgetrain's too); Adam lr 1e-3, batch 128, shuffled every epoch; pixels / 255.
edgetrain flattens channel-last and PyTorch channel-first: the same network up to a fixed
permutation of the first dense layer's input columns.

The training loop, evaluation, latency and JSON line are pytorch_lenet.py's (imported), so both
workloads are measured the same way. Default data: Fashion-MNIST from the Debian package.
"""

import torch
import torch.nn.functional as F
from torch import nn

import pytorch_lenet as common

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"


class SmallResnet(nn.Module):
    """edgetrain's small_resnet(); forward returns the logits."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, kernel_size=3)  # (N, 1, 28, 28) → (N, 32, 26, 26)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2a = nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False)  # (N, 32, 13, 13)
        self.bn2a = nn.BatchNorm2d(32)
        self.conv2b = nn.Conv2d(32, 32, kernel_size=3, padding=1, bias=False)
        self.bn2b = nn.BatchNorm2d(32)
        self.conv3 = nn.Conv2d(32, 64, kernel_size=2)  # (N, 32, 13, 13) → (N, 64, 12, 12)
        self.dense1 = nn.Linear(64 * 6 * 6, 128)
        self.dense2 = nn.Linear(128, 10)
        for layer in (self.conv1, self.conv2a, self.conv2b, self.conv3, self.dense1, self.dense2):
            nn.init.kaiming_uniform_(layer.weight, a=0, nonlinearity="relu")  # ±sqrt(6 / fan_in)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def forward(self, x):
        shortcut = self.bn1(F.max_pool2d(F.relu(self.conv1(x)), 2))  # (N, 32, 13, 13)
        y = F.relu(self.bn2a(self.conv2a(shortcut)))
        y = F.relu(self.bn2b(self.conv2b(y)) + shortcut)
        y = F.max_pool2d(F.relu(self.conv3(y)), 2)  # (N, 64, 6, 6)
        y = F.relu(self.dense1(torch.flatten(y, 1)))
        return self.dense2(y)


def main():
    common.run_benchmark(SmallResnet, "small-resnet", DEFAULT_DATA_DIR, __doc__.split("\n\n")[0])


if __name__ == "__main__":
    main()
