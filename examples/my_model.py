"""A model of your own: any torch.nn.Module, built by a function that takes no arguments.

goaldriven reads its layers by module name (model.named_modules()): here "conv1", "conv2",
"pool" and "fc". Used by the README's examples and by tests/unit/test_external.py.
"""

import torch
from torch import nn


class SmallNet(nn.Module):
    def __init__(self, n_out: int = 10):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 8, 5, stride=2, padding=2), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(4)
        self.fc = nn.Linear(16 * 4 * 4, n_out)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.conv2(self.conv1(x))), 1))


def build() -> nn.Module:
    torch.manual_seed(0)  # the same random weights every time (or load trained ones: weights=...)
    return SmallNet()
