"""Checkpoint files: atomic save, safe load, the last_checkpoint pointer, state dicts, RNG."""

from __future__ import annotations

import errno
import json
import os
import pickle
import random
import struct
import subprocess
import sys
from collections import OrderedDict, namedtuple
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from torch import nn

from hooks_core.checkpoint import (
    check_local_path,
    find_latest_checkpoint,
    get_rng_state,
    get_state_dict,
    load_checkpoint,
    load_checkpoint_file,
    load_state_dict,
    read_last_checkpoint,
    save_checkpoint,
    set_rng_state,
    update_last_checkpoint,
    weights_to_cpu,
)

if TYPE_CHECKING:
    from pathlib import Path


def make_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Linear(3, 2))


def trained_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(5, 4)).sum().backward()
    optimizer.step()  # creates the momentum buffers
    return optimizer


def make_checkpoint() -> dict[str, Any]:
    model = make_model()
    optimizer = trained_optimizer(model)
    return {
        "meta": {"epoch": 3, "iter": 120, "seed": 42, "time": "20240101_120000", "lr": 0.1},
        "state_dict": weights_to_cpu(model.state_dict()),
        "optimizer": optimizer.state_dict(),
        "message_hub": {"log_scalars": {"train/loss": [1.5, 0.75]}, "runtime_info": {}},
        "param_schedulers": [{"last_epoch": 3, "milestones": (2, 4)}],
    }


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def assert_same(a: Any, b: Any) -> None:
    """Deep equality that compares tensors by value and checks container types."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_same(a[key], b[key])
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    else:
        assert a == b


# ------------------------------------------------------------ save and load
def test_round_trip_through_a_safe_load(tmp_path: Path) -> None:
    checkpoint = make_checkpoint()
    target = tmp_path / "deep" / "folder" / "epoch_3.pth"  # parents are created
    save_checkpoint(checkpoint, target)
    loaded = load_checkpoint_file(target)  # weights_only=True by default
    assert_same(checkpoint, loaded)
    assert loaded["state_dict"]._metadata == checkpoint["state_dict"]._metadata
    assert leftovers(target.parent) == []
    model = make_model()
    model.load_state_dict(loaded["state_dict"])  # what was saved is usable


def test_failed_write_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    class Unpicklable:
        def __reduce__(self) -> Any:
            raise RuntimeError("cannot pickle this")

    target = tmp_path / "latest.pth"
    save_checkpoint({"meta": {"epoch": 1}, "weights": torch.arange(3)}, str(target))
    before = target.read_bytes()
    with pytest.raises(RuntimeError, match="cannot pickle this"):
        save_checkpoint({"meta": {"epoch": 2}, "bad": Unpicklable()}, target)
    assert target.read_bytes() == before
    loaded = load_checkpoint_file(target)
    assert loaded["meta"] == {"epoch": 1}
    assert torch.equal(loaded["weights"], torch.arange(3))
    assert leftovers(tmp_path) == []


def test_replacing_a_checkpoint_goes_through_a_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "epoch_1.pth"
    save_checkpoint({"version": 1}, target)
    seen: list[tuple[str, str]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        seen.append((src, dst))
        assert load_checkpoint_file(target) == {"version": 1}  # old file complete until now
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    save_checkpoint({"version": 2}, target)
    assert len(seen) == 1
    src, dst = seen[0]
    assert dst == str(target)
    assert src.startswith(str(tmp_path / ".epoch_1.pth.")) and src.endswith(".tmp")
    assert load_checkpoint_file(target) == {"version": 2}


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pth"
    with pytest.raises(FileNotFoundError, match=r"nope\.pth") as info:
        load_checkpoint_file(missing)
    assert info.value.filename == str(missing)


# ------------------------------------------------------------ safety
def create_marker(path: str) -> str:
    """Stands in for malicious code: proves that unpickling ran it."""
    with open(path, "w") as file:
        file.write("pwned")
    return "ran"


class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (create_marker, (self.marker,))


class Benign:
    def __init__(self, value: int) -> None:
        self.value = value


def test_safe_load_does_not_run_code_from_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    save_checkpoint({"state_dict": {}, "meta": Payload(str(marker))}, path)
    with pytest.raises(pickle.UnpicklingError) as info:
        load_checkpoint_file(path)
    assert not marker.exists()
    message = str(info.value)
    assert str(path) in message
    assert "refuses" in message
    assert "weights_only=False" in message and "trust" in message
    assert f"'{__name__}.create_marker'" in message
    assert f"add_safe_globals([{__name__}.create_marker])" in message
    assert isinstance(info.value.__cause__, pickle.UnpicklingError)
    # The payload is real: an unsafe load runs it.
    assert load_checkpoint_file(path, weights_only=False)["meta"] == "ran"
    assert marker.read_text() == "pwned"


def test_globals_from_blocked_modules_are_not_offered_an_allowlist(tmp_path: Path) -> None:
    class GetCwd:
        def __reduce__(self) -> Any:
            return (os.getcwd, ())

    path = tmp_path / "blocked.pth"
    save_checkpoint({"x": GetCwd()}, path)
    with pytest.raises(pickle.UnpicklingError, match="weights_only=False") as info:
        load_checkpoint_file(path)
    assert "never allows" in str(info.value)
    assert "add_safe_globals" not in str(info.value)


def test_opting_out_loads_a_trusted_custom_object(tmp_path: Path) -> None:
    path = tmp_path / "custom.pth"
    save_checkpoint({"meta": Benign(7)}, path)
    with pytest.raises(pickle.UnpicklingError, match=r"Benign"):
        load_checkpoint_file(path)
    assert load_checkpoint_file(path, weights_only=False)["meta"].value == 7


def test_a_corrupt_file_is_not_reported_as_missing(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.pth"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(Exception) as info:  # noqa: PT011 - torch's own error
        load_checkpoint_file(path)
    assert not isinstance(info.value, FileNotFoundError)


# ------------------------------------------------------------ last_checkpoint
def test_pointer_names_the_latest_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work_dir = tmp_path / "work"
    assert find_latest_checkpoint(work_dir) is None  # no work dir yet
    first, second = work_dir / "epoch_1.pth", work_dir / "epoch_2.pth"
    save_checkpoint({"epoch": 1}, first)
    update_last_checkpoint(work_dir, first)
    assert find_latest_checkpoint(work_dir) == str(first)
    save_checkpoint({"epoch": 2}, second)
    update_last_checkpoint(str(work_dir), str(second))
    assert find_latest_checkpoint(str(work_dir)) == str(second)
    assert (work_dir / "last_checkpoint").read_text() == str(second)
    assert leftovers(work_dir) == []
    # A relative path is stored absolute, so resuming works from any directory.
    monkeypatch.chdir(work_dir)
    update_last_checkpoint(".", "epoch_1.pth")
    monkeypatch.chdir(tmp_path)
    assert find_latest_checkpoint(work_dir) == str(first)


def test_pointer_is_rewritten_in_place_to_the_new_length(tmp_path: Path) -> None:
    """No new file per update: the same inode, cut to the new path, nothing left beside it."""
    update_last_checkpoint(tmp_path, tmp_path / "a_much_longer_name" / "epoch_10.pth")
    pointer = tmp_path / "last_checkpoint"
    inode = pointer.stat().st_ino
    update_last_checkpoint(tmp_path, tmp_path / "epoch_2.pth")
    assert pointer.stat().st_ino == inode
    assert pointer.read_bytes() == str(tmp_path / "epoch_2.pth").encode()
    assert leftovers(tmp_path) == []
    update_last_checkpoint(tmp_path / "new", tmp_path / "epoch_3.pth")  # the folder is made
    assert read_last_checkpoint(tmp_path / "new") == str(tmp_path / "epoch_3.pth")


def test_a_pointer_that_cannot_be_written_is_named_in_the_error(tmp_path: Path) -> None:
    (tmp_path / "last_checkpoint").mkdir()  # a folder where the file should be
    with pytest.raises(OSError, match=r"could not write .*last_checkpoint") as info:
        update_last_checkpoint(tmp_path, tmp_path / "epoch_1.pth")
    assert info.value.errno == errno.EISDIR


def test_missing_pointer_or_missing_target_gives_none(tmp_path: Path) -> None:
    save_checkpoint({"epoch": 1}, tmp_path / "epoch_1.pth")
    assert find_latest_checkpoint(tmp_path) is None  # a checkpoint alone is not guessed at
    update_last_checkpoint(tmp_path, tmp_path / "epoch_1.pth")
    (tmp_path / "epoch_1.pth").unlink()
    assert find_latest_checkpoint(tmp_path) is None
    (tmp_path / "last_checkpoint").write_text("  \n")
    assert find_latest_checkpoint(tmp_path) is None


# ------------------------------------------------------------ state dicts
def test_weights_to_cpu_copies_nested_containers() -> None:
    model = make_model()
    state = {"model": model.state_dict(), "extra": [torch.ones(2), (torch.zeros(1), 3)], "n": 5}
    converted = weights_to_cpu(state)
    assert_same(converted, state)
    assert converted is not state and converted["model"] is not state["model"]
    assert type(converted["model"]) is OrderedDict
    assert converted["model"]._metadata == state["model"]._metadata
    assert all(not t.requires_grad for t in converted["model"].values())


def test_weights_to_cpu_detaches_and_keeps_tuple_types() -> None:
    point = namedtuple("point", "x y")
    state = {"p": nn.Parameter(torch.ones(2)), "pt": point(torch.ones(1), 2)}
    converted = weights_to_cpu(state)
    assert type(converted["p"]) is torch.Tensor and not converted["p"].requires_grad
    assert converted["p"].device.type == "cpu"
    assert type(converted["pt"]) is point and converted["pt"].y == 2
    assert isinstance(state["p"], nn.Parameter)  # the input is not changed


def test_weights_to_cpu_copies_cpu_tensors_only_when_asked() -> None:
    state = {"w": torch.ones(2), "nested": [torch.zeros(1)]}
    shared, copied = weights_to_cpu(state), weights_to_cpu(state, copy_tensors=True)
    state["w"].add_(1)  # training goes on changing the live tensors in place
    state["nested"][0].add_(1)
    assert shared["w"].tolist() == [2.0, 2.0] and shared["nested"][0].tolist() == [1.0]
    assert copied["w"].tolist() == [1.0, 1.0] and copied["nested"][0].tolist() == [0.0]


def test_ddp_prefixed_weights_load_into_a_plain_model() -> None:
    source = make_model()
    with torch.no_grad():
        for param in source.parameters():
            param.add_(1.0)
    prefixed = OrderedDict((f"module.{k}", v) for k, v in source.state_dict().items())
    prefixed._metadata = OrderedDict(  # type: ignore[attr-defined]
        (f"module.{k}" if k else "module", v)
        for k, v in source.state_dict()._metadata.items()  # type: ignore[attr-defined]
    )
    target = make_model()
    assert not torch.equal(target[0].weight, source[0].weight)
    missing, unexpected = load_state_dict(target, prefixed, strict=True)
    assert (missing, unexpected) == ([], [])
    assert_same(target.state_dict(), source.state_dict())
    assert "module.0.weight" in prefixed  # the caller's dict is unchanged


def test_a_wrapped_model_is_unwrapped() -> None:
    source, target = make_model(), nn.DataParallel(make_model())
    with torch.no_grad():
        source[2].bias.fill_(5.0)
    assert load_state_dict(target, source.state_dict(), strict=True) == ([], [])
    assert torch.equal(target.module[2].bias, torch.full((2,), 5.0))


def test_strict_lists_missing_and_unexpected_keys() -> None:
    state = make_model().state_dict()
    del state["2.bias"]
    state["head.weight"] = torch.zeros(1)
    missing, unexpected = load_state_dict(make_model(), state)
    assert (missing, unexpected) == (["2.bias"], ["head.weight"])
    with pytest.raises(RuntimeError) as info:
        load_state_dict(make_model(), state, strict=True)
    assert str(info.value) == (
        "state dict does not match Sequential: missing keys: 2.bias; unexpected keys: "
        "head.weight. Pass strict=False to load only the matching keys, or revise_keys to "
        "rename keys."
    )


def test_shape_mismatch_skips_the_tensor_and_warns_unless_strict() -> None:
    state = make_model().state_dict()
    state["2.weight"] = torch.zeros(5, 3)  # a head with five classes instead of two
    model = make_model()
    before = model[2].weight.clone()
    with pytest.warns(UserWarning, match=r"2\.weight \(checkpoint \(5, 3\), model \(2, 3\)\)"):
        missing, unexpected = load_state_dict(model, state)
    assert (missing, unexpected) == (["2.weight"], [])
    assert torch.equal(model[2].weight, before)
    assert torch.equal(model[0].weight, state["0.weight"])
    with pytest.raises(RuntimeError, match=r"shapes differ for 2\.weight \(checkpoint") as info:
        load_state_dict(make_model(), state, strict=True)
    assert "missing keys" not in str(info.value)


def test_revise_keys_apply_in_order() -> None:
    state = {f"backbone.net.{k}": v for k, v in make_model().state_dict().items()}
    model = make_model()
    revise = [(r"^backbone\.", "x."), (r"^x\.net\.", "")]
    assert load_state_dict(model, state, strict=True, revise_keys=revise) == ([], [])


def test_shape_mismatch_goes_to_the_logger_when_one_is_given(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    state = make_model().state_dict()
    state["2.weight"] = torch.zeros(5, 3)
    logger = logging.getLogger("test_checkpoint_io")
    with caplog.at_level(logging.WARNING, logger=logger.name):
        load_state_dict(make_model(), state, logger=logger)
    assert "2.weight (checkpoint (5, 3), model (2, 3))" in caplog.text


# ------------------------------------------------------------ MMEngine's module functions
def test_load_checkpoint_loads_the_state_dict_entry_and_returns_the_checkpoint(
    tmp_path: Path,
) -> None:
    source = make_model()
    with torch.no_grad():
        source[0].weight.fill_(3.0)
    prefixed = {f"module.{k}": v for k, v in source.state_dict().items()}
    save_checkpoint({"state_dict": prefixed, "meta": {"epoch": 4}}, tmp_path / "a.pth")
    model = make_model()
    checkpoint = load_checkpoint(model, tmp_path / "a.pth", map_location="cpu", strict=True)
    assert checkpoint["meta"] == {"epoch": 4}
    assert_same(model.state_dict(), source.state_dict())


def test_load_checkpoint_takes_a_bare_state_dict_and_reports_key_differences(
    tmp_path: Path,
) -> None:
    state = make_model().state_dict()
    state["extra.weight"] = torch.zeros(1)
    del state["2.bias"]
    save_checkpoint(state, tmp_path / "bare.pth")
    with pytest.warns(UserWarning, match="missing keys in") as record:
        load_checkpoint(make_model(), tmp_path / "bare.pth")
    (message,) = [str(w.message) for w in record]
    assert "missing keys in" in message and "2.bias" in message
    assert "unexpected keys in" in message and "extra.weight" in message
    with pytest.raises(RuntimeError, match=r"missing keys: 2\.bias"):
        load_checkpoint(make_model(), tmp_path / "bare.pth", strict=True)


def test_get_state_dict_drops_the_wrapper_prefix() -> None:
    model = make_model()
    wrapped = nn.DataParallel(model)
    assert list(get_state_dict(wrapped)) == list(model.state_dict())
    assert next(iter(get_state_dict(model, prefix="net."))) == "net.0.weight"


def test_local_storage_options_are_accepted_but_not_both_names(tmp_path: Path) -> None:
    save_checkpoint({"a": 1}, tmp_path / "local.pth", backend_args={"backend": "local"})
    with pytest.raises(ValueError, match="not both"):
        check_local_path(tmp_path, file_client_args={}, backend_args={})


# ------------------------------------------------------------ random number generators
def draw() -> tuple[float, list[float], list[float]]:
    return random.random(), np.random.standard_normal(3).tolist(), torch.rand(3).tolist()


def test_rng_state_restores_the_next_draws() -> None:
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    np.random.standard_normal()  # leaves a cached gaussian in numpy's state
    state = get_rng_state()
    first = draw()
    assert draw() != first  # the generators moved on
    set_rng_state(state)
    assert draw() == first


def test_rng_state_survives_a_safe_save_and_load(tmp_path: Path) -> None:
    random.seed(2)
    np.random.seed(2)
    torch.manual_seed(2)
    np.random.standard_normal()
    save_checkpoint({"rng": get_rng_state()}, tmp_path / "rng.pth")
    first = draw()
    draw()
    set_rng_state(load_checkpoint_file(tmp_path / "rng.pth", weights_only=True)["rng"])
    assert draw() == first


def test_rng_state_packs_each_generator_into_one_string() -> None:
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    state = get_rng_state()
    words = state["python"][1].encode("latin-1")  # one character per byte
    assert struct.unpack(f"<{len(words) // 4}I", words) == random.getstate()[1]
    assert state["torch"].encode("latin-1") == bytes(torch.get_rng_state().tolist())
    keys = np.random.get_state(legacy=True)[1].astype("<u4").tobytes()
    assert state["numpy"]["keys"].encode("latin-1") == keys
    assert {type(value) for value in state["numpy"].values()} <= {str, int, float}


def numpy_legacy_state() -> dict[str, object]:
    name, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    return {"bit_generator": name, "keys": keys.astype("<u4").tobytes().decode("latin-1"),
            "pos": pos, "has_gauss": has_gauss, "cached_gaussian": gauss}  # fmt: skip


def test_rng_state_follows_numpy_through_every_kind_of_change() -> None:
    """numpy's state is read again only when it moved: each way it can change must show."""
    np.random.seed(5)
    changes = [
        lambda: None,  # nothing drew: the same state again
        lambda: np.random.random(),  # a uniform draw moves the position
        lambda: np.random.standard_normal(),  # a pair drawn, one Gaussian cached
        lambda: np.random.standard_normal(),  # the cached one handed out: no draw at all
        lambda: np.random.random(700),  # past the 624 words: the key is regenerated
        lambda: np.random.seed(5),  # seeded again
        lambda: np.random.standard_normal(),
        lambda: np.random.set_state(np.random.get_state()),
    ]
    for change in changes:
        change()
        assert get_rng_state()["numpy"] == numpy_legacy_state()


