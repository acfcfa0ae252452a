"""Seed 004 (an MMCV-era library's runtime tutorial): workflows, default and custom hooks.

Each block runs on `EpochBasedRunner` (``mmcv.runner`` imports changed) and,
where it is a config key, also as a whole config through ``Runner.from_cfg``
with the MMEngine-style `EngineNet`; both must show the block's effect.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from parts import AccEvaluator, Points, engine_cfg, loader, mmcv_runner, state, train_loader
from run_logs import json_records
from tensorboard.backend.event_processing import event_accumulator as ea

from hooks_core import Config, Hook, Runner, get_priority

VAL = dict(dataset=Points(8, seed=2), batch_size=4, sampler=dict(type="DefaultSampler",
           shuffle=False), collate_fn=dict(type="default_collate"))  # fmt: skip


def pth(folder: Path | str) -> list[str]:
    return sorted(p.name for p in Path(folder).glob("*.pth"))


class Modes(Hook):
    """Records each generic MMCV point with whether the model was training (train or val)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.weights: list[dict[str, torch.Tensor]] = []

    def before_epoch(self, runner: Any) -> None:
        self.calls.append(("before_epoch", runner.model.training))
        self.weights.append(state(runner.model))

    def after_epoch(self, runner: Any) -> None:
        self.calls.append(("after_epoch", runner.model.training))
        self.weights.append(state(runner.model))


def epochs_of(calls: list[tuple[str, bool]]) -> list[str]:
    return ["train" if training else "val" for point, training in calls if point == "after_epoch"]


# ------------------------------------------------------------ 定制工作流
def test_workflow_train_1(tmp_path: Path) -> None:
    workflow = [('train', 1)]  # fmt: skip
    runner = mmcv_runner(tmp_path, max_epochs=2, steps_itself=True)
    modes = Modes()
    runner.register_hook(modes)
    runner.run([train_loader()], workflow)
    assert epochs_of(modes.calls) == ["train", "train"]
    assert runner.iter == 4


@pytest.mark.parametrize(
    ("workflow", "expected"),
    [
        ([("train", 1), ("val", 1)], ["train", "val"] * 4),
        ([("train", 2), ("val", 1)], ["train", "train", "val"] * 2),
    ],
    ids=["train_1_val_1", "train_2_val_1"],
)
def test_workflow_with_val(tmp_path: Path, workflow: Any, expected: list[str]) -> None:
    runner = mmcv_runner(tmp_path, max_epochs=4, steps_itself=True)
    modes = Modes()
    runner.register_hook(modes)
    runner.run([train_loader(), loader(Points(8, seed=2))], workflow)
    assert epochs_of(modes.calls) == expected  # max_epochs counts training epochs only
    for i, (point, training) in enumerate(modes.calls):
        if point == "after_epoch" and not training:  # 在验证周期时不会更新模型参数
            torch.testing.assert_close(modes.weights[i], modes.weights[i - 1], rtol=0, atol=0)


