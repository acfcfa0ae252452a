"""``cfg.compile``: the Runner trains with a `torch.compile`d ``train_step``, as MMEngine's does.

The runs use the ``eager`` and ``aot_eager`` backends (dynamo traces and splits
the step for real, and AOTAutograd traces its graphs, without inductor's C++
compiles, which take half a minute here) or a recording backend that shows what
was compiled.
"""

from __future__ import annotations

import copy
import gc
import json
import pickle
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
import torch
import torch.distributed as dist
from toy import SaveEveryIter, StopAfter, ToyModel, runner_kwargs

from hooks_core import Hook, Runner, TrainingInterrupted
from hooks_core.checkpoint import load_checkpoint_file
from hooks_core.model import wrap_model

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [
    # Torch's own warnings while dynamo traces a step: torch hides the first from
    # users (through warnings.showwarning, which filterwarnings=error bypasses);
    # the second is torch.utils.mkldnn's import, which dynamo triggers once.
    pytest.mark.filterwarnings(
        "ignore:The .grad attribute of a Tensor that is not a leaf Tensor:UserWarning"
    ),
    pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"),
]

EAGER = dict(backend="eager")
KEYS = list(ToyModel().state_dict())  # the model's own state-dict keys


@pytest.fixture(autouse=True)
def fresh_dynamo() -> Iterator[None]:
    """Each test compiles from scratch: dynamo's caches and recompile counts are per process."""
    torch.compiler.reset()
    yield
    torch.compiler.reset()


