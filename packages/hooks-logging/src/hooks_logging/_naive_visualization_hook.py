"""`NaiveVisualizationHook`: MMEngine's hook that hands each test sample's image to the visualizer.

After every `interval`-th test iteration, each sample's input tensor is
turned back into an image (normalisation undone, padding cut off, resized to
the original size), named after its file, and given to
``runner.visualizer.add_datasample`` with the model's output for it.
"""

from __future__ import annotations

import os.path as osp

from hooks_core import HOOKS, Hook
from hooks_core.utils import check_positive_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    import numpy as np

__all__ = ["NaiveVisualizationHook"]


@HOOKS.register_module()
class NaiveVisualizationHook(Hook):
    """Give the visualizer every test sample's image, every `interval` test iterations.

    Args:
        interval: Visualize after every this many test iterations.
        draw_gt: Passed to ``add_datasample``: draw the ground truth.
        draw_pred: Passed to ``add_datasample``: draw the prediction.

    What it reads, per sample, from the batch (a list of per-sample dicts, as
    MMEngine's hook reads it, or a collated dict of lists):

    - ``inputs``: a ``(C, H, W)`` or ``(1, C, H, W)`` tensor (RGB or grey);
    - ``data_sample`` (or ``data_samples``): its meta information, as an
      object with attributes or a dict, all optional:
      ``img_norm_cfg`` (``mean``, ``std``) to undo the normalisation,
      ``pad_shape`` with ``scale`` (``(w, h)``) to cut off padding,
      ``ori_width``/``ori_height`` to resize back (nearest neighbour),
      ``img_path`` for the name (else ``'sample_<n>'``).

    The model's output for the sample (``outputs[i]``) goes to
    ``add_datasample`` as its ``data_sample``, with ``step`` the test
    iteration. `before_train` records the model with ``add_graph``.

    Raises:
        TypeError, ValueError: `interval` is not a positive int, or a flag not a bool.
    """

    priority = "NORMAL"

    def __init__(self, interval: int = 1, draw_gt: bool = True, draw_pred: bool = True) -> None:
        check_positive_int(interval, "NaiveVisualizationHook interval")
        for name, flag in (("draw_gt", draw_gt), ("draw_pred", draw_pred)):
            if not isinstance(flag, bool):
                raise TypeError(f"NaiveVisualizationHook {name} must be a bool, got {flag!r}")
        self._interval = interval
        self.draw_gt = draw_gt
        self.draw_pred = draw_pred
        self._count = 0  # samples shown so far, for names without an img_path

    @property
    def interval(self) -> int:
        """Visualize after every this many test iterations."""
        return self._interval

    def before_train(self, runner: Any) -> None:
        runner.visualizer.add_graph(runner.model, None)

    def after_test_iter(
        self,
        runner: Any,
        batch_idx: int,
        data_batch: Any = None,
        outputs: Sequence[Any] | None = None,
    ) -> None:
        if not self.every_n_inner_iters(batch_idx, self._interval) or data_batch is None:
            return
        samples = _per_sample(data_batch)
        predictions = list(outputs) if outputs is not None else []
        for index, data in enumerate(samples):
            meta = data.get("data_sample", data.get("data_samples"))
            image = _restore(data["inputs"], meta)
            path = _meta(meta, "img_path")
            self._count += 1
            name = osp.basename(path) if path else f"sample_{self._count}"
            output = predictions[index] if index < len(predictions) else None
            runner.visualizer.add_datasample(
                name,
                image,
                data_sample=output,
                draw_gt=self.draw_gt,
                draw_pred=self.draw_pred,
                step=batch_idx,
            )


def _per_sample(data_batch: Any) -> list[dict[str, Any]]:
    """The batch as one dict per sample (a collated dict of lists is split)."""
    if isinstance(data_batch, dict):
        inputs = data_batch["inputs"]
        samples = data_batch.get("data_samples", data_batch.get("data_sample"))
        count = len(inputs)
        if samples is None or not isinstance(samples, (list, tuple)):
            samples = [samples] * count
        return [{"inputs": inputs[i], "data_sample": samples[i]} for i in range(count)]
    return [dict(item) for item in data_batch]


def _meta(sample: Any, key: str, default: Any = None) -> Any:
    """`key` of a data sample: an attribute (MMEngine's data elements) or a dict key."""
    if sample is None:
        return default
    if isinstance(sample, dict):
        return sample.get(key, default)
    getter = getattr(sample, "get", None)  # BaseDataElement.get looks in its meta information
    if callable(getter):
        return getter(key, default)
    return getattr(sample, key, default)


def _restore(inputs: Any, meta: Any) -> np.ndarray[Any, Any]:
    """The sample's input tensor as the original ``(H, W, C)`` uint8 image."""
    import numpy as np

    array = inputs.detach().cpu().numpy() if hasattr(inputs, "detach") else np.asarray(inputs)
    if array.ndim == 4:
        array = array[0]
    if array.ndim != 3:
        raise ValueError(
            f"NaiveVisualizationHook reads inputs of shape (C, H, W) or (1, C, H, W), "
            f"got {array.shape}"
        )
    image = array.transpose(1, 2, 0).astype(np.float64)
    norm = _meta(meta, "img_norm_cfg") or {}
    channels = image.shape[2]
    std = np.asarray(norm.get("std", (1.0,) * channels), float)
    mean = np.asarray(norm.get("mean", (0.0,) * channels), float)
    image = image * std + mean
    height, width = image.shape[:2]
    ori_width = _meta(meta, "ori_width", width)
    ori_height = _meta(meta, "ori_height", height)
    if _meta(meta, "pad_shape") is not None:
        crop_width, crop_height = _meta(meta, "scale", (ori_width, ori_height))
        image = image[:crop_height, :crop_width]
    image = _resize_nearest(image, int(ori_height), int(ori_width))
    restored: np.ndarray[Any, Any] = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return restored


def _resize_nearest(image: np.ndarray[Any, Any], height: int, width: int) -> np.ndarray[Any, Any]:
    import numpy as np

    rows = (np.arange(height) * image.shape[0] / height).astype(int)
    cols = (np.arange(width) * image.shape[1] / width).astype(int)
    resized: np.ndarray[Any, Any] = image[rows][:, cols]
    return resized