@pytest.mark.parametrize(
    ("workflow", "validated"),
    [([("train", 1), ("val", 1)], 4), ([("train", 2), ("val", 1)], 2)],
    ids=["1", "2"],
)
def test_workflow_through_from_cfg(tmp_path: Path, workflow: Any, validated: int) -> None:
    evaluator = AccEvaluator()
    cfg = engine_cfg(tmp_path, max_epochs=4, workflow=workflow, val_dataloader=VAL,
                     val_cfg=dict(), val_evaluator=evaluator)  # fmt: skip
    modes = Modes()
    cfg["custom_hooks"] = [modes]
    Runner.from_cfg(cfg).train()
    assert len(evaluator.results) == validated
    per_val = ["train"] * (4 // validated) + ["val"]
    assert epochs_of(modes.calls) == per_val * validated


# ------------------------------------------------------------ 权重文件钩子
def test_checkpoint_config_interval_1(tmp_path: Path) -> None:
    checkpoint_config = dict(interval=1)
    runner = mmcv_runner(tmp_path / "a", max_epochs=3, steps_itself=True)
    runner.register_checkpoint_hook(checkpoint_config)
    runner.run([train_loader()], [("train", 1)])
    assert pth(runner.work_dir) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth", "latest.pth"]

    runner = Runner.from_cfg(engine_cfg(tmp_path / "b", 3, checkpoint_config=checkpoint_config))
    runner.train()
    assert pth(runner.work_dir) == ["epoch_1.pth", "epoch_2.pth", "epoch_3.pth"]
    saved = torch.load(Path(runner.work_dir) / "epoch_2.pth", weights_only=False)
    assert (saved["meta"]["epoch"], saved["meta"]["iter"]) == (2, 4)


# ------------------------------------------------------------ 日志钩子
def check_logged_every_50(runner: Any) -> None:
    assert [r["step"] for r in json_records(runner) if "loss" in r] == [50, 100]
    events = ea.EventAccumulator(str(tb_folder(runner)), size_guidance={ea.SCALARS: 0})
    events.Reload()
    assert [e.step for e in events.Scalars("loss")] == [50, 100]


def tb_folder(runner: Any) -> Path:
    return next(Path(runner.work_dir).rglob("events.out.tfevents.*")).parent


def test_log_config_text_and_tensorboard_every_50(tmp_path: Path) -> None:
    log_config = dict(
        interval=50,
        hooks=[
            dict(type='TextLoggerHook'),
            dict(type='TensorboardLoggerHook')
        ])  # fmt: skip
    runner = mmcv_runner(tmp_path / "a", max_epochs=1, steps_itself=True)
    runner.register_logger_hooks(log_config)
    runner.run([loader(Points(100, seed=1), batch_size=1)], [("train", 1)])
    check_logged_every_50(runner)

    data = dict(dataset=Points(100, seed=1), batch_size=1, collate_fn=dict(type="default_collate"))
    cfg = engine_cfg(tmp_path / "b", 1, log_config=log_config, train_dataloader=data)
    runner = Runner.from_cfg(cfg)
    runner.train()
    check_logged_every_50(runner)


# ------------------------------------------------------------ 验证钩子
def eval_runs(tmp_path: Path, evaluation: dict[str, Any], epochs: int, **points: Any) -> Any:
    """The evaluation config on EpochBasedRunner (as mmcls registers it) and through from_cfg."""
    from hooks_eval import EvalHook  # from mmcv.runner import EvalHook

    runs = []
    dataset = Points(8, seed=2, **points)
    runner = mmcv_runner(tmp_path / "a", max_epochs=epochs, steps_itself=True)
    dataset.clock = lambda: runner.iter
    runner.register_hook(EvalHook(loader(dataset), **evaluation), priority="LOW")
    runner.run([loader(Points(4, seed=1))], [("train", 1)])  # one iteration per epoch
    runs.append((runner, dataset))

    dataset = Points(8, seed=2, **points)
    data = dict(samples_per_gpu=4, workers_per_gpu=0, val=dataset)
    train = dict(dataset=Points(4, seed=1), batch_size=4, collate_fn=dict(type="default_collate"))
    cfg = engine_cfg(tmp_path / "b", epochs, evaluation=evaluation, data=data,
                     train_dataloader=train)  # fmt: skip
    runner = Runner.from_cfg(cfg)
    dataset.clock = lambda: runner.iter
    runner.train()
    runs.append((runner, dataset))
    return runs


def test_evaluation_interval_1_metric_accuracy(tmp_path: Path) -> None:
    evaluation = dict(interval=1, metric='accuracy', metric_options={'topk': (1, )})  # fmt: skip
    for runner, dataset in eval_runs(tmp_path, evaluation, 3):
        assert [call["at"] for call in dataset.calls] == [1, 2, 3]
        assert {(c["metric"], str(c["metric_options"])) for c in dataset.calls} == {
            ("accuracy", "{'topk': (1,)}")}  # fmt: skip
        expected = float((runner.model.net(dataset.img).argmax(1) == dataset.label).float().mean())
        assert runner.message_hub.get_scalar("val/accuracy_top-1").current() == expected


def test_evaluation_save_best_true(tmp_path: Path) -> None:
    evaluation = dict(interval=1, save_best=True, metric="accuracy", metric_options={"topk": (1,)})
    for runner, _ in eval_runs(tmp_path, evaluation, 4, scores=[0.5, 0.875, 0.25, 0.75]):
        best = [n for n in pth(runner.work_dir) if n.startswith("best_")]
        assert best == ["best_accuracy_top-1_epoch_2.pth"]  # 'auto': the first metric


def test_evaluation_start_200(tmp_path: Path) -> None:
    evaluation = dict(interval=1, start=200, metric="accuracy", metric_options={"topk": (1,)})
    for _, dataset in eval_runs(tmp_path, evaluation, 201):
        # 在第 200 轮之前, 只执行训练流程; 从轮次 200 开始, 在每一轮训练之后进行验证
        assert [call["at"] for call in dataset.calls] == [200, 201]


# ------------------------------------------------------------ 使用内置钩子
def test_custom_hooks_ema_interval_100_priority_high(tmp_path: Path) -> None:
    custom_hooks = [
        dict(type='EMAHook', interval=100, priority='HIGH')
    ]  # fmt: skip
    runner = mmcv_runner(tmp_path, max_epochs=2, steps_itself=True)
    start = state(runner.model)
    runner.register_custom_hooks(custom_hooks)
    assert [type(h).__name__ for h in runner.hooks][:2] == ["RuntimeInfoHook", "EMAHook"]
    seen = []

    class Sees(Hook):
        def after_train_epoch(self, runner: Any) -> None:
            seen.append(state(runner.model))

    runner.register_hook(Sees(), priority="LOWEST")
    runner.run([train_loader()], [("train", 1)])
    # MMCV stores momentum ** interval (0.0002 ** 100 == 0.0): the average never moves
    # from the starting weights, and evaluations after each epoch see those.
    assert 0.0002**100 == 0.0
    for weights in seen:
        torch.testing.assert_close(weights, start, rtol=0, atol=0)


# ------------------------------------------------------------ 自定义钩子
MY_HOOK = """
from hooks_core import HOOKS, Hook


@HOOKS.register_module()
class MyHook(Hook):

    def __init__(self, a, b):
        self.a, self.b = a, b
        self.calls = []

    def before_run(self, runner):
        self.calls.append(("before_run", runner.model.training))

    def after_run(self, runner):
        self.calls.append(("after_run", runner.model.training))

    def before_epoch(self, runner):
        self.calls.append(("before_epoch", runner.model.training))

    def after_epoch(self, runner):
        self.calls.append(("after_epoch", runner.model.training))

    def before_iter(self, runner):
        self.calls.append(("before_iter", runner.model.training))

    def after_iter(self, runner):
        self.calls.append(("after_iter", runner.model.training))
"""


@pytest.fixture(scope="module")
def my_hook_folder(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``mmcls/core/utils/my_hook.py`` (the seed's MyHook, counting its calls) and the config
    that imports it; imported once per process, as MyHook registers itself."""
    folder = tmp_path_factory.mktemp("project")
    utils = folder / "mmcls" / "core" / "utils"
    utils.mkdir(parents=True)
    (utils / "my_hook.py").write_text(MY_HOOK)
    (utils / "__init__.py").write_text("from .my_hook import MyHook\n\n__all__ = ['MyHook']\n")
    (folder / "config.py").write_text(
        "custom_imports = dict(imports=['mmcls.core.utils.my_hook'], allow_failed_imports=False)\n"
        "custom_hooks = [\n    dict(type='MyHook', a=1, b=2, priority='NORMAL')\n]\n"
    )
    yield folder
    for name in [n for n in sys.modules if n == "mmcls" or n.startswith("mmcls.")]:
        del sys.modules[name]
    if str(folder) in sys.path:
        sys.path.remove(str(folder))


def expected_calls() -> list[tuple[str, bool]]:
    """MyHook's calls over 2 epochs of workflow [('train', 1), ('val', 1)], 2 batches each."""

    def epoch(training: bool) -> list[tuple[str, bool]]:
        its = [("before_iter", training), ("after_iter", training)] * 2
        return [("before_epoch", training), *its, ("after_epoch", training)]

    return [("before_run", False), *(epoch(True) + epoch(False)) * 2, ("after_run", False)]


def my_hook_of(runner: Any) -> Any:
    return next(h for h in runner.hooks if type(h).__name__ == "MyHook")


def test_my_hook_through_custom_imports_on_both_runners(
    tmp_path: Path, my_hook_folder: Path
) -> None:
    cfg = Config.fromfile(str(my_hook_folder / "config.py"))  # imports custom_imports
    # via the package's __init__ too (the other way the seed gives): the same class
    utils = importlib.import_module("mmcls.core.utils")
    runner = mmcv_runner(tmp_path / "a", max_epochs=2, steps_itself=True)
    runner.register_custom_hooks(cfg.custom_hooks)
    hook = my_hook_of(runner)
    assert isinstance(hook, utils.MyHook) and (hook.a, hook.b) == (1, 2)
    assert get_priority(hook.priority) == 50
    runner.model.eval()  # so before_run shows the state the runner starts from
    runner.run([train_loader(), loader(Points(8, seed=2))], [("train", 1), ("val", 1)])
    assert hook.calls[1:-1] == expected_calls()[1:-1]
    expected_iters = [training for point, training in hook.calls if point == "after_iter"]

    engine = engine_cfg(tmp_path / "b", 2, workflow=[("train", 1), ("val", 1)],
                        val_dataloader=VAL, val_cfg=dict(), val_evaluator=AccEvaluator(),
                        custom_hooks=list(cfg.custom_hooks))  # fmt: skip
    runner = Runner.from_cfg(engine)
    runner.train()
    calls = my_hook_of(runner).calls
    # the same points; MMEngine's val loop switches the model to eval after before_val_epoch
    assert [point for point, _ in calls] == [point for point, _ in expected_calls()]
    assert [training for point, training in calls if point == "after_iter"] == expected_iters


def test_custom_hooks_priority_order(tmp_path: Path, my_hook_folder: Path) -> None:
    Config.fromfile(str(my_hook_folder / "config.py"))
    custom_hooks = [
        dict(type='MyHook', a=1, b=2),
        dict(type='MyHook', a=3, b=4, priority='VERY_HIGH'),
        dict(type='MyHook', a=5, b=6, priority='NORMAL'),
    ]  # fmt: skip
    runner = mmcv_runner(tmp_path, max_epochs=1, steps_itself=True)
    runner.register_training_hooks(None, checkpoint_config=dict(interval=1),
                                   custom_hooks_config=custom_hooks)  # fmt: skip
    order = [(type(h).__name__, getattr(h, "a", None)) for h in runner.hooks]
    # by priority, then registration order: VERY_HIGH first; NORMAL ones after the
    # checkpoint hook (NORMAL, registered before them) and before the timer (LOW)
    assert order == [("MyHook", 3), ("RuntimeInfoHook", None), ("CheckpointHook", None),
                     ("MyHook", 1), ("MyHook", 5), ("IterTimerHook", None)]  # fmt: skip


# ------------------------------------------------------------ resume_from / load_from
def test_resume_continues_as_if_uninterrupted(tmp_path: Path) -> None:
    whole = mmcv_runner(tmp_path / "whole", max_epochs=4, steps_itself=True)
    whole.register_checkpoint_hook(dict(interval=1))
    whole.run([train_loader()], [("train", 1)])

    runner = mmcv_runner(tmp_path / "resumed", max_epochs=4, steps_itself=True)
    runner.resume(str(Path(whole.work_dir) / "epoch_2.pth"))
    modes = Modes()
    runner.register_hook(modes)
    runner.run([train_loader()], [("train", 1)])
    assert (runner.epoch, runner.iter, len(epochs_of(modes.calls))) == (4, 8, 2)
    torch.testing.assert_close(state(runner.model), state(whole.model), rtol=0, atol=0)


def test_resume_from_and_load_from_through_from_cfg(tmp_path: Path) -> None:
    whole = Runner.from_cfg(engine_cfg(tmp_path / "whole", 4, checkpoint_config=dict(interval=1)))
    whole.train()
    checkpoint = str(tmp_path / "whole" / "epoch_2.pth")

    resumed = Runner.from_cfg(engine_cfg(tmp_path / "resumed", 4, resume_from=checkpoint))
    modes = Modes()
    resumed.register_hook(modes)
    resumed.train()
    assert (resumed.epoch, resumed.iter, len(epochs_of(modes.calls))) == (4, 8, 2)
    torch.testing.assert_close(state(resumed.model), state(whole.model), rtol=0, atol=0)

    loaded = Runner.from_cfg(engine_cfg(tmp_path / "loaded", 2, load_from=checkpoint))
    modes = Modes()
    loaded.register_hook(modes)
    loaded.train()  # the weights only: two epochs from epoch 0
    assert (loaded.epoch, loaded.iter, len(epochs_of(modes.calls))) == (2, 4, 2)
    torch.testing.assert_close(state(loaded.model), state(whole.model), rtol=0, atol=0)
