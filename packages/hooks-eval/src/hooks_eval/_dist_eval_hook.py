"""`DistEvalHook`: distributed `EvalHook`: each rank tests its shard, rank 0 evaluates."""

from __future__ import annotations

import os.path as osp

from hooks_core import HOOKS
from hooks_core.dist import broadcast, broadcast_object, get_rank

from ._eval_hook import EvalHook
from ._mmcv_test import multi_gpu_test

TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

__all__ = ["DistEvalHook"]


@HOOKS.register_module()
class DistEvalHook(EvalHook):
    """`EvalHook` over a distributed dataloader (MMCV 1.7's arguments, in its order).

    Before each evaluation the BatchNorm running statistics of rank 0 are
    broadcast to every rank (DDP does not keep them in step), so every rank
    tests the same model. Each rank runs `test_fn` (`multi_gpu_test`) on its
    shard; rank 0 gathers the results and calls the dataset's ``evaluate``, and
    its metrics are sent to every rank, so all ranks publish them and keep the
    same best-checkpoint records (only rank 0 writes files). Every rank must
    evaluate at the same steps, as in any collective.

    Args:
        dataloader: A dataloader with a distributed sampler, whose dataset has
            ``evaluate``, or its config.
        start, interval, by_epoch, save_best, rule, greater_keys, less_keys,
        out_dir, file_client_args, **eval_kwargs: As in `EvalHook`.
        test_fn: ``test_fn(model, dataloader, tmpdir=..., gpu_collect=...)``
            returning all results on rank 0; `multi_gpu_test` by default.
        broadcast_bn_buffer: Broadcast rank 0's BatchNorm statistics first.
        tmpdir: Exchange the results through files in this folder (every rank
            must see it); ``work_dir/.eval_hook`` by default, as in MMCV.
        gpu_collect: Send the results through the process group's device instead.
    """

    def __init__(
        self,
        dataloader: Any,
        start: int | None = None,
        interval: int = 1,
        by_epoch: bool = True,
        save_best: str | Sequence[str] | bool | None = None,
        rule: str | Sequence[str] | None = None,
        test_fn: Callable[..., Any] | None = None,
        greater_keys: str | Sequence[str] | None = None,
        less_keys: str | Sequence[str] | None = None,
        broadcast_bn_buffer: bool = True,
        tmpdir: str | None = None,
        gpu_collect: bool = False,
        out_dir: str | os.PathLike[str] | None = None,
        file_client_args: Mapping[str, Any] | None = None,
        **eval_kwargs: Any,
    ) -> None:
        if dataloader is None:
            raise TypeError(
                "DistEvalHook needs a dataloader whose dataset has evaluate; to validate with "
                "the runner's val loop (distributed already), use EvalHook without one"
            )
        if test_fn is None:
            test_fn = multi_gpu_test
        super().__init__(
            dataloader,
            start=start,
            interval=interval,
            by_epoch=by_epoch,
            save_best=save_best,
            rule=rule,
            test_fn=test_fn,
            greater_keys=greater_keys,
            less_keys=less_keys,
            out_dir=out_dir,
            file_client_args=file_client_args,
            **eval_kwargs,
        )
        self.broadcast_bn_buffer = broadcast_bn_buffer
        self.tmpdir = tmpdir
        self.gpu_collect = gpu_collect

    def _evaluate(self, runner: Any) -> dict[str, Any]:
        """Test on every rank, evaluate on rank 0, and give every rank its metrics."""
        if self.broadcast_bn_buffer:
            from torch.nn.modules.batchnorm import _BatchNorm

            for module in runner.model.modules():
                if isinstance(module, _BatchNorm) and module.track_running_stats:
                    for buffer in (module.running_var, module.running_mean):
                        if buffer is not None:
                            broadcast(buffer, 0)
        tmpdir = osp.join(runner.work_dir, ".eval_hook") if self.tmpdir is None else self.tmpdir
        results = self.test_fn(
            runner.model, self.dataloader, tmpdir=tmpdir, gpu_collect=self.gpu_collect
        )
        metrics = self._dataset_metrics(runner, results) if get_rank() == 0 else None
        evaluated: dict[str, Any] = broadcast_object(metrics)
        return evaluated
