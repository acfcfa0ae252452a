"""EvalHook and DistEvalHook with a dataloader: MMCV 1.x's protocol, on its runners and Runner."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import torch
from eval_parts import eval_runner_kwargs, files
from mmcv_parts import MMCVClassifier, Points, loader, mmcv_runner, train_data

from hooks_core import Hook, Runner
from hooks_eval import DistEvalHook, EvalHook, multi_gpu_test, single_gpu_test

if TYPE_CHECKING:
    from pathlib import Path


def record_counter(runner: Any, dataset: Points, by_epoch: bool = True) -> None:
    """Let `dataset` record the runner's epoch (or iteration) at each evaluation."""
    dataset.clock = (lambda: runner.epoch) if by_epoch else (lambda: runner.iter)


# ------------------------------------------------------------ the protocol
def test_dataset_evaluate_gets_the_results_and_the_eval_kwargs(tmp_path: Path) -> None:
    val = Points(12, seed=2)
    runner = mmcv_runner(tmp_path, epochs=2)
    hook = EvalHook(loader(val), metric="accuracy", metric_options={"topk": (1,)})
    runner.register_hook(hook, priority="LOW")
    runner.run([train_data()], [("train", 1)])
    assert len(val.calls) == 2
    last = val.calls[-1]
    assert last["logger"] is runner.logger
    assert (last["metric"], last["kwargs"]) == ("accuracy", {"metric_options": {"topk": (1,)}})
    assert runner.model.training  # back to training after each evaluation
    # single_gpu_test: one result per sample, in order, from the model in eval mode.
    predicted = runner.model.predict(val)
    assert [r["pred"] for r in last["results"]] == predicted.tolist()
    assert [r["index"] for r in last["results"]] == list(range(12))
    accuracy = float((predicted == val.label).float().mean())
    # MMCV's log buffer protocol, and the message hub.
    assert runner.log_buffer.output == {"eval_iter_num": 3, "accuracy": accuracy}
    assert runner.log_buffer.ready
    history = runner.message_hub.get_scalar("val/accuracy")
    assert len(history.data[0]) == 2 and history.current() == accuracy


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        # Measured with MMCV 1.7.2's own EvalHook on its EpochBasedRunner, 5 epochs.
        (dict(interval=2), [1, 3]),
        (dict(start=3), [2, 3, 4]),
        (dict(interval=2, start=1), [0, 2, 4]),
        (dict(interval=2, start=0), [1, 3]),
        (dict(start=0), [0, 0, 1, 2, 3, 4]),  # at the start too: 0 >= start
    ],
)
def test_interval_and_start_as_mmcv(tmp_path: Path, options: dict[str, Any],
                                    expected: list[int]) -> None:  # fmt: skip
    val = Points(4)
    runner = mmcv_runner(tmp_path, epochs=5)
    runner.register_hook(EvalHook(loader(val), **options), priority="LOW")
    record_counter(runner, val)
    runner.run([train_data()], [("train", 1)])
    assert [c["at"] for c in val.calls] == expected


def test_resumed_run_evaluates_first_from_start(tmp_path: Path) -> None:
    first = mmcv_runner(tmp_path, epochs=2)
    first.register_checkpoint_hook(dict(interval=1))
    first.run([train_data()], [("train", 1)])
    for start, expected in ((2, [2, 2]), (3, [2])):
        val = Points(4)
        runner = mmcv_runner(tmp_path, epochs=3)
        runner.register_hook(EvalHook(loader(val), start=start), priority="LOW")
        runner.resume(str(tmp_path / "epoch_2.pth"))
        record_counter(runner, val)
        runner.run([train_data()], [("train", 1)])
        assert [c["at"] for c in val.calls] == expected, start


class LoggerHook(Hook):
    """A logger hook as MMCV writes them (only the class name matters to EvalHook)."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool, dict[str, Any]]] = []

    def after_train_iter(self, runner: Any) -> None:
        pending = bool(runner.log_buffer.val_history)
        self.seen.append((runner.iter, pending, dict(runner.log_buffer.output)))
        runner.log_buffer.clear_output()


class TextLogger(LoggerHook):
    pass


class EngineStyleLogger(LoggerHook):
    """A logger hook with MMEngine's signature: it reads the message hub, so it is not flushed."""

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        super().after_train_iter(runner)


