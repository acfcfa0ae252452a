"""The demo's data set and model: scikit-learn's handwritten digits and a small CNN.

The digits (1,797 images of 8x8 pixels, 10 classes) ship inside scikit-learn,
so nothing is downloaded. The config imports this module through
``custom_imports``, which registers both types by name.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from hooks_core import DATASETS, MODELS, BaseModel

SPLITS = {"train": (0.0, 0.7), "val": (0.7, 0.85), "test": (0.85, 1.0)}


@DATASETS.register_module()
class DigitsDataset(Dataset[dict[str, Any]]):
    """One split of the digits, pixels scaled to 0..1, in a fixed shuffled order.

    Args:
        split: ``'train'`` (70 %), ``'val'`` (15 %) or ``'test'`` (15 %); the
            shuffle is seeded, so the splits never overlap.
        limit: Keep only the first `limit` samples (for quick tests).
    """

    def __init__(self, split: str = "train", limit: int | None = None) -> None:
        from sklearn.datasets import load_digits

        if split not in SPLITS:
            raise ValueError(f"DigitsDataset split must be one of {sorted(SPLITS)}, got {split!r}")
        digits = load_digits()
        images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
        labels = torch.tensor(digits.target, dtype=torch.long)
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        first, last = (round(fraction * len(order)) for fraction in SPLITS[split])
        chosen = order[first:last][:limit]
        self.images, self.labels = images[chosen], labels[chosen]
        self.metainfo = {"classes": [str(digit) for digit in range(10)]}

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"inputs": self.images[index], "labels": self.labels[index]}


@MODELS.register_module()
class DigitsCNN(BaseModel):
    """Two 3x3 convolutions, a pooling and two linear layers: about 140k parameters.

    ``mode='predict'`` returns one data sample per image, with ``pred_score``
    (class probabilities) and ``gt_label``, which `hooks_eval.Accuracy` reads,
    followed by ``{'loss': ...}``, which the validation and test loops average
    and report (``val_loss``, ``test_loss``) instead of handing it to the metric.
    """

    def __init__(self, width: int = 32, dropout: float = 0.25) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2),
        )  # fmt: skip
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(2 * width * 16, 64), nn.ReLU(),
            nn.Linear(64, 10),
        )  # fmt: skip

    def forward(
        self, inputs: torch.Tensor, labels: torch.Tensor | None = None, mode: str = "tensor"
    ) -> Any:
        logits = self.head(self.features(inputs))
        if mode == "loss":
            return {"loss": F.cross_entropy(logits, labels)}
        if mode == "predict":  # the samples, then the loss: the loops report it as val_loss
            scores = logits.softmax(dim=1)
            samples = [{"pred_score": score, "gt_label": label}
                       for score, label in zip(scores, labels, strict=True)]  # fmt: skip
            return [*samples, {"loss": F.cross_entropy(logits, labels)}]
        return logits
