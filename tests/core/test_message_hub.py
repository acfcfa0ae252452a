"""HistoryBuffer and MessageHub: windowed reads, no host sync on update, checkpoints, instances."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch

from hooks_core.runtime import HistoryBuffer, MessageHub

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture(autouse=True)
def fresh_instances(monkeypatch: pytest.MonkeyPatch) -> None:
    """Give each test its own table of named hubs."""
    monkeypatch.setattr(MessageHub, "_instances", {})
    monkeypatch.setattr(MessageHub, "_current", None)


def save_and_load(obj: Any, tmp_path: Path) -> Any:
    path = tmp_path / "state.pth"
    torch.save(obj, path)
    return torch.load(path, weights_only=True)


def packed(code: str, *numbers: float) -> str:
    """A window as `HistoryBuffer.state_dict` saves it: the numbers' bytes as latin-1 text."""
    return struct.pack(code, *numbers).decode("latin-1")


def assert_plain(obj: Any) -> None:
    """Fail on anything but plain Python containers and scalars."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            assert type(key) is str
            assert_plain(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            assert_plain(value)
    else:
        assert type(obj) in (bool, int, float, str, type(None)), f"{obj!r} is {type(obj)}"


# ---------------------------------------------------------------- HistoryBuffer, numbers
def test_number_reads_over_windows() -> None:
    buffer = HistoryBuffer()
    for value in (5, 1, 4, 2, 3):
        buffer.update(value)
    assert buffer.data == ([5, 1, 4, 2, 3], [1, 1, 1, 1, 1])
    assert len(buffer) == 5
    assert buffer.mean() == 3.0
    assert buffer.mean(2) == 2.5
    assert buffer.mean(100) == 3.0  # more than the window holds: the whole window
    assert (buffer.max(), buffer.max(3)) == (5.0, 4.0)
    assert (buffer.min(), buffer.min(2)) == (1.0, 2.0)
    assert buffer.current() == 3.0
    reads = [buffer.mean(), buffer.max(), buffer.min(), buffer.current(), buffer.global_mean()]
    assert all(type(read) is float for read in reads)


def test_mean_divides_summed_values_by_summed_counts() -> None:
    # MMEngine's rule: a value logged with count=k is the sum over k samples.
    buffer = HistoryBuffer([2.0], [1])
    buffer.update(9.0, count=3)
    assert buffer.mean() == 11.0 / 4
    assert buffer.mean(1) == 3.0
    assert buffer.global_mean() == 11.0 / 4


def test_numpy_values_are_stored_as_python_numbers() -> None:
    buffer = HistoryBuffer()
    buffer.update(np.float32(1.5))
    buffer.update(np.array([2]))
    buffer.update(np.float64(0.5))  # a float subclass
    values, _ = buffer.data
    assert values == [1.5, 2, 0.5]
    assert [type(value) for value in values] == [float, int, float]


def test_window_is_bounded_and_global_mean_stays_exact() -> None:
    buffer = HistoryBuffer(max_length=1000)
    for value in range(10_000):
        buffer.update(value)
    values, counts = buffer.data
    assert len(buffer) == len(values) == len(counts) == 1000
    assert values == list(range(9000, 10_000))
    assert buffer.max_length == 1000
    assert buffer.mean() == sum(range(9000, 10_000)) / 1000
    assert buffer.mean(10) == sum(range(9990, 10_000)) / 10
    assert buffer.min() == 9000.0
    assert buffer.global_mean() == 4999.5  # over all 10,000 values, not just the window


def test_initial_history_and_validation() -> None:
    buffer = HistoryBuffer([1, 2, 3], [1, 1, 2], max_length=2)
    assert buffer.data == ([2, 3], [1, 2])
    assert buffer.global_mean() == 6 / 4
    with pytest.raises(ValueError, match="log_history has 2 values but count_history has 1"):
        HistoryBuffer([1, 2], [1])
    with pytest.raises(ValueError, match="max_length must be a positive int, got 0"):
        HistoryBuffer(max_length=0)
    with pytest.raises(TypeError, match="window_size must be a positive int, got float"):
        buffer.mean(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window_size must be a positive int, got 0"):
        buffer.max(0)
    with pytest.raises(TypeError, match="expected a number or a one-element tensor, got str"):
        buffer.update("1.0")


def test_reading_an_empty_buffer_is_an_error() -> None:
    buffer = HistoryBuffer()
    for read in (buffer.mean, buffer.max, buffer.min, buffer.current):
        with pytest.raises(ValueError, match="HistoryBuffer is empty"):
            read()
    with pytest.raises(ValueError, match="no values"):
        buffer.global_mean()


# ---------------------------------------------------------------- HistoryBuffer, tensors
def test_tensor_reads_return_zero_dim_tensors() -> None:
    buffer = HistoryBuffer()
    for value in (1.0, 4.0, 2.0, 3.0):
        buffer.update(torch.tensor(value))
    reads = {
        "mean": buffer.mean(),
        "mean2": buffer.mean(2),
        "max": buffer.max(),
        "min2": buffer.min(2),
        "current": buffer.current(),
        "global": buffer.global_mean(),
    }
    for read in reads.values():
        assert isinstance(read, torch.Tensor)
        assert read.dim() == 0
    # Everything reaches the host in one transfer.
    values = torch.stack(list(reads.values())).tolist()
    assert values == [2.5, 2.5, 4.0, 2.0, 3.0, 2.5]


def test_numbers_mixed_with_tensors_read_as_tensors() -> None:
    buffer = HistoryBuffer()
    buffer.update(1)
    buffer.update(torch.tensor([3.0]))  # one element: stored as a 0-d tensor
    buffer.update(2.0, count=2)
    assert buffer.data[0][1].shape == ()
    mean = buffer.mean()
    assert isinstance(mean, torch.Tensor)
    assert mean.item() == pytest.approx(6.0 / 4)
    assert buffer.max().item() == 3.0
    assert buffer.current() == 2.0 and type(buffer.current()) is float
    assert buffer.mean(1) == 1.0 and type(buffer.mean(1)) is float  # window of numbers only


def test_integer_tensors_average_to_a_float_tensor() -> None:
    buffer = HistoryBuffer()
    for value in (1, 2):
        buffer.update(torch.tensor(value))
    assert buffer.mean().dtype.is_floating_point
    assert buffer.mean().item() == 1.5
    assert buffer.max().dtype == torch.int64


def test_update_stores_a_detached_view_without_copying() -> None:
    weight = torch.tensor(2.0, requires_grad=True)
    loss = weight * 3
    buffer = HistoryBuffer()
    buffer.update(loss)
    (stored,), _ = buffer.data
    assert stored is not loss
    assert not stored.requires_grad and stored.grad_fn is None
    assert stored.data_ptr() == loss.data_ptr()  # same memory: no copy, no transfer
    loss.backward()  # the graph is untouched
    assert weight.grad is not None and weight.grad.item() == 3.0


def test_update_never_reads_a_tensor_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    def sync(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("host sync during update")

    buffer = HistoryBuffer(max_length=2)
    hub = MessageHub()
    with monkeypatch.context() as patch:
        for name in ("item", "tolist", "cpu", "numpy", "__float__", "__int__", "__bool__"):
            patch.setattr(torch.Tensor, name, sync)
        for value in (1.0, 2.0, 3.0):  # the third evicts the first
            buffer.update(torch.tensor(value))
            hub.update_scalars({"loss": torch.tensor([value]), "acc": {"value": torch.tensor(1)}})
    assert buffer.mean().item() == 2.5
    assert buffer.global_mean().item() == 2.0
    assert hub.get_scalar("loss").current().item() == 3.0


def test_meta_tensors_prove_no_value_is_ever_read() -> None:
    # A meta tensor has no data: any attempt to read its value raises.
    loss = torch.tensor(1.0, device="meta")
    with pytest.raises(RuntimeError, match="meta"):
        loss.item()
    hub = MessageHub()
    for _ in range(3):
        hub.update_scalar("train/loss", loss)
        hub.update_scalar("train/lr", 0.1)
    buffer = hub.get_scalar("train/loss")
    reads = [buffer.mean(2), buffer.max(), buffer.min(), buffer.current(), buffer.global_mean()]
    for read in reads:
        assert read.device.type == "meta"
        assert read.dim() == 0


# ---------------------------------------------------------------- HistoryBuffer, checkpoints
def test_buffer_state_dict_is_plain_and_round_trips(tmp_path: Path) -> None:
    buffer = HistoryBuffer(max_length=3)
    for value in (1.0, 2.0, 3.0, 4.0):
        buffer.update(torch.tensor(value), count=2)
    state = buffer.state_dict()
    assert state == {  # one string of the numbers' bytes per window, not a number per value
        "log_history": ("float64", packed("<3d", 2.0, 3.0, 4.0)),
        "count_history": ("int64", packed("<q", 2), 3),  # one number throughout: once
        "max_length": 3,
        "global_sum": 10.0,
        "global_count": 8,
    }
    assert_plain(state)
    restored = HistoryBuffer()
    restored.load_state_dict(save_and_load(state, tmp_path))
    assert restored.data == ([2.0, 3.0, 4.0], [2, 2, 2])
    assert restored.max_length == 3
    assert restored.global_mean() == 10.0 / 8
    restored.update(5.0)  # keeps working, and keeps the window bound
    assert restored.data == ([3.0, 4.0, 5.0], [2, 2, 1])
    assert restored.global_mean() == 15.0 / 9


def test_buffer_loads_the_list_and_tensor_windows_of_older_checkpoints() -> None:
    totals = {"max_length": 3, "global_sum": 9.0, "global_count": 4}
    older = [
        {"log_history": [2.0, 3.0, 4.0], "count_history": [1, 1, 2], **totals},
        {"log_history": torch.tensor([2.0, 3.0, 4.0], dtype=torch.float64),
         "count_history": torch.tensor([1, 1, 2]), **totals},
    ]  # fmt: skip
    older.append({  # as bytes: the text form's bytes
        "log_history": ("float64", struct.pack("<3d", 2.0, 3.0, 4.0)),
        "count_history": ("int64", struct.pack("<3q", 1, 1, 2)), **totals})  # fmt: skip
    for state in older:
        restored = HistoryBuffer()
        restored.load_state_dict(state)
        assert restored.data == ([2.0, 3.0, 4.0], [1, 1, 2])
        assert restored.global_mean() == 9.0 / 4


def test_each_checkpoint_packs_the_window_it_holds() -> None:
    """Only new values are packed again; what is saved is the whole current window all the same."""
    rng = random.Random(16)
    buffer = HistoryBuffer(max_length=7)
    forms = set()
    for step in range(200):
        value: Any = rng.randrange(10) if step < 20 else rng.random()  # ints, then floats
        if 60 <= step < 120:  # stretches of one value and one count, as learning rates have
            value, count = 0.5 if step < 90 else 0.25, 1
        else:
            count = rng.randrange(1, 3)
        buffer.update(torch.tensor(value) if step % 3 == 0 else value, count=count)
        if rng.random() < 0.3:
            expected = buffer.data
            state = buffer.state_dict()
            whole = HistoryBuffer(*buffer.data, max_length=7).state_dict()
            assert (state["log_history"], state["count_history"]) == (
                whole["log_history"], whole["count_history"]), step  # fmt: skip
            restored = HistoryBuffer()
            restored.load_state_dict(state)
            assert restored.data == expected, step
            forms.update(len(state[key]) for key in ("log_history", "count_history"))
    assert forms == {2, 3}  # packed number by number, and as one number repeated


def test_buffer_keeps_ints_beyond_64_bits_exact() -> None:
    buffer = HistoryBuffer()
    buffer.update(2**70)
    state = buffer.state_dict()
    assert state["log_history"] == [2**70]
    restored = HistoryBuffer()
    restored.load_state_dict(state)
    assert restored.data == ([2**70], [1])


def test_each_checkpoint_moves_only_the_values_logged_since_the_last() -> None:
    buffer = HistoryBuffer(max_length=3)
    buffer.update(torch.tensor(1.0))
    buffer.update(2.0)
    assert buffer.state_dict()["log_history"] == ("float64", packed("<2d", 1.0, 2.0))
    assert [type(value) for value in buffer.data[0]] == [float, float]  # settled in the window
    buffer.update(torch.tensor(3.0), count=torch.tensor(2))
    buffer.update(torch.tensor(4.0))  # the window drops 1.0
    state = buffer.state_dict()
    assert state["log_history"] == ("float64", packed("<3d", 2.0, 3.0, 4.0))
    assert state["count_history"] == ("int64", packed("<3q", 1, 2, 1))
    assert (state["global_sum"], state["global_count"]) == (10.0, 5)
    assert [type(value) for value in buffer.data[0]] == [float, float, float]


# ---------------------------------------------------------------- MessageHub, scalars
def test_update_scalars_accepts_numbers_tensors_and_counted_dicts() -> None:
    hub = MessageHub("run")
    hub.update_scalars(
        {
            "train/loss": torch.tensor(0.5),
            "train/lr": 0.01,
            "train/acc": {"value": 30, "count": 40},
            "train/aux": {"value": torch.tensor([2.0])},
        }
    )
    hub.update_scalar("train/loss", torch.tensor(1.5))
    assert sorted(hub.log_scalars) == ["train/acc", "train/aux", "train/loss", "train/lr"]
    assert hub.get_scalar("train/loss").mean().item() == 1.0
    assert hub.get_scalar("train/lr").current() == 0.01
    assert hub.get_scalar("train/acc").mean() == 0.75
    assert hub.get_scalar("train/aux").data == ([torch.tensor(2.0)], [1])
    assert isinstance(hub.get_scalar("train/aux").current(), torch.Tensor)


def test_bad_scalars_name_the_key_and_leave_nothing_behind() -> None:
    hub = MessageHub()
    with pytest.raises(ValueError, match=r"scalar 'train/logits': .*tensor of shape \(2,\)"):
        hub.update_scalar("train/logits", torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"scalar 'train/arr': .*array of shape \(3,\)"):
        hub.update_scalars({"train/arr": np.zeros(3)})
    with pytest.raises(TypeError, match=r"scalar 'train/name': .*got str"):
        hub.update_scalar("train/name", "high")
    with pytest.raises(KeyError, match=r"scalar 'train/acc': a dict value needs a 'value' key"):
        hub.update_scalars({"train/acc": {"count": 3}})
    with pytest.raises(TypeError, match="update_scalars expects a dict, got list"):
        hub.update_scalars([("loss", 1.0)])  # type: ignore[arg-type]
    assert hub.log_scalars == {}
    assert hub.state_dict()["resumed_keys"] == {}

    hub.update_scalar("train/loss", 1.0)
    with pytest.raises(ValueError, match="scalar 'train/loss'"):
        hub.update_scalar("train/loss", torch.ones(2, 2))
    assert hub.get_scalar("train/loss").data == ([1.0], [1])  # the existing history is kept


def test_get_scalar_names_the_missing_key_and_the_available_ones() -> None:
    hub = MessageHub("run")
    with pytest.raises(KeyError, match=r"no scalar 'train/loss' in message hub 'run'.*none yet"):
        hub.get_scalar("train/loss")
    hub.update_scalars({"train/lr": 0.1, "train/loss_cls": 1.0})
    with pytest.raises(KeyError) as info:
        hub.get_scalar("train/loss")
    assert info.value.args[0] == (
        "no scalar 'train/loss' in message hub 'run'; available: 'train/loss_cls', 'train/lr'"
    )


def test_constructor_validates_and_views_are_copies() -> None:
    buffer = HistoryBuffer([1.0], [1])
    hub = MessageHub("run", log_scalars={"loss": buffer}, runtime_info={"epoch": 2})
    assert hub.get_scalar("loss") is buffer
    hub.log_scalars.clear()
    hub.runtime_info.clear()
    assert hub.get_scalar("loss") is buffer and hub.get_info("epoch") == 2
    with pytest.raises(TypeError, match=r"log_scalars\['loss'\] must be a HistoryBuffer, got list"):
        MessageHub(log_scalars={"loss": [1.0]})  # type: ignore[dict-item]
    assert repr(hub) == "MessageHub('run', 1 scalars, 1 info)"


# ---------------------------------------------------------------- MessageHub, runtime info
def test_runtime_info() -> None:
    hub = MessageHub()
    meta = {"classes": ["cat", "dog"]}
    hub.update_info("dataset_meta", meta)
    hub.update_info_dict({"epoch": 1, "iter": 10})
    hub.update_info("iter", 11)
    assert hub.get_info("dataset_meta") is meta  # stored as is
    assert hub.runtime_info == {"dataset_meta": meta, "epoch": 1, "iter": 11}
    assert hub.get_info("missing") is None
    assert hub.get_info("missing", default=0) == 0
    assert hub.pop_info("epoch") == 1
    assert hub.pop_info("epoch", "gone") == "gone"
    assert "epoch" not in hub.state_dict()["runtime_info"]
    with pytest.raises(TypeError, match="update_info_dict expects a dict, got tuple"):
        hub.update_info_dict((("epoch", 1),))  # type: ignore[arg-type]


# ---------------------------------------------------------------- MessageHub, checkpoints
def test_state_dict_round_trips_through_weights_only_load(tmp_path: Path) -> None:
    hub = MessageHub("run")
    for value in (1.0, 2.0, 3.0):
        hub.update_scalars({"train/loss": torch.tensor(value), "train/lr": value / 10})
    hub.update_info_dict(
        {
            "iter": 3,
            "best_score": torch.tensor(0.875),
            "seed": np.int64(7),
            "keep_ckpt_ids": (1, 2),
            "meta": {"name": "exp", "ratio": np.float32(0.5), "ids": torch.tensor([1, 2])},
        }
    )
    state = hub.state_dict()
    assert_plain(state)
    loaded = save_and_load(state, tmp_path)

    resumed = MessageHub("resumed")
    resumed.update_info("untouched", "kept")
    resumed.load_state_dict(loaded)
    assert resumed.get_scalar("train/loss").data == ([1.0, 2.0, 3.0], [1, 1, 1])
    assert resumed.get_scalar("train/loss").global_mean() == 2.0
    assert resumed.get_scalar("train/lr").max() == pytest.approx(0.3)
    assert resumed.get_info("best_score") == 0.875
    assert resumed.get_info("seed") == 7
    assert resumed.get_info("keep_ckpt_ids") == (1, 2)
    assert resumed.get_info("meta") == {"name": "exp", "ratio": 0.5, "ids": [1, 2]}
    assert resumed.get_info("untouched") == "kept"
    resumed.update_scalar("train/loss", 6.0)  # the resumed history goes on
    assert resumed.get_scalar("train/loss").global_mean() == 3.0


def test_keys_updated_with_resumed_false_are_not_saved() -> None:
    hub = MessageHub()
    hub.update_scalar("train/loss", 1.0)
    hub.update_scalar("train/time", 0.2, resumed=False)
    hub.update_scalars({"val/acc": 0.9}, resumed=False)
    hub.update_info("iter", 5)
    hub.update_info("eta", 120, resumed=False)
    hub.update_info_dict({"loop_stage": "train"}, resumed=False)
    state = hub.state_dict()
    assert list(state["log_scalars"]) == ["train/loss"]
    assert state["runtime_info"] == {"iter": 5}
    assert state["resumed_keys"] == {"train/loss": True, "iter": True}
    hub.update_scalar("train/time", 0.3)  # the latest call decides
    assert "train/time" in hub.state_dict()["log_scalars"]


def test_resumed_keys_given_to_the_constructor() -> None:
    hub = MessageHub(
        log_scalars={"loss": HistoryBuffer([1.0], [1]), "time": HistoryBuffer([0.1], [1])},
        runtime_info={"iter": 1, "eta": 9},
        resumed_keys={"time": False, "eta": False},
    )
    state = hub.state_dict()
    assert list(state["log_scalars"]) == ["loss"]
    assert state["runtime_info"] == {"iter": 1}


def test_state_dict_rejects_info_that_weights_only_loading_cannot_restore() -> None:
    class Config:
        pass

    hub = MessageHub()
    hub.update_info("cfg", {"model": Config()})
    with pytest.raises(TypeError, match=r"runtime info 'cfg' holds a Config.*resumed=False"):
        hub.state_dict()
    hub.update_info("cfg", {"model": Config()}, resumed=False)
    assert hub.state_dict()["runtime_info"] == {}


# ---------------------------------------------------------------- named instances
def test_get_current_instance_creates_a_default_hub() -> None:
    current = MessageHub.get_current_instance()
    assert current.instance_name == "hooks_core"
    assert MessageHub.get_current_instance() is current
    assert MessageHub.get_instance("hooks_core") is current


def test_get_instance_returns_the_hub_of_a_name_and_the_newest_is_current() -> None:
    first = MessageHub.get_instance("first", runtime_info={"epoch": 3})
    assert first.get_info("epoch") == 3
    assert MessageHub.get_current_instance() is first
    second = MessageHub.get_instance("second")
    assert second is not first
    assert MessageHub.get_current_instance() is second
    assert MessageHub.get_instance("first") is first
    assert MessageHub.get_current_instance() is second  # fetching does not change it (MMEngine)
    MessageHub("direct")  # constructing a hub does not register it
    assert MessageHub.get_current_instance() is second
    assert MessageHub.get_instance("direct") is not first


def test_get_instance_warns_about_ignored_arguments_and_checks_the_name() -> None:
    hub = MessageHub.get_instance("run")
    with pytest.warns(UserWarning, match="'run' already exists; ignoring .*runtime_info"):
        assert MessageHub.get_instance("run", runtime_info={"epoch": 1}) is hub
    assert hub.get_info("epoch") is None
    with pytest.raises(TypeError, match="must be a str, got 3"):
        MessageHub.get_instance(3)  # type: ignore[arg-type]


def test_subclasses_keep_their_own_instances() -> None:
    class RunHub(MessageHub):
        pass

    base = MessageHub.get_instance("shared")
    sub = RunHub.get_instance("shared")
    assert type(sub) is RunHub and sub is not base
    assert MessageHub.get_current_instance() is base
    assert RunHub.get_current_instance() is sub


# ---------------------------------------------------------------- import cost
def test_importing_the_module_does_not_load_torch_or_numpy() -> None:
    code = (
        "import json, sys, hooks_core.runtime;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
