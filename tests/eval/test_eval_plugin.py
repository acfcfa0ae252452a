"""Installing hooks-eval is enough: its types build by name with no import in user code."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from importlib.metadata import distribution
from typing import TYPE_CHECKING

import hooks_eval
from hooks_core.registry import first_party_requirements, registry_owners

if TYPE_CHECKING:
    from pathlib import Path


def run_python(code: str) -> object:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def declared(group: str) -> set[str]:
    return {ep.name for ep in distribution("hooks-eval").entry_points if ep.group == group}


def test_declared_names_match_the_cores_install_hints() -> None:
    hinted = {
        name
        for name, requirement in first_party_requirements("hook").items()
        if requirement == "hooks-eval"
    }
    assert declared("hooks_core.hook") == hinted
    owned = {registry for registry, owner in registry_owners().items() if owner == "hooks-eval"}
    assert owned == {"metric", "evaluator"}
    assert declared("hooks_core.metric") == {"Accuracy", "MeanSquaredError", "DumpResults"}
    assert declared("hooks_core.evaluator") == {"Evaluator"}


def test_top_level_names() -> None:
    for name in ("BaseMetric", "Evaluator", "CheckpointHook", "EvalHook", "EarlyStoppingHook",
                 "Accuracy", "MeanSquaredError", "DumpResults"):  # fmt: skip
        assert name in hooks_eval.__all__ and hasattr(hooks_eval, name)


def test_a_runner_config_uses_eval_types_without_importing_hooks_eval(tmp_path: Path) -> None:
    result = run_python(
        f"""
        import json, sys
        import torch
        from hooks_core import BaseModel, Runner

        class Classifier(BaseModel):
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(3, 2)

            def forward(self, inputs, labels=None, mode="tensor"):
                out = self.linear(torch.stack(inputs))  # pseudo_collate gives lists
                if mode == "loss":
                    return {{"loss": torch.nn.functional.cross_entropy(out, torch.stack(labels))}}
                return [{{"pred_score": s, "gt_label": l}} for s, l in zip(out, labels)]

        torch.manual_seed(0)
        data = [{{"inputs": torch.randn(3), "labels": torch.tensor(i % 2)}} for i in range(8)]
        runner = Runner(
            model=Classifier(),
            work_dir={str(tmp_path)!r},
            train_dataloader=dict(dataset=data, batch_size=4),
            val_dataloader=dict(dataset=data, batch_size=4),
            train_cfg=dict(by_epoch=True, max_epochs=2),
            val_cfg=dict(),
            optim_wrapper=dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1)),
            val_evaluator=dict(type="Accuracy", topk=(1, 2)),
            custom_hooks=[dict(type="EarlyStoppingHook", monitor="accuracy/top1")],
            log_level="WARNING",
        )
        imported_before_train = "hooks_eval" in sys.modules
        runner.train()
        metrics = runner.val()
        print(json.dumps([
            imported_before_train,
            sorted(type(h).__name__ for h in runner.hooks),
            sorted(metrics),
            metrics["accuracy/top2"],
            sorted(p.name for p in __import__("pathlib").Path({str(tmp_path)!r}).glob("*.pth")),
        ]))
        """
    )
    assert result == [
        True,  # the runner's default hooks pulled in the plugin, not user code
        ["CheckpointHook", "DistSamplerSeedHook", "EarlyStoppingHook", "IterTimerHook",
         "ParamSchedulerHook", "RuntimeInfoHook"],
        ["accuracy/top1", "accuracy/top2"],
        100.0,  # two classes
        ["epoch_1.pth", "epoch_2.pth"],  # the default checkpoint hook: interval=1
    ]  # fmt: skip
