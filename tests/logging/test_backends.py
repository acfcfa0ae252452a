"""Logger backends on their own: real files and event files, read back.

The backends are imported from their modules, which register them in
``LOG_BACKENDS`` on import.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
import torch
from logging_parts import read_events
from run_logs import read_json_lines

from hooks_core import LOG_BACKENDS
from hooks_logging._backend import LoggerBackend, image_to_hwc_uint8
from hooks_logging._json_backend import JsonBackend
from hooks_logging._tensorboard_backend import MISSING_TENSORBOARD, TensorboardBackend
from hooks_logging._text_backend import TextBackend

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------ the protocol
class ListBackend(LoggerBackend):
    """The smallest backend: only `log_scalars`."""

    def __init__(self) -> None:
        self.records: list[tuple[dict[str, float], int]] = []
        self.releases = 0

    def log_scalars(self, scalars: Any, step: int) -> None:
        self._check_open()
        self.records.append((dict(scalars), step))

    def _close(self) -> None:
        self.releases += 1


def test_a_backend_needs_only_log_scalars_and_closes_once() -> None:
    with ListBackend() as backend:
        backend.log_scalars({"loss": 1.0}, 1)
        backend.log_config({"lr": 0.1})  # the defaults accept and ignore
        backend.log_image("img", np.zeros((2, 2)), 1)
        backend.log_text("note", "hi", 1)
        backend.flush()
    assert backend.closed and backend.releases == 1
    backend.close()
    assert backend.releases == 1
    with pytest.raises(ValueError, match="ListBackend is closed"):
        backend.log_scalars({"loss": 1.0}, 2)
    with pytest.raises(TypeError, match="abstract"):
        LoggerBackend()  # type: ignore[abstract]


@pytest.mark.parametrize(
    ("image", "shape"),
    [
        (np.zeros((5, 7), np.uint8), (5, 7, 1)),
        (np.zeros((5, 7, 3), np.uint8), (5, 7, 3)),
        (np.zeros((5, 7, 4), np.float32), (5, 7, 4)),
        (torch.zeros(3, 5, 7), (5, 7, 3)),
        (torch.zeros(1, 5, 7), (5, 7, 1)),
        (np.zeros((3, 5, 3)), (3, 5, 3)),  # ambiguous: channels last wins
    ],
)
def test_images_are_read_as_hw_hwc_or_chw(image: Any, shape: tuple[int, ...]) -> None:
    converted = image_to_hwc_uint8(image)
    assert converted.shape == shape
    assert converted.dtype == np.uint8


def test_image_values_are_scaled_to_uint8() -> None:
    floats = np.array([[0.0, 0.5, 1.0, 2.0, -1.0, np.nan]])
    assert image_to_hwc_uint8(floats)[0, :, 0].tolist() == [0, 128, 255, 255, 0, 0]
    assert image_to_hwc_uint8(np.array([[300, 7]], np.int64))[0, :, 0].tolist() == [255, 7]
    with pytest.raises(ValueError, match=r"shape \(2, 5, 7\)"):
        image_to_hwc_uint8(np.zeros((2, 5, 7)))


# ------------------------------------------------------------ JSON
def test_json_lines_in_mmengine_layout(tmp_path: Path) -> None:
    with JsonBackend(tmp_path / "vis_data") as backend:
        backend.log_scalars({"lr": 0.02, "loss": 0.7312, "epoch": 1, "iter": 50}, step=50)
        backend.log_scalars({"accuracy/top1": 35.7}, step=1)
        backend.log_scalars({"loss": np.float32(0.25), "n": np.int64(3)}, step=51)
    lines = read_json_lines(tmp_path / "vis_data" / "scalars.json")
    assert lines == [
        {"lr": 0.02, "loss": 0.7312, "epoch": 1, "iter": 50, "step": 50},
        {"accuracy/top1": 35.7, "step": 1},
        {"loss": 0.25, "n": 3, "step": 51},
    ]
    assert isinstance(lines[0]["epoch"], int)


def test_json_lines_are_on_disk_before_close_and_appended_on_reopen(tmp_path: Path) -> None:
    backend = JsonBackend(tmp_path, filename="log.json")
    backend.log_scalars({"loss": 1.0}, 1)
    assert read_json_lines(tmp_path / "log.json") == [{"loss": 1.0, "step": 1}]  # line-buffered
    backend.flush()
    backend.close()
    backend.close()
    with JsonBackend(tmp_path, filename="log.json") as resumed:
        resumed.log_scalars({"loss": 0.5}, 2)
    assert [line["step"] for line in read_json_lines(tmp_path / "log.json")] == [1, 2]
    with pytest.raises(ValueError, match="closed"):
        resumed.log_scalars({"loss": 0.5}, 3)


def test_json_writes_nan_and_infinity_as_strict_json_that_float_reads_back(tmp_path: Path) -> None:
    with JsonBackend(tmp_path) as backend:
        backend.log_scalars({"loss": math.nan, "grad_norm": math.inf, "low": -math.inf}, 3)
        backend.log_scalars({"loss": np.float32("nan"), "ok": 0.5}, 4)  # through .item()
        backend.log_scalars({"loss": 0.25}, 5)
    text = (tmp_path / "scalars.json").read_text(encoding="utf-8")
    assert text == (
        '{"loss": "NaN", "grad_norm": "Infinity", "low": "-Infinity", "step": 3}\n'
        '{"loss": "NaN", "ok": 0.5, "step": 4}\n'
        '{"loss": 0.25, "step": 5}\n'
    )

    def strict(constant: str) -> None:
        raise ValueError(f"bare {constant} is not JSON")

    lines = [json.loads(line, parse_constant=strict) for line in text.splitlines()]
    first = {key: float(value) for key, value in lines[0].items()}
    assert math.isnan(first["loss"]) and first["grad_norm"] == math.inf
    assert first["low"] == -math.inf


def test_json_rejects_a_step_key_and_non_numbers(tmp_path: Path) -> None:
    with JsonBackend(tmp_path) as backend:
        with pytest.raises(ValueError, match="'step' is the JsonBackend's own key"):
            backend.log_scalars({"step": 3.0}, 3)
        with pytest.raises(TypeError, match="takes numbers, got object"):
            backend.log_scalars({"loss": object()}, 3)  # type: ignore[dict-item]


def test_json_config_and_images(tmp_path: Path) -> None:
    class Opaque:
        def __repr__(self) -> str:
            return "<Opaque>"

    config = {"model": {"type": "Net", "depth": 18}, "lr": 0.1, "obj": Opaque(), 3: (1, 2)}
    with JsonBackend(tmp_path) as backend:
        backend.log_config(config)
        backend.log_image("val/sample", np.full((4, 6, 3), 200, np.uint8), step=2)
        backend.log_image("mask", torch.ones(1, 5, 6), step=0)  # CHW
        backend.log_text("note", "ignored", 0)
    saved = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert saved == {
        "model": {"type": "Net", "depth": 18},
        "lr": 0.1,
        "obj": "<Opaque>",
        "3": [1, 2],
    }
    from PIL import Image

    with Image.open(tmp_path / "vis_image" / "val_sample_2.png") as image:  # MMEngine's folder
        assert image.size == (6, 4) and image.mode == "RGB"
        assert image.getpixel((0, 0)) == (200, 200, 200)
    with Image.open(tmp_path / "vis_image" / "mask_0.png") as image:
        assert image.size == (6, 5) and image.mode == "L" and image.getpixel((0, 0)) == 255
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.json", "config.py", "scalars.json", "vis_image",
    ]  # fmt: skip


def test_json_saves_images_without_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)  # Pillow absent: the PNG is written without it
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[1, 2] = (10, 20, 30, 40)
    with JsonBackend(tmp_path, image_dir="pictures") as backend:
        backend.log_image("a", rgba, 0)
    monkeypatch.undo()
    from PIL import Image

    with Image.open(tmp_path / "pictures" / "a_0.png") as image:
        assert image.mode == "RGBA" and image.getpixel((2, 1)) == (10, 20, 30, 40)


# ------------------------------------------------------------ text
def test_text_backend_writes_a_file_and_a_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    logger = logging.getLogger("test_backends.text")
    with (
        caplog.at_level(logging.INFO, logger=logger.name),
        TextBackend(tmp_path / "logs", "run.log", logger=logger) as backend,
    ):
        backend.log_text("train", "Epoch(train) [1][10/50]  loss: 0.5000", 10)
        backend.log_scalars(
            {"loss": 0.43217, "lr": 2e-5, "epoch": 1, "acc": math.nan, "big": 1.5e7}, 10
        )
        backend.log_config({"lr": 0.1})
        backend.log_image("ignored", np.zeros((2, 2)), 0)
        backend.flush()
        assert (tmp_path / "logs" / "run.log").read_text(encoding="utf-8").startswith("Epoch")
    lines = (tmp_path / "logs" / "run.log").read_text(encoding="utf-8").splitlines()
    assert lines == [
        "Epoch(train) [1][10/50]  loss: 0.5000",
        "step 10  loss: 0.4322  lr: 2.0000e-05  epoch: 1  acc: nan  big: 1.5000e+07",
        "config:",
        "{",
        '  "lr": 0.1',
        "}",
    ]
    assert [r.getMessage() for r in caplog.records] == [
        lines[0],
        lines[1],
        "\n".join(lines[2:]),
    ]


def test_text_backend_default_file_name_and_default_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with TextBackend(save_dir=tmp_path) as backend:
        backend.log_text("x", "to the file", 0)
    (log_file,) = tmp_path.iterdir()
    assert log_file.suffix == ".log" and len(log_file.stem) == len("20240101_120000")
    assert backend.logger is None
    with caplog.at_level(logging.INFO, logger="hooks_logging"), TextBackend() as console:
        console.log_text("x", "to the console", 0)
    assert [r.getMessage() for r in caplog.records] == ["to the console"]


# ------------------------------------------------------------ TensorBoard
def test_tensorboard_events_read_back(tmp_path: Path) -> None:
    backend = TensorboardBackend(tmp_path / "tb")
    for step in range(1, 6):
        backend.log_scalars({"train/loss": 1 / step, "train/lr": 0.1}, step)
    backend.log_config({"model": {"type": "Net"}, "lr": 0.1})
    backend.log_text("notes", "hello **tb**", 3)
    backend.log_image("sample", np.random.default_rng(0).random((8, 12, 3)), 5)  # HWC floats
    backend.log_image("chw", torch.zeros(3, 4, 6), 5)
    backend.flush()

    events = read_events(tmp_path / "tb")  # readable before close
    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2, 3, 4, 5]
    assert [e.value for e in loss] == pytest.approx([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5], rel=1e-6)
    assert events.Scalars("train/lr")[0].value == pytest.approx(0.1, rel=1e-6)
    (config,) = events.Tensors("config/text_summary")
    text = config.tensor_proto.string_val[0].decode()
    assert text.startswith("```\n{") and text.endswith("}\n```")
    assert json.loads(text.strip("`\n")) == {"model": {"type": "Net"}, "lr": 0.1}
    (notes,) = events.Tensors("notes/text_summary")
    assert notes.step == 3 and notes.tensor_proto.string_val == [b"hello **tb**"]
    (image,) = events.Images("sample")
    assert (image.width, image.height, image.step) == (12, 8, 5)
    assert image.encoded_image_string.startswith(b"\x89PNG")
    (chw,) = events.Images("chw")
    assert (chw.width, chw.height) == (6, 4)

    backend.close()
    backend.close()  # MMEngine's MLflow backend crashed here
    with pytest.raises(ValueError, match="closed"):
        backend.log_scalars({"x": 1.0}, 6)


def test_tensorboard_context_manager_closes(tmp_path: Path) -> None:
    with TensorboardBackend(tmp_path) as backend:
        backend.log_scalars({"loss": 0.9}, 7)
    assert backend.closed
    (event,) = read_events(tmp_path).Scalars("loss")
    assert event.step == 7 and event.value == pytest.approx(0.9, rel=1e-6)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )


def test_missing_tensorboard_names_the_extra(tmp_path: Path) -> None:
    result = run_python(
        f"""
        import sys
        sys.modules['tensorboard'] = None  # how Python marks a module as absent
        from hooks_core import LOG_BACKENDS
        from hooks_logging._tensorboard_backend import TensorboardBackend
        try:
            TensorboardBackend({str(tmp_path)!r})
        except ImportError as err:
            print(err)
        try:
            LOG_BACKENDS.build(dict(type='tensorboard', save_dir={str(tmp_path)!r}))
        except ImportError as err:
            print(err)
            print(err.__notes__[0].split(',')[0])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        MISSING_TENSORBOARD,
        MISSING_TENSORBOARD,
        "raised by tensorboard(...)",
    ]
    assert MISSING_TENSORBOARD == (
        'TensorboardBackend needs tensorboard: pip install "./packages/hooks-logging[tensorboard]"'
    )


