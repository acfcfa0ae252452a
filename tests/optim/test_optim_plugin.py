"""Installing hooks-optim is enough: its types build by name with no import in user code."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import textwrap
from importlib.metadata import distribution

import pytest

from hooks_core import HOOKS, NotRegisteredError
from hooks_core.registry import first_party_requirements


def run_python(code: str) -> object:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_declared_hooks_match_the_cores_install_hints() -> None:
    declared = {
        ep.name for ep in distribution("hooks-optim").entry_points if ep.group == "hooks_core.hook"
    }
    hinted = {
        name
        for name, requirement in first_party_requirements("hook").items()
        if requirement == "hooks-optim"
    }
    assert declared == hinted


def test_types_build_by_name_in_a_fresh_process() -> None:
    result = run_python(
        """
        import json, sys
        import torch
        from hooks_core import HOOKS, OPTIM_WRAPPERS, OPTIMIZERS, PARAM_SCHEDULERS
        imported_first = "hooks_optim" in sys.modules
        model = torch.nn.Linear(2, 1)
        wrapper = OPTIM_WRAPPERS.build(dict(
            type="OptimWrapper",
            optimizer=OPTIMIZERS.build(dict(type="SGD", params=model.parameters(), lr=0.1)),
        ))
        scheduler = PARAM_SCHEDULERS.build(dict(type="MultiStepLR", optimizer=wrapper,
                                                milestones=[1]))
        hooks = [type(HOOKS.build(cfg)).__name__ for cfg in (
            dict(type="ParamSchedulerHook"),
            dict(type="EMAHook", ema_type="StochasticWeightAverage"),
        )]
        print(json.dumps([imported_first, type(wrapper).__name__, type(scheduler).__name__,
                          hooks]))
        """
    )
    assert result == [
        False,
        "OptimWrapper",
        "MultiStepLR",
        ["ParamSchedulerHook", "EMAHook"],
    ]


def test_the_runner_gains_the_param_scheduler_default_hook(tmp_path: object) -> None:
    from hooks_core import Runner

    runner = Runner(model=torch_linear(), work_dir=str(tmp_path), log_level="WARNING")
    names = [type(hook).__name__ for hook in runner.hooks]
    assert names == [
        "RuntimeInfoHook",
        "IterTimerHook",
        "DistSamplerSeedHook",
        "ParamSchedulerHook",
    ]


def torch_linear() -> object:
    import torch

    return torch.nn.Linear(2, 1)


def test_a_runner_config_names_optim_types_without_importing_hooks_optim(tmp_path: object) -> None:
    result = run_python(
        f"""
        import json, sys
        import torch
        from hooks_core import BaseModel, Runner

        class Regression(BaseModel):
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(3, 1)

            def forward(self, inputs, targets=None, mode="tensor"):
                # MMEngine's default collate_fn (pseudo_collate) gives lists of tensors.
                out = self.linear(torch.stack(inputs))
                if mode == "loss":
                    loss = torch.nn.functional.mse_loss(out, torch.stack(targets))
                    return {{"loss": loss}}
                return out

        data = [{{"inputs": torch.randn(3), "targets": torch.randn(1)}} for _ in range(16)]
        runner = Runner(
            model=Regression(),
            work_dir={str(tmp_path)!r},
            train_dataloader=dict(dataset=data, batch_size=4),
            train_cfg=dict(by_epoch=True, max_epochs=2),
            optim_wrapper=dict(type="OptimWrapper",
                               optimizer=dict(type="SGD", lr=0.01, momentum=0.9)),
            param_scheduler=dict(type="MultiStepLR", milestones=[1], gamma=0.5),
            custom_hooks=[dict(type="EMAHook", ema_type="StochasticWeightAverage")],
            log_level="WARNING",
        )
        imported_before_train = "hooks_optim" in sys.modules
        runner.train()
        print(json.dumps([
            imported_before_train,
            type(runner.optim_wrapper).__name__,
            runner.optim_wrapper.get_lr()["lr"],
            sorted(type(h).__name__ for h in runner.hooks),
        ]))
        """
    )
    assert result == [
        True,  # the runner's default hooks pulled in the plugin, not user code
        "OptimWrapper",
        [0.005],
        ["DistSamplerSeedHook", "EMAHook", "IterTimerHook", "ParamSchedulerHook",
         "RuntimeInfoHook"],
    ]  # fmt: skip


def test_a_scheduler_without_end_runs_to_the_end_of_training(tmp_path: object) -> None:
    import torch
    from toy import runner_kwargs

    from hooks_core import Runner
    from hooks_optim import OptimWrapper

    kwargs = runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=4))
    kwargs["optim_wrapper"] = OptimWrapper(torch.optim.SGD(kwargs["model"].parameters(), lr=0.1))
    runner = Runner(
        **kwargs,
        param_scheduler=[
            dict(type="CosineAnnealingLR", eta_min=0.0),  # no T_max, no end: 4 epochs
            dict(type="LinearMomentum", by_epoch=False, start_factor=1.0, end_factor=1.0),
        ],
    )
    runner.train()
    cosine, linear = runner.param_schedulers
    assert (cosine.end, linear.end) == (4, 20)  # max_epochs, and max_iters for by_epoch=False
    # Epoch e trains at the cosine's value at step e: the last of 4 epochs at step 3.
    assert runner.optim_wrapper.get_lr()["lr"][0] == pytest.approx(
        0.1 * (1 + math.cos(math.pi * 3 / 4)) / 2
    )


def test_a_misspelt_satellite_hook_is_suggested_once() -> None:
    with pytest.raises(NotRegisteredError) as info:
        HOOKS.build({"type": "EMAHok"})
    assert str(info.value).count("'EMAHook'") == 1
    assert "Did you mean 'EMAHook'?" in str(info.value)