def test_by_iteration_the_training_log_is_flushed_first(tmp_path: Path) -> None:
    val = Points(4)
    runner = mmcv_runner(tmp_path, iters=7)
    early, late = TextLogger(), TextLogger()
    runner.register_hook(early, priority="NORMAL")  # runs before EvalHook: not called again
    runner.register_hook(EvalHook(loader(val), interval=3, by_epoch=False), priority="LOW")
    runner.register_hook(late, priority="VERY_LOW")
    engine_style = runner.register_hook(EngineStyleLogger(), priority="VERY_LOW")
    record_counter(runner, val, by_epoch=False)
    runner.run([train_data()], [("train", 1)])
    assert [c["at"] for c in val.calls] == [2, 5]
    assert [it for it, _, _ in early.seen] == list(range(7))
    # At iterations 2 and 5 the later logger is called twice: first with the
    # training values still in the buffer, then with the evaluation alone.
    assert [it for it, _, _ in late.seen] == [0, 1, 2, 2, 3, 4, 5, 5, 6]
    flush, evaluation = late.seen[2], late.seen[3]
    assert flush[1] and "accuracy" not in flush[2]
    assert not evaluation[1] and set(evaluation[2]) == {"eval_iter_num", "accuracy"}
    assert [it for it, _, _ in engine_style.seen] == list(range(7))  # once each


# ------------------------------------------------------------ best checkpoint
def test_save_best_true_is_auto_and_a_zero_score_counts(tmp_path: Path) -> None:
    val = Points(4, scores=[0.0, 0.5, 0.3])
    runner = mmcv_runner(tmp_path, epochs=3, meta={"seed": 1})
    runner.register_hook(EvalHook(loader(val), save_best=True, metric="acc"), priority="LOW")
    runner.register_hook(_FilesAfterEachEpoch(tmp_path), priority="LOWEST")
    runner.run([train_data()], [("train", 1)])
    seen = runner.hooks[-1].seen
    # MMCV 1.7 skips a best score of 0; here it is the first best, then replaced.
    assert seen == [["best_acc_epoch_1.pth"], ["best_acc_epoch_2.pth"], ["best_acc_epoch_2.pth"]]
    best = str(tmp_path / "best_acc_epoch_2.pth")
    assert runner.meta["hook_msgs"] == {"best_score": 0.5, "best_ckpt": best}
    assert runner.message_hub.get_info("eval_best_score") == 0.5
    saved = torch.load(best, weights_only=False)
    assert saved["meta"]["epoch"] == 2 and saved["meta"]["seed"] == 1
    assert "optimizer" not in saved


class _FilesAfterEachEpoch(Hook):
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.seen: list[list[str]] = []

    def after_train_epoch(self, runner: Any) -> None:
        self.seen.append(files(self.folder))


def test_resume_takes_up_mmcv_hook_msgs(tmp_path: Path) -> None:
    first = mmcv_runner(tmp_path, epochs=2, meta={})
    first.register_checkpoint_hook(dict(interval=1))
    first.register_hook(EvalHook(loader(Points(4, scores=[0.5, 0.3])), save_best="acc",
                                 metric="acc"), priority="LOW")  # fmt: skip
    first.run([train_data()], [("train", 1)])
    # An MMCV checkpoint has no message hub: the best lives in meta['hook_msgs'] only.
    path = tmp_path / "epoch_2.pth"
    checkpoint = torch.load(path, weights_only=False)
    del checkpoint["message_hub"]
    torch.save(checkpoint, path)
    assert checkpoint["meta"]["hook_msgs"]["best_score"] == 0.5
    for score, expected in ((0.4, "best_acc_epoch_1.pth"), (0.6, "best_acc_epoch_3.pth")):
        runner = mmcv_runner(tmp_path, epochs=3)
        runner.register_hook(EvalHook(loader(Points(4, scores=[score])), save_best="acc",
                                      metric="acc"), priority="LOW")  # fmt: skip
        runner.resume(str(path))
        runner.run([train_data()], [("train", 1)])
        assert [f for f in files(tmp_path) if f.startswith("best")] == [expected], score


def test_on_the_mmengine_style_runner_with_a_test_fn(tmp_path: Path) -> None:
    val = Points(6, scores=[0.25, 0.75])
    calls: list[int] = []

    def test_fn(model: Any, data_loader: Any) -> list[int]:
        calls.append(len(data_loader.dataset))
        return list(range(len(data_loader.dataset)))

    hook = EvalHook(loader(val), save_best="auto", test_fn=test_fn, metric="mAP")
    runner = Runner(**eval_runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=2),
                                         val_dataloader=None, val_cfg=None, val_evaluator=None),
                    default_hooks=dict(checkpoint=None), custom_hooks=[hook])  # fmt: skip
    runner.train()
    assert calls == [6, 6] and val.calls[0]["results"] == list(range(6))
    assert list(runner.message_hub.get_scalar("val/mAP").data[0]) == [0.25, 0.75]
    assert files(tmp_path) == ["best_mAP_epoch_2.pth"]
    assert runner.message_hub.get_info("eval_best_ckpt") == str(tmp_path / "best_mAP_epoch_2.pth")