def test_importing_the_backends_imports_neither_torch_nor_tensorboard() -> None:
    result = run_python(
        """
        import sys
        import hooks_logging
        import hooks_logging._json_backend, hooks_logging._text_backend
        import hooks_logging._tensorboard_backend
        heavy = sorted(m for m in ('torch', 'tensorboard', 'numpy', 'PIL') if m in sys.modules)
        print(heavy)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ------------------------------------------------------------ registry
@pytest.mark.parametrize(
    ("names", "cls", "options"),
    [
        (("json", "JsonBackend"), JsonBackend, {}),
        (("text", "TextBackend"), TextBackend, {"filename": "x.log"}),
        (("tensorboard", "TensorboardBackend"), TensorboardBackend, {}),
    ],
)
def test_backends_build_by_name(
    tmp_path: Path, names: tuple[str, str], cls: type, options: dict[str, Any]
) -> None:
    for name in names:
        backend = LOG_BACKENDS.build(dict(type=name, save_dir=str(tmp_path / name), **options))
        try:
            assert type(backend) is cls
            backend.log_scalars({"loss": 1.0}, 1)
        finally:
            backend.close()


# ------------------------------------------------------------ a plain training loop
@pytest.mark.parametrize(
    "make",
    [
        lambda d: JsonBackend(d),
        lambda d: TensorboardBackend(d),
        lambda d: TextBackend(d, "train.log"),
    ],
    ids=["json", "tensorboard", "text"],
)
def test_a_plain_training_loop_logs_its_loss(
    tmp_path: Path, make: Callable[[Path], LoggerBackend]
) -> None:
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs = torch.randn(32, 3)
    targets = inputs @ torch.tensor([[1.0], [-1.0], [2.0]])
    losses = []
    with make(tmp_path) as backend:
        backend.log_config({"lr": 0.1, "steps": 5})
        for step in range(1, 6):
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())  # one conversion per record
            backend.log_scalars({"loss": losses[-1]}, step)
    assert losses[-1] < losses[0]
    if isinstance(backend, JsonBackend):
        logged = [
            (line["step"], line["loss"]) for line in read_json_lines(tmp_path / "scalars.json")
        ]
        assert logged == list(zip(range(1, 6), losses, strict=True))
    elif isinstance(backend, TensorboardBackend):
        events = read_events(tmp_path).Scalars("loss")
        assert [e.step for e in events] == [1, 2, 3, 4, 5]
        assert [e.value for e in events] == pytest.approx(losses, rel=1e-6)
    else:
        lines = (tmp_path / "train.log").read_text(encoding="utf-8").splitlines()
        assert lines[-1] == f"step 5  loss: {losses[-1]:.4f}"
