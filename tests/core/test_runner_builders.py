"""The Runner's MMEngine API: its overridable builders, constructor options and defaults."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from toy import (
    MseEvaluator,
    PlainOptimWrapper,
    SaveEveryIter,
    ToyDataset,
    ToyModel,
    runner_kwargs,
)

from hooks_core import MODELS, PARAM_SCHEDULERS, NotRegisteredError, Runner, load_config
from hooks_core.dataset import worker_init_fn
from hooks_core.registry import VISUALIZERS
from hooks_core.runner import EpochBasedTrainLoop, IterBasedTrainLoop
from hooks_core.utils import ManagerMixin


class KeepLr:
    """A parameter scheduler that changes nothing: the least `build_param_scheduler` returns."""

    def __init__(self, optim_wrapper: Any) -> None:
        self.optim_wrapper = optim_wrapper

    def step(self) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


class TinyVisualizer(ManagerMixin):
    """A visualizer with MMEngine's constructor, standing in for hooks-logging's `Visualizer`."""

    def __init__(self, name: str = "visualizer", image: Any = None, vis_backends: Any = None,
                 save_dir: str | None = None) -> None:  # fmt: skip
        super().__init__(name)
        self.vis_backends = vis_backends
        self.save_dir = save_dir
        self.configs: list[Any] = []

    def add_config(self, config: Any) -> None:
        self.configs.append(config)


@pytest.fixture
def own_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a test register models and visualizers without leaking them."""
    for registry in (MODELS, VISUALIZERS, PARAM_SCHEDULERS):
        monkeypatch.setattr(registry, "_modules", dict(registry._modules))


@pytest.fixture
def tiny_visualizer(own_registries: None) -> type[TinyVisualizer]:
    VISUALIZERS.register_module(name="Visualizer", module=TinyVisualizer)
    return TinyVisualizer