def test_rng_state_of_numpy_after_a_restore_is_the_restored_one() -> None:
    np.random.seed(6)
    np.random.standard_normal()  # one Gaussian cached
    saved = get_rng_state()
    np.random.standard_normal()  # handed out: the same words, no cached Gaussian
    assert get_rng_state()["numpy"]["has_gauss"] == 0
    set_rng_state(saved)
    assert get_rng_state()["numpy"] == saved["numpy"] == numpy_legacy_state()


def test_rng_state_still_reads_the_tensor_tuple_and_bytes_forms_of_older_checkpoints() -> None:
    random.seed(4)
    np.random.seed(4)
    torch.manual_seed(4)
    state = get_rng_state()
    version, words, gauss_next = state["python"]
    word_bytes = words.encode("latin-1")
    word_tuple = struct.unpack(f"<{len(word_bytes) // 4}I", word_bytes)
    torch_bytes, keys = state["torch"].encode("latin-1"), state["numpy"]["keys"].encode("latin-1")
    first = draw()
    older_forms = [  # tensors; a tuple of Python words; bytes
        (torch.tensor(word_tuple, dtype=torch.int64),
         torch.frombuffer(bytearray(torch_bytes), dtype=torch.uint8),
         torch.from_numpy(np.frombuffer(keys, dtype="<u4").astype(np.int64))),
        (word_tuple, torch.frombuffer(bytearray(torch_bytes), dtype=torch.uint8), keys),
        (word_bytes, torch_bytes, keys),
    ]  # fmt: skip
    for python_words, torch_state, numpy_keys in older_forms:
        set_rng_state({
            "python": (version, python_words, gauss_next),
            "torch": torch_state,
            "numpy": {**state["numpy"], "keys": numpy_keys},
        })  # fmt: skip
        assert draw() == first


def test_rng_state_without_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    with_numpy = get_rng_state()
    assert "numpy" in with_numpy
    monkeypatch.setitem(sys.modules, "numpy", None)  # `import numpy` now fails
    state = get_rng_state()
    assert "numpy" not in state
    set_rng_state(with_numpy)  # the numpy part is skipped silently
    first = random.random()
    set_rng_state(with_numpy)
    assert random.random() == first


# ------------------------------------------------------------ import cost
def test_importing_the_module_loads_neither_torch_nor_numpy() -> None:
    code = (
        "import json, sys, hooks_core.checkpoint;"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'numpy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