class StepRecorder(Hook):
    """Record each iteration's loss, and whether ``train_step`` was compiled on the model."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.compiled: list[bool] = []
        self.keys: list[list[str]] = []

    def after_train_iter(
        self, runner: Any, batch_idx: int, data_batch: Any = None, outputs: Any = None
    ) -> None:
        self.losses.append(outputs["loss"].item())
        self.compiled.append("train_step" in vars(runner.model))
        self.keys.append(list(runner.model.state_dict()))


class RecordingBackend:
    """A torch.compile backend that keeps every graph dynamo hands it, then runs it eagerly."""

    def __init__(self) -> None:
        self.graphs: list[torch.fx.GraphModule] = []

    def __call__(self, graph: torch.fx.GraphModule, example_inputs: Any) -> Any:
        self.graphs.append(graph)
        return graph.forward


class GraphsDuringVal(Hook):
    """How many graphs the backend had at the start and at the end of each validation."""

    def __init__(self, backend: RecordingBackend) -> None:
        self.backend = backend
        self.counts: list[tuple[int, int]] = []

    def before_val(self, runner: Any) -> None:
        self._start = len(self.backend.graphs)

    def after_val(self, runner: Any) -> None:
        self.counts.append((self._start, len(self.backend.graphs)))


def train(work_dir: Path, compile_cfg: Any, **overrides: Any) -> tuple[Runner, StepRecorder]:
    recorder = StepRecorder()
    hooks = [recorder, *overrides.pop("custom_hooks", [])]
    cfg = None if compile_cfg is None else dict(compile=compile_cfg)
    runner = Runner(**runner_kwargs(work_dir, custom_hooks=hooks, **overrides), cfg=cfg)
    runner.train()
    return runner, recorder


def seeded_model(**options: Any) -> ToyModel:
    """A `ToyModel` initialised as `runner_kwargs` initialises its own."""
    torch.manual_seed(0)
    return ToyModel(**options)


def assert_same_weights(first: dict[str, Any], second: dict[str, Any], exact: bool) -> None:
    assert list(first) == list(second)
    for key, value in first.items():
        if exact:
            assert torch.equal(value, second[key]), key
        else:
            torch.testing.assert_close(value, second[key], rtol=1e-5, atol=1e-6, msg=key)


# ------------------------------------------------------------ training
@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_a_compiled_run_matches_an_uncompiled_one(tmp_path: Path, backend: str) -> None:
    plain, plain_steps = train(tmp_path / "plain", None)
    compiled, steps = train(tmp_path / "compiled", dict(backend=backend),
                            custom_hooks=[SaveEveryIter(5)])  # fmt: skip
    assert steps.compiled == [True] * 15 and plain_steps.compiled == [False] * 15
    assert steps.losses == pytest.approx(plain_steps.losses, rel=1e-5)
    assert_same_weights(plain.model.state_dict(), compiled.model.state_dict(), exact=False)
    # Hooks and checkpoints see the model's own keys (no "_orig_mod." of a compiled module).
    assert all(keys == KEYS for keys in steps.keys)
    for iteration in (5, 10, 15):
        checkpoint = load_checkpoint_file(tmp_path / "compiled" / f"iter_{iteration}.pth")
        assert list(checkpoint["state_dict"]) == KEYS


def test_train_step_goes_through_dynamo_and_validation_does_not(tmp_path: Path) -> None:
    backend = RecordingBackend()
    during_val = GraphsDuringVal(backend)
    model = ToyModel()
    runner, steps = train(tmp_path, dict(backend=backend), model=model, custom_hooks=[during_val])
    assert steps.compiled == [True] * 15
    assert any("linear" in str(graph.graph) for graph in backend.graphs)  # the forward pass
    assert during_val.counts and all(start == end for start, end in during_val.counts)
    assert runner.model is model and type(model) is ToyModel  # compiled in place
    assert "train_step" not in vars(model)  # and restored once training ends
    pickle.dumps(model)  # so the model holds no compiled function any more
    assert list(copy.deepcopy(model).state_dict()) == KEYS


def test_target_forward_compiles_the_forward_for_validation_too(tmp_path: Path) -> None:
    backend = RecordingBackend()
    during_val = GraphsDuringVal(backend)
    model = ToyModel()
    compile_cfg = dict(backend=backend, target="forward")
    runner, steps = train(tmp_path, compile_cfg, model=model, custom_hooks=[during_val])
    assert steps.compiled == [False] * 15 and backend.graphs  # forward, not train_step
    assert steps.keys[-1] == KEYS  # the model's own keys
    assert any(start < end for start, end in during_val.counts)  # validation's shapes compile
    assert runner.model is model and "forward" not in vars(model)  # put back after training
    assert compile_cfg["target"] == "forward"  # the config is left as given


def test_a_train_step_the_user_set_on_the_model_is_compiled_and_put_back(tmp_path: Path) -> None:
    model, backend = ToyModel(), RecordingBackend()
    own_step = model.train_step  # e.g. a patched step: an instance attribute
    model.train_step = own_step  # type: ignore[method-assign]
    train(tmp_path, dict(backend=backend), model=model)
    assert backend.graphs and vars(model)["train_step"] is own_step


@pytest.mark.parametrize("value", [False, None])
def test_compile_false_or_none_trains_uncompiled(tmp_path: Path, value: Any) -> None:
    _, steps = train(tmp_path, value)
    assert steps.compiled == [False] * 15


def test_from_cfg_reads_compile(tmp_path: Path) -> None:
    recorder = StepRecorder()
    cfg = {**runner_kwargs(tmp_path, custom_hooks=[recorder]), "compile": EAGER}
    Runner.from_cfg(cfg).train()
    assert recorder.compiled == [True] * 15
    assert cfg["compile"] == EAGER  # the caller's config is left as it was


def test_the_runner_keyword_compiles_and_wins_over_the_config(tmp_path: Path) -> None:
    recorder = StepRecorder()
    kwargs = runner_kwargs(tmp_path, custom_hooks=[recorder])
    Runner(**kwargs, compile=EAGER, cfg=dict(compile=False)).train()
    assert recorder.compiled == [True] * 15


# ------------------------------------------------------------ checkpoints
def interrupted_then_resumed(work_dir: Path, first: Any, then: Any) -> dict[str, Any]:
    """Train with compile=`first`, stop after iteration 7, resume with compile=`then`."""
    with pytest.raises(TrainingInterrupted):
        train(work_dir, first, custom_hooks=[StopAfter(7)])
    torch.compiler.reset()  # the resumed run compiles afresh, as in a new process
    resumed, steps = train(work_dir, then, resume=True)
    assert len(steps.losses) == 8
    return resumed.model.state_dict()


def test_resuming_a_compiled_run_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    options = dict(backend="aot_eager")  # dropout's random numbers drawn inside the graph
    uninterrupted, _ = train(tmp_path / "whole", options)
    torch.compiler.reset()
    resumed = interrupted_then_resumed(tmp_path / "resumed", options, options)
    assert_same_weights(uninterrupted.model.state_dict(), resumed, exact=True)


@pytest.mark.parametrize(("first", "then"), [(EAGER, None), (None, EAGER)])
def test_checkpoints_resume_between_compiled_and_uncompiled_runs(
    tmp_path: Path, first: Any, then: Any
) -> None:
    uninterrupted, _ = train(tmp_path / "whole", None)
    resumed = interrupted_then_resumed(tmp_path / "resumed", first, then)
    assert_same_weights(uninterrupted.model.state_dict(), resumed, exact=False)


# ------------------------------------------------------------ DDP
@pytest.fixture
def gloo_group(tmp_path: Path) -> Iterator[None]:
    """A one-process gloo group: enough for DDP's reducer to run in the compiled step."""
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0,
                            world_size=1)  # fmt: skip
    try:
        yield
    finally:
        gc.collect()  # DDP's reducer must go before its group
        dist.destroy_process_group()