def full_kwargs(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A run that trains (with a scheduler), validates and tests: every builder has work."""
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1), **overrides)
    kwargs.update(param_scheduler=[KeepLr(kwargs["optim_wrapper"])],
                  test_dataloader=kwargs["val_dataloader"], test_cfg=dict(),
                  test_evaluator=MseEvaluator())  # fmt: skip
    return kwargs


# ------------------------------------------------------------ overridable builders
def test_every_builder_is_a_method_a_subclass_overrides(tmp_path: Path) -> None:
    calls: list[str] = []

    class Recording(Runner):
        def build_logger(self, log_level: Any = "INFO", log_file: Any = None, **kwargs: Any) -> Any:
            calls.append("build_logger")
            return super().build_logger(log_level, log_file, **kwargs)

        def build_message_hub(self, message_hub: Any = None) -> Any:
            calls.append("build_message_hub")
            return super().build_message_hub(message_hub)

        def build_model(self, model: Any) -> Any:
            calls.append("build_model")
            return super().build_model(model)

        def wrap_model(self, model_wrapper_cfg: Any, model: Any) -> Any:
            calls.append("wrap_model")
            return super().wrap_model(model_wrapper_cfg, model)

        def build_optim_wrapper(self, optim_wrapper: Any) -> Any:
            calls.append("build_optim_wrapper")
            return super().build_optim_wrapper(optim_wrapper)

        def scale_lr(self, optim_wrapper: Any, auto_scale_lr: Any = None) -> None:
            calls.append("scale_lr")
            super().scale_lr(optim_wrapper, auto_scale_lr)

        def build_param_scheduler(self, scheduler: Any) -> Any:
            calls.append("build_param_scheduler")
            return super().build_param_scheduler(scheduler)

        def build_dataloader(self, dataloader: Any, seed: Any = None,  # type: ignore[override]
                             diff_rank_seed: bool = False) -> Any:  # fmt: skip
            calls.append(f"build_dataloader(seed={seed})")
            return super().build_dataloader(dataloader, seed, diff_rank_seed)

        def build_evaluator(self, evaluator: Any) -> Any:
            calls.append("build_evaluator")
            return super().build_evaluator(evaluator)

        def build_train_loop(self, loop: Any) -> Any:
            calls.append("build_train_loop")
            return super().build_train_loop(loop)

        def build_val_loop(self, loop: Any) -> Any:
            calls.append("build_val_loop")
            return super().build_val_loop(loop)

        def build_test_loop(self, loop: Any) -> Any:
            calls.append("build_test_loop")
            return super().build_test_loop(loop)

        def build_visualizer(self, visualizer: Any = None) -> Any:
            calls.append("build_visualizer")
            return "visualizer"

        def build_log_processor(self, log_processor: Any) -> Any:
            calls.append("build_log_processor")
            return "log processor"

    runner = Recording(**full_kwargs(tmp_path))
    assert calls == ["build_logger", "build_message_hub", "build_model", "wrap_model"]
    runner.train()
    seeded = "build_dataloader(seed=1234)"  # the loops pass the run's seed
    assert calls[4:] == ["build_train_loop", seeded, "build_optim_wrapper", "scale_lr",
                         "build_param_scheduler", "build_val_loop", seeded,
                         "build_evaluator"]  # fmt: skip
    runner.test()
    assert calls[12:] == ["build_test_loop", seeded, "build_evaluator"]
    assert (runner.visualizer, runner.log_processor) == ("visualizer", "log processor")
    assert runner.visualizer == "visualizer" and calls[15:] == [
        "build_visualizer", "build_log_processor"]  # built once  # fmt: skip
    assert isinstance(runner.param_schedulers[0], KeepLr)


def test_build_dataloader_is_a_static_method_seeded_for_exact_order() -> None:
    config = dict(dataset=list(range(12)), batch_size=4)  # DefaultSampler(shuffle=True)
    first = [batch for batch in Runner.build_dataloader(config, seed=3)]
    assert first == list(Runner.build_dataloader(config, seed=3))  # a seed fixes the order
    assert first != list(Runner.build_dataloader(config, seed=4))
    assert sorted(i for batch in first for i in batch) == list(range(12))
    unseeded = Runner.build_dataloader(config)  # a drawn seed, shared by the ranks
    assert isinstance(unseeded.sampler.seed, int)
    init = Runner.build_dataloader(config, seed=3).worker_init_fn
    assert init.func is worker_init_fn and init.keywords["seed"] == 3  # MMEngine's seeding
    assert list(Runner.build_dataloader(config, seed=3, diff_rank_seed=True)) == first
    ready = torch.utils.data.DataLoader(list(range(3)))
    assert Runner.build_dataloader(ready) is ready


def test_worker_init_fn_seeds_each_worker_by_rank_and_id() -> None:
    worker_init_fn(worker_id=1, num_workers=2, rank=1, seed=10)  # 2 * 1 + 1 + 10
    assert torch.initial_seed() == 13


def test_build_dataloader_reads_batch_sampler_and_num_batch_per_epoch() -> None:
    config = dict(dataset=list(range(10)), sampler=dict(type="DefaultSampler", shuffle=False),
                  batch_sampler=dict(type="torch.utils.data.BatchSampler", drop_last=False),
                  batch_size=3)  # fmt: skip
    assert list(Runner.build_dataloader(config, seed=0)) == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9]]
    sliced = Runner.build_dataloader(
        dict(dataset=list(range(10)), batch_size=3, num_batch_per_epoch=2, shuffle=False), seed=0
    )
    assert list(sliced) == [[0, 1, 2], [3, 4, 5]]


def test_a_model_receives_lists_by_default_and_tensors_with_default_collate(
    tmp_path: Path,
) -> None:
    seen: list[type] = []

    class Recording(ToyModel):
        def forward(self, inputs: Any, targets: Any = None, mode: str = "tensor") -> Any:
            seen.append(type(inputs))
            return super().forward(inputs, targets, mode)

    torch.manual_seed(0)
    runner = Runner(**runner_kwargs(tmp_path, model=Recording()))
    runner.val()
    assert seen == [list, list]  # two validation batches, as pseudo_collate gave them
    batch = next(iter(runner.val_dataloader))
    assert len(batch["inputs"]) == 8 and batch["inputs"][0].shape == (4,)

    seen.clear()
    kwargs = runner_kwargs(tmp_path, model=Recording())
    kwargs["val_dataloader"]["collate_fn"] = dict(type="default_collate")
    Runner(**kwargs).val()
    assert seen == [torch.Tensor, torch.Tensor]


# ------------------------------------------------------------ auto_scale_lr
def test_scale_lr_scales_by_the_real_batch_size_over_the_base_one(tmp_path: Path) -> None:
    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1), log_level="INFO")
    runner = Runner(**kwargs, auto_scale_lr=dict(base_batch_size=32, enable=True))
    optimizer = runner.optim_wrapper.optimizer
    runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * 8 / 32)  # batch 8, 1 rank
    log = (Path(runner.log_dir) / f"{runner.timestamp}.log").read_text()
    assert "batch size of 32 and the batch size is 8" in log and "scaled by 0.25" in log
    runner.scale_lr(runner.optim_wrapper, dict(base_batch_size=32))  # enable defaults to False
    runner.scale_lr(runner.optim_wrapper, None)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)
    with pytest.raises(ValueError, match="needs 'base_batch_size'"):
        runner.scale_lr(runner.optim_wrapper, dict(enable=True))


@pytest.mark.usefixtures("own_registries")
def test_train_scales_every_wrapper_before_building_the_schedulers(tmp_path: Path) -> None:
    class Pair:
        """Two optimizer wrappers by name, as an OptimWrapperDict holds them."""

        def __init__(self, **wrappers: PlainOptimWrapper) -> None:
            self.wrappers = wrappers

        def items(self) -> Any:
            return self.wrappers.items()

        def update_params(self, loss: torch.Tensor) -> None:
            self.wrappers["net"].update_params(loss)

    lrs: dict[str, float] = {}

    @PARAM_SCHEDULERS.register_module()
    class RecordLr(KeepLr):
        def __init__(self, optimizer: Any, end: int, by_epoch: bool = True) -> None:
            super().__init__(optimizer)
            name = "net" if optimizer is first else "head"
            lrs[name] = optimizer.optimizer.param_groups[0]["lr"]

    torch.manual_seed(0)
    model = ToyModel()
    first = PlainOptimWrapper(torch.optim.SGD(model.net[0].parameters(), lr=0.1))
    second = PlainOptimWrapper(torch.optim.SGD(model.net[-1].parameters(), lr=0.2))
    kwargs = runner_kwargs(tmp_path, model=model, optim_wrapper=Pair(net=first, head=second),
                           train_cfg=dict(by_epoch=True, max_epochs=1),
                           param_scheduler=[dict(type="RecordLr")])  # fmt: skip
    runner = Runner(**kwargs, auto_scale_lr=dict(base_batch_size=4, enable=True))
    runner.train()
    assert lrs == pytest.approx({"net": 0.2, "head": 0.4})  # batch 8 / base 4, then scheduled
    # The same scheduler configs for every wrapper of the dict, as MMEngine builds them.
    assert sorted(runner.param_schedulers) == ["head", "net"]
    assert isinstance(runner.param_schedulers["head"][0], RecordLr)


def test_scale_lr_refuses_to_run_after_the_schedulers_are_built(tmp_path: Path) -> None:
    kwargs = full_kwargs(tmp_path)
    runner = Runner(**kwargs, auto_scale_lr=dict(base_batch_size=8, enable=True))
    with pytest.raises(RuntimeError, match="before the parameter schedulers are built"):
        runner.scale_lr(runner.optim_wrapper, runner.auto_scale_lr)
    with pytest.raises(TypeError, match="needs the built optimizer wrapper"):
        Runner(**runner_kwargs(tmp_path)).scale_lr(dict(type="OptimWrapper"), dict(
            base_batch_size=8, enable=True))  # fmt: skip


# ------------------------------------------------------------ model options
@pytest.mark.usefixtures("own_registries")
def test_data_preprocessor_is_set_on_a_model_built_from_a_config(tmp_path: Path) -> None:
    @MODELS.register_module()
    class Preprocessed(ToyModel):
        def __init__(self, data_preprocessor: Any = None) -> None:
            super().__init__()
            self.given = data_preprocessor

    config = dict(type="Preprocessed")
    runner = Runner(model=config, work_dir=str(tmp_path), data_preprocessor=dict(mean=1.0))
    assert runner.model.given == dict(mean=1.0) and config == dict(type="Preprocessed")
    own = dict(type="Preprocessed", data_preprocessor=dict(mean=2.0))
    runner = Runner(model=own, work_dir=str(tmp_path), data_preprocessor=dict(mean=1.0))
    assert runner.model.given == dict(mean=2.0)  # the model's own config wins
    assert runner.model_name == "Preprocessed"


def test_wrap_model_refuses_a_wrapper_config_for_a_wrapped_model(tmp_path: Path) -> None:
    runner = Runner(ToyModel(), str(tmp_path))
    wrapped = torch.nn.DataParallel(ToyModel())
    assert runner.wrap_model(None, wrapped) is wrapped
    with pytest.raises(TypeError, match=r"already wrapped \(DataParallel\)"):
        runner.wrap_model(dict(type="MMDistributedDataParallel"), wrapped)
    model = ToyModel()
    assert runner.wrap_model(dict(type="MMDistributedDataParallel"), model) is model  # one rank


def test_the_train_loop_config_picks_the_loop_as_mmengine_does(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    assert isinstance(runner.build_train_loop(dict(by_epoch=False, max_iters=3)),
                      IterBasedTrainLoop)  # fmt: skip
    both = dict(type="EpochBasedTrainLoop", by_epoch=True, max_epochs=1)  # a merged _base_
    assert isinstance(runner.build_train_loop(both), EpochBasedTrainLoop)
    with pytest.raises(RuntimeError, match="'type' or 'by_epoch', not both"):
        runner.build_train_loop(dict(type="EpochBasedTrainLoop", by_epoch=False, max_epochs=1))
    with pytest.raises(TypeError, match="train_cfg must be a loop or a dict"):
        runner.build_train_loop([("train", 1)])


# ------------------------------------------------------------ the visualizer
def test_the_visualizer_is_built_on_first_use_with_mmengine_defaults(
    tmp_path: Path, tiny_visualizer: type[TinyVisualizer]
) -> None:
    runner = Runner(**runner_kwargs(tmp_path), cfg=dict(note="kept"))
    assert not tiny_visualizer.check_instance_created(runner.experiment_name)  # not yet
    visualizer = runner.visualizer
    assert isinstance(visualizer, TinyVisualizer) and runner.visualizer is visualizer
    assert visualizer.instance_name == runner.experiment_name
    assert visualizer.save_dir == runner.log_dir
    assert visualizer.configs == [dict(note="kept")]
    assert TinyVisualizer.get_current_instance() is visualizer  # reachable by user code

    configured = Runner(**runner_kwargs(tmp_path), visualizer=dict(vis_backends=["local"]))
    assert configured.visualizer.vis_backends == ["local"]
    assert configured.visualizer.save_dir == configured.log_dir
    configured.visualizer = "replaced"
    assert configured.visualizer == "replaced"


def test_loops_hand_the_dataset_meta_to_the_evaluator_and_the_visualizer(
    tmp_path: Path, tiny_visualizer: type[TinyVisualizer]
) -> None:
    class Named(ToyDataset):
        metainfo: ClassVar[dict[str, list[str]]] = {"classes": ["y"]}

    kwargs = runner_kwargs(tmp_path)
    kwargs["val_dataloader"]["dataset"] = Named(16, seed=1)
    runner = Runner(**kwargs)
    assert runner.val_evaluator.dataset_meta == {"classes": ["y"]}  # MMEngine's ValLoop does it
    assert runner.visualizer.dataset_meta == {"classes": ["y"]}  # built after the loop: given it
    kwargs = runner_kwargs(tmp_path)
    kwargs.update(test_dataloader=dict(dataset=Named(8)), test_cfg=dict(),
                  test_evaluator=MseEvaluator())  # fmt: skip
    runner = Runner(**kwargs)
    visualizer = runner.visualizer  # built before the loop: the loop sets it
    assert not hasattr(visualizer, "dataset_meta")
    runner.test()
    assert visualizer.dataset_meta == {"classes": ["y"]}


@pytest.mark.skipif(importlib.util.find_spec("hooks_logging") is not None,
                    reason="hooks-logging provides the Visualizer")  # fmt: skip
def test_the_visualizer_without_hooks_logging_names_the_package(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))  # made fine: the visualizer is built on use
    with pytest.raises(NotRegisteredError, match=r"hooks-logging.*pip install"):
        runner.visualizer  # noqa: B018


# ------------------------------------------------------------ the other MMEngine options
def test_default_scope_is_a_default_scope_named_after_the_run(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    assert runner.default_scope.scope_name == "hooks_core"
    assert runner.default_scope.instance_name == runner.experiment_name
    assert Runner(**runner_kwargs(tmp_path), default_scope=None).default_scope is None


def test_from_cfg_reads_the_new_options(tmp_path: Path) -> None:
    cfg = runner_kwargs(tmp_path, auto_scale_lr=dict(base_batch_size=4), default_scope=None)
    runner = Runner.from_cfg(cfg)
    assert runner.auto_scale_lr == dict(base_batch_size=4) and runner.default_scope is None
    assert runner.experiment_name.startswith(runner.timestamp)  # no name: the time, as MMEngine


def test_bad_options_are_refused_when_the_runner_is_made(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"activation_checkpointing=\['net'\] \(recompute"):
        Runner(ToyModel(), str(tmp_path), cfg=dict(activation_checkpointing=["net"]))
    with pytest.raises(ValueError, match="needs a 'type'"):
        Runner(**runner_kwargs(tmp_path, param_scheduler=[dict(by_epoch=True)]))
    with pytest.raises(ValueError, match=r"env_cfg has keys \['cudnn'\]"):
        Runner(ToyModel(), str(tmp_path), env_cfg=dict(cudnn=True))
    with pytest.raises(TypeError, match="unexpected keyword argument 'sed'"):
        Runner(ToyModel(), str(tmp_path), randomness=dict(sed=1))


def test_randomness_and_the_run_attributes_are_mmengines(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path, randomness=dict(seed=7, deterministic=False)))
    assert (runner.seed, runner.deterministic) == (7, False)
    runner.set_randomness(8)
    assert runner.seed == 8 and torch.initial_seed() == 8
    assert (runner.val_interval, runner.val_begin) == (1, 1)
    runner.register_hooks(custom_hooks=[SaveEveryIter()])  # the defaults again, then these
    names = [type(hook).__name__ for hook in runner.hooks]
    assert len(names) == 7 and names.count("RuntimeInfoHook") == 2
    assert names[-1] == "SaveEveryIter"  # VERY_LOW: after every default hook


def test_checkpoints_go_to_local_storage_only(tmp_path: Path) -> None:
    runner = Runner(**runner_kwargs(tmp_path))
    path = runner.save_checkpoint(tmp_path, "a.pth", None, backend_args=dict(backend="local"))
    assert Path(path).is_file()
    with pytest.raises(ValueError, match="MMEngine's 'petrel' client, which is not supported"):
        runner.save_checkpoint(tmp_path, "b.pth", dict(backend="petrel"))


def test_a_config_file_is_dumped_into_the_work_dir(tmp_path: Path) -> None:
    config = tmp_path / "experiment.py"
    config.write_text("lr = 0.1\nschedule = dict(steps=[1, 2])\n")
    runner = Runner(**runner_kwargs(tmp_path / "work"), cfg=load_config(config))
    assert runner.cfg.filename == str(config) and runner.cfg.schedule.steps == [1, 2]  # a Config
    reloaded = load_config(Path(runner.work_dir) / "experiment.py")
    assert (reloaded["lr"], reloaded["schedule"]) == (0.1, {"steps": [1, 2]})
    assert runner.experiment_name.startswith("experiment_")  # named after the file
    untouched = config.read_text()
    Runner(**runner_kwargs(tmp_path), cfg=load_config(config))  # its own folder: not rewritten
    assert config.read_text() == untouched