# ------------------------------------------------------------ errors
class NoEvaluate(torch.utils.data.Dataset):  # type: ignore[type-arg]
    def __len__(self) -> int:
        return 2

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"img": torch.zeros(2)}


def test_a_dataset_without_evaluate_is_named_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"NoEvaluate, has no evaluate.*get \['metric'\].*add one"):
        EvalHook(loader(NoEvaluate()), metric="accuracy")
    # From a config, the loader is built when training starts, and checked then.
    runner = mmcv_runner(tmp_path, epochs=1)
    runner.register_hook(EvalHook(dict(dataset=NoEvaluate(), batch_size=2)), priority="LOW")
    with pytest.raises(TypeError, match="NoEvaluate, has no evaluate"):
        runner.run([train_data()], [("train", 1)])


def test_a_dataloader_config_is_built_by_the_runner(tmp_path: Path) -> None:
    val = Points(4)
    hook = EvalHook(dict(dataset=val, batch_size=2, sampler=dict(type="DefaultSampler",
                                                                 shuffle=False),
                         collate_fn=dict(type="default_collate")))  # fmt: skip
    runner = mmcv_runner(tmp_path, epochs=1)
    runner.register_hook(hook, priority="LOW")
    runner.run([train_data()], [("train", 1)])
    assert len(hook.dataloader) == 2
    assert [r["index"] for r in val.calls[0]["results"]] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((2,), {}, TypeError, r"got int; to validate with the runner's val loop give no"),
        ((), {"test_fn": single_gpu_test}, ValueError, r"\['test_fn'\] without a dataloader"),
        ((), {"save_best": 3}, TypeError, "save_best must be"),
        ((), {"file_client_args": {"backend": "petrel"}}, ValueError, "remote storage"),
    ],
)
def test_bad_arguments(args: tuple[Any, ...], kwargs: dict[str, Any], error: type[Exception],
                       match: str) -> None:  # fmt: skip
    with pytest.raises(error, match=match):
        EvalHook(*args, **kwargs)


# ------------------------------------------------------------ the distributed hook, alone
def test_dist_eval_hook_alone_equals_eval_hook(tmp_path: Path) -> None:
    metrics = []
    for hook_type in (EvalHook, DistEvalHook):
        val = Points(12, seed=2)
        runner = mmcv_runner(tmp_path / hook_type.__name__, epochs=2, batchnorm=True)
        runner.register_hook(hook_type(loader(val), save_best="accuracy"), priority="LOW")
        runner.run([train_data()], [("train", 1)])
        metrics.append([call["results"] for call in val.calls])
        assert runner.meta["hook_msgs"]["best_ckpt"].startswith(str(tmp_path / hook_type.__name__))
    assert metrics[0] == metrics[1]


def test_dist_eval_hook_passes_tmpdir_and_gpu_collect(tmp_path: Path) -> None:
    got: list[dict[str, Any]] = []

    def test_fn(model: Any, data_loader: Any, **kwargs: Any) -> list[Any]:
        got.append(kwargs)
        return multi_gpu_test(model, data_loader, **kwargs)

    for options, expected in (({}, str(tmp_path / ".eval_hook")), ({"tmpdir": "x"}, "x")):
        runner = mmcv_runner(tmp_path, epochs=1)
        runner.register_hook(DistEvalHook(loader(Points(4)), test_fn=test_fn, **options))
        runner.run([train_data()], [("train", 1)])
        assert got[-1] == {"tmpdir": expected, "gpu_collect": False}
    with pytest.raises(TypeError, match="DistEvalHook needs a dataloader"):
        DistEvalHook(None)


def test_test_functions_concatenate_per_sample_results() -> None:
    torch.manual_seed(0)
    model, data = MMCVClassifier(), Points(10)
    model.train()
    results = single_gpu_test(model, loader(data, batch_size=4))
    assert not model.training
    assert [r["pred"] for r in results] == model.predict(data).tolist()
    assert multi_gpu_test(model, loader(data, batch_size=3), gpu_collect=True) == results
