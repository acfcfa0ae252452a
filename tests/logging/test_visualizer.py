"""`Visualizer` and MMEngine's vis backends: standalone, drawing, and inside a real run.

Images are read back with Pillow and TensorBoard's own event reader; the
JSON logs with the json module.
"""

from __future__ import annotations

import io
import threading
from itertools import count
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from logging_parts import read_events
from run_logs import json_records, read_json_lines
from toy import runner_kwargs

from hooks_core import Hook, Runner
from hooks_core.registry import VISBACKENDS, VISUALIZERS
from hooks_logging import (
    BaseVisBackend,
    LocalVisBackend,
    LoggerBackend,
    TensorboardVisBackend,
    Visualizer,
    force_init_env,
)

_names = count()


def fresh_name() -> str:
    """A visualizer name no other test used (instances are shared by name per process)."""
    return f"test-visualizer-{next(_names)}"


def png_pixels(path: Path | io.BytesIO) -> np.ndarray[Any, Any]:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image)


def local(tmp_path: Path, **kwargs: Any) -> Visualizer:
    return Visualizer(
        fresh_name(), vis_backends=[dict(type="LocalVisBackend")], save_dir=tmp_path, **kwargs
    )


# ------------------------------------------------------------ standalone
def test_local_backend_writes_mmengines_files(tmp_path: Path) -> None:
    image = np.zeros((5, 7, 3), np.uint8)
    image[1, 2] = (255, 10, 0)
    vis = local(tmp_path)
    vis.add_image("sample", image, step=3)
    vis.add_scalars({"loss": torch.tensor(0.5), "acc": np.float32(0.25)}, step=2)
    vis.add_scalar("lr", 0.1, step=4)
    vis.add_config({"model": {"type": "Net"}, "api_key": "s3cret"})
    vis.close()
    vis_data = tmp_path / "vis_data"
    pixels = png_pixels(vis_data / "vis_image" / "sample_3.png")
    assert pixels.shape == (5, 7, 3) and pixels[1, 2].tolist() == [255, 10, 0]
    assert pixels.sum() == 265
    assert read_json_lines(vis_data / "scalars.json") == [
        {"loss": 0.5, "acc": 0.25, "step": 2},
        {"lr": 0.1, "step": 4},
    ]
    config = (vis_data / "config.py").read_text()
    assert "api_key = '******'" in config and "s3cret" not in config


def test_add_scalars_also_appends_to_file_path(tmp_path: Path) -> None:
    vis = local(tmp_path)
    vis.add_scalars({"mAP": 0.7}, step=1, file_path="metrics.json")
    vis.add_scalars({"mAP": 0.8}, step=2, file_path="metrics.json")
    with pytest.raises(ValueError, match=r"must end with '\.json'"):
        vis.add_scalars({"mAP": 0.9}, file_path="metrics.txt")
    with pytest.raises(ValueError, match="is the scalars file itself"):
        vis.add_scalars({"mAP": 0.9}, file_path="scalars.json")
    with pytest.raises(ValueError, match="not as a 'step' key"):
        vis.add_scalars({"step": 3})
    with pytest.raises(TypeError, match="takes a dict"):
        vis.add_scalars([("mAP", 0.1)])  # type: ignore[arg-type]
    vis.close()
    expected = [{"mAP": 0.7, "step": 1}, {"mAP": 0.8, "step": 2}]
    assert read_json_lines(tmp_path / "vis_data" / "metrics.json") == expected
    assert read_json_lines(tmp_path / "vis_data" / "scalars.json") == expected


def test_tensorboard_backend_opens_on_first_write_and_shows_images(tmp_path: Path) -> None:
    vis = Visualizer(
        fresh_name(), vis_backends=dict(type="TensorboardVisBackend"), save_dir=tmp_path
    )
    assert not (tmp_path / "vis_data").exists()  # nothing opened yet, as MMEngine
    backend = vis.get_backend("TensorboardVisBackend")
    assert isinstance(backend, TensorboardVisBackend)
    vis.add_image("sample", np.full((4, 6, 3), 200, np.uint8), step=5)
    vis.add_scalars({"loss": 0.25}, step=5)
    backend.experiment.flush()  # the SummaryWriter, as in MMEngine
    events = read_events(tmp_path / "vis_data")
    vis.close()
    (image,) = events.Images("sample")
    assert (image.step, image.width, image.height) == (5, 6, 4)
    assert [(e.step, e.value) for e in events.Scalars("loss")] == [(5, 0.25)]


