"""MMCV's test functions (``mmcv.engine``): run a model over a dataloader and return its results.

The model is called as MMCV models are, ``model(return_loss=False, **data)``
for a dict batch, and returns one result per sample. `multi_gpu_test` gathers
every rank's results on rank 0 in the dataset's order, through
`hooks_core.dist.collect_results`.
"""

from __future__ import annotations

from ._collect import collect_results

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["single_gpu_test", "multi_gpu_test"]


def single_gpu_test(model: Any, data_loader: Any) -> list[Any]:
    """Run `model` in eval mode, without gradients, over `data_loader`; return every result.

    A dict batch is passed as keyword arguments, a tuple or list batch as
    positional ones, anything else as the one positional argument; each call
    also gets ``return_loss=False`` and returns a list (or tensor) of per-sample
    results, which are concatenated.
    """
    import torch

    model.eval()
    results: list[Any] = []
    with torch.no_grad():
        for data in data_loader:
            results.extend(_predict(model, data))
    return results


def multi_gpu_test(
    model: Any, data_loader: Any, tmpdir: str | None = None, gpu_collect: bool = False
) -> list[Any] | None:
    """`single_gpu_test` on this rank's shard; every rank's results on rank 0, None elsewhere.

    Every rank must call it. The results come back in the dataset's order,
    without the samples a distributed sampler repeats to even the shards out.

    Args:
        model: The model, called as in `single_gpu_test`.
        data_loader: This rank's loader (with a distributed sampler).
        tmpdir: Exchange the results through files in this folder, which
            every rank must see; None sends them through the process group.
        gpu_collect: Send the results through the backend's device (MMCV's GPU
            collection); `tmpdir` is then not used.
    """
    results = single_gpu_test(model, data_loader)
    size = len(data_loader.dataset)
    if gpu_collect:
        return collect_results(results, size, "gpu")
    return collect_results(results, size, "cpu", tmpdir)


def _predict(model: Any, data: Any) -> Any:
    if isinstance(data, dict):
        return model(return_loss=False, **data)
    if isinstance(data, (tuple, list)):
        return model(*data, return_loss=False)
    return model(data, return_loss=False)