@pytest.mark.usefixtures("gloo_group")
def test_the_ddp_wrappers_train_step_is_compiled_in_place(tmp_path: Path) -> None:
    plain, _ = train(tmp_path / "plain", None, model=seeded_model(dropout=0))
    wrapped = wrap_model(seeded_model(dropout=0), True, {})
    runner, steps = train(tmp_path / "ddp", EAGER, model=wrapped, custom_hooks=[SaveEveryIter(15)])
    assert runner.model is wrapped and steps.compiled == [True] * 15
    assert "train_step" not in vars(wrapped)
    saved = load_checkpoint_file(tmp_path / "ddp" / "iter_15.pth")["state_dict"]
    assert list(saved) == list(wrapped.module.state_dict())  # the user's keys: no "module."
    assert_same_weights(plain.model.state_dict(), wrapped.module.state_dict(), exact=False)
    del runner, wrapped


# ------------------------------------------------------------ bad options
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("inductor", TypeError, r"compile='inductor': give True"),
        (dict(target="val_step"), ValueError, r"target='val_step': give 'train_step'"),
    ],
)
def test_a_bad_compile_value_fails_when_the_runner_is_made(
    tmp_path: Path, value: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Runner(ToyModel(), str(tmp_path), cfg=dict(compile=value))


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (dict(fulgraph=True), TypeError, r"'fulgraph' \(did you mean 'fullgraph'\?\)"),
        (dict(backend="no_such_backend"), RuntimeError, r"Invalid backend: 'no_such_backend'"),
        (dict(mode="fastest"), RuntimeError, r"Unrecognized mode=fastest"),
        (dict(mode="default", options={}), RuntimeError, r"Either mode or options"),
    ],
)
def test_keywords_torch_compile_refuses_fail_when_the_runner_is_made(
    tmp_path: Path, value: Any, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match) as raised:
        Runner(ToyModel(), str(tmp_path), cfg=dict(compile=value))
    if sys.version_info >= (3, 11):  # the error as raised, with a note naming the config
        assert raised.value.__notes__ == [
            f"raised for the runner's compile={value!r}: fix or remove that key"
        ]


def test_a_torch_without_compile_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(torch, "compile")  # torch < 2.0, which cannot be installed here
    with pytest.raises(RuntimeError, match=r"needs torch\.compile.*pip install -U"):
        Runner(ToyModel(), str(tmp_path), cfg=dict(compile=True))


def test_the_runner_package_still_imports_without_torch() -> None:
    code = (
        "import json, sys, hooks_core, hooks_core.runner;"
        "print(json.dumps([m for m in sys.modules if m.split('.')[0] == 'torch']))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