def test_vis_backends_configs_names_and_errors(tmp_path: Path) -> None:
    configs = [dict(type="LocalVisBackend", name="first"), dict(type="LocalVisBackend")]
    vis = Visualizer(fresh_name(), vis_backends=configs, save_dir=tmp_path)
    assert configs[0] == dict(type="LocalVisBackend", name="first")  # not changed
    assert isinstance(vis.get_backend("first"), LocalVisBackend)
    assert isinstance(vis.get_backend("LocalVisBackend"), LocalVisBackend)
    assert vis.get_backend("missing") is None
    with pytest.raises(RuntimeError, match="two backends are called 'LocalVisBackend'"):
        Visualizer(fresh_name(), vis_backends=[configs[1], configs[1]], save_dir=tmp_path)
    with pytest.raises(TypeError, match="list of config dicts or BaseVisBackend"):
        Visualizer(fresh_name(), vis_backends=["LocalVisBackend"])
    with pytest.warns(UserWarning, match="leaves out LocalVisBackend: it needs a folder"):
        assert Visualizer(fresh_name(), vis_backends=[configs[1]]).get_backend(
            "LocalVisBackend"
        ) is None  # fmt: skip
    with pytest.raises(ValueError, match=r"config_save_file must end with '\.py'"):
        LocalVisBackend(tmp_path, config_save_file="config.json")


def test_get_instance_and_the_current_one_across_subclasses(tmp_path: Path) -> None:
    class DetVisualizer(Visualizer):
        pass

    name = fresh_name()
    first = Visualizer.get_instance(name, save_dir=tmp_path)
    assert Visualizer.get_instance(name) is first
    assert Visualizer.get_current_instance() is first
    det = DetVisualizer.get_instance(fresh_name())
    assert Visualizer.get_current_instance() is det  # MMEngine: the latest of any subclass
    assert DetVisualizer.get_current_instance() is det
    built = VISUALIZERS.build(dict(type="Visualizer", name=fresh_name()))
    assert isinstance(built, Visualizer) and Visualizer.get_current_instance() is built


def test_a_vis_backend_of_ones_own_is_called_directly(tmp_path: Path) -> None:
    """MMEngine's way to add a backend: subclass BaseVisBackend, register it, use it by name."""

    @VISBACKENDS.register_module(force=True)
    class ListVisBackend(BaseVisBackend):
        def __init__(self, save_dir: str | None = None) -> None:
            super().__init__(save_dir)
            self.images: list[tuple[str, int]] = []
            self.set_ups = 0

        @property
        def experiment(self) -> Any:
            return self

        def _init_env(self) -> None:
            self.set_ups += 1

        @force_init_env
        def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
            self.images.append((name, step))

    vis = Visualizer(fresh_name(), vis_backends=[dict(type="ListVisBackend")])
    backend = vis.get_backend("ListVisBackend")
    assert isinstance(backend, ListVisBackend) and backend.set_ups == 0
    vis.add_image("a", np.zeros((2, 2, 3), np.uint8), 7)
    vis.add_image("b", np.zeros((2, 2, 3), np.uint8), 8)
    assert backend.images == [("a", 7), ("b", 8)] and backend.set_ups == 1


def test_add_datasample_records_the_image(tmp_path: Path) -> None:
    vis = local(tmp_path)
    vis.add_datasample("cat.jpg", np.full((3, 4, 3), 9, np.uint8), step=2)
    vis.close()
    assert png_pixels(tmp_path / "vis_data" / "vis_image" / "cat.jpg_2.png").max() == 9


# ------------------------------------------------------------ drawing (matplotlib)
def test_drawing_on_the_image_keeps_its_size_and_draws() -> None:
    image = np.zeros((40, 60, 3), np.uint8)
    vis = Visualizer(fresh_name(), image=image)
    assert np.array_equal(vis.get_image(), image)  # nothing drawn: the image itself
    drawn = (
        vis.draw_bboxes(np.array([10, 5, 50, 30]), edge_colors=(255, 0, 0))
        .draw_texts("cat", np.array([12, 8]), colors="w")
        .draw_points(np.array([[30, 20]]), colors="b", sizes=np.array([20]))
        .draw_lines(np.array([0, 59]), np.array([39, 39]), colors="y")
        .draw_circles(np.array([30, 20]), np.array([4]), edge_colors="g")
        .get_image()
    )
    assert drawn.shape == (40, 60, 3) and drawn.dtype == np.uint8
    left_edge = drawn[10:25, 9:12]
    assert (left_edge[..., 0] > 150).any() and (left_edge[..., 2] < 80).all()  # a red box edge
    assert drawn[2, 2].tolist() == [0, 0, 0]  # outside everything


def test_binary_masks_are_painted_in_their_colour() -> None:
    vis = Visualizer(fresh_name(), image=np.zeros((10, 10, 3), np.uint8))
    mask = np.zeros((10, 10), bool)
    mask[:, :5] = True
    drawn = vis.draw_binary_masks(mask, colors=(0, 0, 255), alphas=1.0).get_image()
    assert drawn[5, 1].tolist() == [0, 0, 255] and drawn[5, 8].tolist() == [0, 0, 0]
    with pytest.raises(TypeError, match="boolean masks"):
        vis.draw_binary_masks(mask.astype(np.uint8))
    with pytest.raises(ValueError, match="masks of size"):
        vis.draw_binary_masks(np.zeros((3, 3), bool))


def test_show_opens_a_matplotlib_window_for_the_image() -> None:
    import matplotlib.pyplot as plt

    vis = Visualizer(fresh_name())
    vis.add_datasample("shown", np.full((3, 4, 3), 7, np.uint8), show=True, wait_time=0.01)
    figure = plt.figure("shown")
    try:
        (axes,) = figure.axes
        assert axes.images[0].get_array().shape == (3, 4, 3)
    finally:
        plt.close(figure)


def test_drawing_errors_and_warnings() -> None:
    vis = Visualizer(fresh_name())
    with pytest.raises(RuntimeError, match="call set_image"):
        vis.get_image()
    vis.set_image(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError, match="x1 <= x2"):
        vis.draw_bboxes(np.array([5, 5, 1, 1]))
    with pytest.raises(ValueError, match=r"bboxes must have shape \(N, 4\)"):
        vis.draw_bboxes(np.array([1, 2, 3]))
    with pytest.warns(UserWarning, match="a polygon is partly outside the image"):
        vis.draw_bboxes(np.array([0, 0, 20, 5]))
    with pytest.raises(ValueError, match="2 texts and 1 positions"):
        vis.draw_texts(["a", "b"], np.array([1, 1]))
    with pytest.raises(ValueError, match="backend='matplotlib' only"):
        vis.show(backend="cv2")


# ------------------------------------------------------------ in a run
class ImageRecorder(LoggerBackend):
    """A real backend that keeps the images it gets, and the threads it got them on."""

    def __init__(self) -> None:
        self.images: list[tuple[str, int, tuple[int, ...]]] = []
        self.threads: set[str] = set()

    def log_scalars(self, scalars: Any, step: int) -> None:
        self._check_open()

    def log_image(self, name: str, image: Any, step: int = 0) -> None:
        self._check_open()
        self.threads.add(threading.current_thread().name)
        self.images.append((name, step, tuple(image.shape)))


class Pictures(Hook):
    """Writes an image and a scalar through ``runner.visualizer`` after each epoch."""

    def after_train_epoch(self, runner: Any) -> None:
        shade = np.full((4, 6, 3), 40 * (runner.epoch + 1), np.uint8)
        runner.visualizer.add_image("pic", shade, step=runner.epoch)
        runner.visualizer.add_scalars({"custom": 1.5}, step=runner.iter, file_path="custom.json")


def test_the_runners_visualizer_writes_through_the_logger_hooks_backends(tmp_path: Path) -> None:
    recorder = ImageRecorder()
    logger = {"type": "LoggerHook", "interval": 2, "backends": ["tensorboard", recorder]}
    runner = Runner(
        **runner_kwargs(tmp_path, custom_hooks=[Pictures()], default_hooks={"logger": logger})
    )
    runner.train()
    vis_data = Path(runner.log_dir) / "vis_data"
    images = sorted(p.name for p in (vis_data / "vis_image").iterdir())
    assert images == ["pic_0.png", "pic_1.png", "pic_2.png"]
    assert png_pixels(vis_data / "vis_image" / "pic_2.png").max() == 120
    assert recorder.images == [("pic", epoch, (4, 6, 3)) for epoch in range(3)]
    assert all(name.startswith("hooks-logging:") for name in recorder.threads)  # writer threads
    events = read_events(vis_data)
    assert [image.step for image in events.Images("pic")] == [0, 1, 2]
    assert [e.step for e in events.Scalars("custom")] == [5, 10, 15]
    assert [r["step"] for r in json_records(runner) if "custom" in r] == [5, 10, 15]
    assert len(read_json_lines(vis_data / "custom.json")) == 3


def test_vis_backends_of_the_runners_visualizer_join_the_run(tmp_path: Path) -> None:
    """MMEngine's configs name TensorBoard in the visualizer: the run's scalars go there too,
    and the LocalVisBackend is the run's own JSON log (each record once)."""
    vis_backends = [dict(type="LocalVisBackend"), dict(type="TensorboardVisBackend")]
    runner = Runner(
        **runner_kwargs(
            tmp_path,
            custom_hooks=[Pictures()],
            default_hooks={"logger": {"type": "LoggerHook", "interval": 2}},
            visualizer=dict(type="Visualizer", vis_backends=vis_backends),
        )
    )
    runner.train()
    vis_data = Path(runner.log_dir) / "vis_data"
    assert len(list(vis_data.glob("events.out.tfevents.*"))) == 1
    events = read_events(vis_data)
    assert [e.step for e in events.Scalars("loss")] == [2, 4, 7, 9, 12, 14]
    shades = [png_pixels(io.BytesIO(i.encoded_image_string)).max() for i in events.Images("pic")]
    assert shades == [40, 80, 120]
    losses = [r["step"] for r in json_records(runner) if "loss" in r]
    assert losses == [2, 4, 7, 9, 12, 14]  # not written twice
    # After the run the visualizer writes on its own again.
    runner.visualizer.add_image("after", np.zeros((2, 2, 3), np.uint8), step=1)
    runner.visualizer.close()
    assert (vis_data / "vis_image" / "after_1.png").exists()
