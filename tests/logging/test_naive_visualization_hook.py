"""`NaiveVisualizationHook`: called directly as MMEngine's tests call it, and in a real test run."""

from __future__ import annotations

from itertools import count
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from hooks_core import HOOKS, BaseModel, Runner
from hooks_core.registry import VISBACKENDS
from hooks_logging import BaseVisBackend, NaiveVisualizationHook, Visualizer


class Meta:
    """A data sample as MMEngine's data elements are: meta information as attributes and ``get``."""

    def __init__(self, **meta: Any) -> None:
        self.__dict__.update(meta)

    def get(self, key: str, default: Any = None) -> Any:
        return self.__dict__.get(key, default)


_names = count()


def stand_in(tmp_path: Path, **attributes: Any) -> Any:
    """What the hook reads from a runner: a visualizer (writing PNGs in ``log_dir``), a model."""
    log_dir = tmp_path / "log"
    visualizer = Visualizer(
        f"test-naive-{next(_names)}",
        vis_backends=[dict(type="LocalVisBackend")],
        save_dir=log_dir,
    )
    return SimpleNamespace(**{"log_dir": str(log_dir), "visualizer": visualizer, **attributes})


def saved(runner: Any) -> dict[str, np.ndarray[Any, Any]]:
    """The PNGs the visualizer wrote, by file name."""
    from PIL import Image

    folder = Path(runner.log_dir) / "vis_data" / "vis_image"
    images = {}
    for path in sorted(folder.glob("*.png")) if folder.exists() else []:
        with Image.open(path) as image:
            images[path.name] = np.asarray(image)
    return images


def ramp(height: int, width: int) -> torch.Tensor:
    """A (1, 3, H, W) input whose pixel (y, x) holds y * W + x in every channel."""
    plane = torch.arange(height * width, dtype=torch.float32).reshape(height, width)
    return plane.expand(1, 3, height, width).clone()


def test_inputs_are_unnormalised_unpadded_resized_and_named_after_their_file(
    tmp_path: Path,
) -> None:
    runner = stand_in(tmp_path)
    hook = NaiveVisualizationHook()
    sample = Meta(
        img_norm_cfg=dict(mean=(10, 10, 10), std=(2, 2, 2), to_bgr=True),
        scale=(10, 10), pad_shape=(15, 15, 3), ori_height=5, ori_width=5, img_path="a/cat.jpg",
    )  # fmt: skip
    hook.after_test_iter(runner, 10, [dict(inputs=ramp(15, 15), data_sample=sample)], [None])
    runner.visualizer.close()
    ((name, image),) = saved(runner).items()
    assert name == "cat.jpg_10.png"
    assert image.shape == (5, 5, 3)
    # The 10x10 unpadded part resized to 5x5 keeps every second pixel; each is 2 * v + 10.
    assert image[1, 1].tolist() == [2 * (2 * 15 + 2) + 10] * 3
    assert image[4, 4].tolist() == [min(255, 2 * (8 * 15 + 8) + 10)] * 3


@pytest.mark.parametrize(
    ("meta", "shape", "corner"),
    [
        (dict(pad_shape=(6, 6, 3), ori_height=4, ori_width=4), (4, 4, 3), 4 * 6 - 6 + 3),
        (dict(ori_height=6, ori_width=6), (6, 6, 3), 35),
        ({}, (6, 6, 3), 35),  # nothing known: the input as it is
    ],
)
def test_padding_and_resizing_follow_the_meta_information(
    tmp_path: Path, meta: dict[str, Any], shape: tuple[int, ...], corner: int
) -> None:
    runner = stand_in(tmp_path)
    NaiveVisualizationHook().after_test_iter(
        runner, 0, [dict(inputs=ramp(6, 6)[0], data_sample=meta)], [None]
    )
    runner.visualizer.close()
    (image,) = saved(runner).values()
    assert image.shape == shape and image[-1, -1, 0] == corner


def test_interval_and_a_collated_batch_of_samples(tmp_path: Path) -> None:
    runner = stand_in(tmp_path)
    hook = NaiveVisualizationHook(interval=2)
    batch = {
        "inputs": [ramp(2, 3)[0], ramp(2, 3)[0] + 1],
        "data_samples": [dict(img_path="x.png"), dict(img_path="y.png")],
    }
    hook.after_test_iter(runner, 0, batch, [None, None])  # the first of two: nothing
    assert saved(runner) == {}
    hook.after_test_iter(runner, 1, batch, [None, None])
    runner.visualizer.close()
    images = saved(runner)
    assert sorted(images) == ["x.png_1.png", "y.png_1.png"]
    assert images["y.png_1.png"][0, 0].tolist() == [1, 1, 1]


def test_outputs_and_flags_reach_add_datasample() -> None:
    class Recording(Visualizer):
        def add_datasample(self, name: str, image: Any, data_sample: Any = None, **kw: Any) -> None:
            self.calls.append((name, image.shape, data_sample, kw))

    visualizer = Recording("test-naive-recording")
    visualizer.calls = []  # type: ignore[attr-defined]
    runner = SimpleNamespace(visualizer=visualizer)
    hook = NaiveVisualizationHook(draw_gt=False)
    hook.after_test_iter(runner, 3, [dict(inputs=ramp(2, 2), data_sample=None)], ["prediction"])
    assert visualizer.calls == [  # type: ignore[attr-defined]
        ("sample_1", (2, 2, 3), "prediction", dict(draw_gt=False, draw_pred=True, step=3))
    ]


def test_before_train_records_the_graph() -> None:
    @VISBACKENDS.register_module(force=True)
    class GraphVisBackend(BaseVisBackend):
        graphs: ClassVar[list[Any]] = []

        def __init__(self, save_dir: str | None = None) -> None:
            super().__init__(save_dir)

        @property
        def experiment(self) -> Any:
            return self

        def _init_env(self) -> None:
            pass

        def add_graph(self, model: Any, data_batch: Any, **kwargs: Any) -> None:
            self.graphs.append((model, data_batch))

    model = torch.nn.Linear(2, 2)
    visualizer = Visualizer("test-naive-graph", vis_backends=[dict(type="GraphVisBackend")])
    NaiveVisualizationHook().before_train(SimpleNamespace(model=model, visualizer=visualizer))
    assert GraphVisBackend.graphs == [(model, None)]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="interval"):
        NaiveVisualizationHook(interval=0)
    with pytest.raises(TypeError, match="draw_gt must be a bool"):
        NaiveVisualizationHook(draw_gt="yes")  # type: ignore[arg-type]
    hook = HOOKS.build(dict(type="NaiveVisualizationHook", interval=3))
    assert isinstance(hook, NaiveVisualizationHook) and hook.interval == 3
    assert hook.priority == "NORMAL"


# ------------------------------------------------------------ a real test run
class Pictures(Dataset[dict[str, Any]]):
    """Four 3x4 RGB images with their file names, as an image dataset's samples are."""

    def __len__(self) -> int:
        return 4

    def __getitem__(self, index: int) -> dict[str, Any]:
        inputs = torch.full((3, 3, 4), 50.0 * index)
        meta = dict(img_path=f"images/{index}.png", ori_height=3, ori_width=4)
        return {"inputs": inputs, "data_samples": meta}


class Brightness(BaseModel):
    """Predicts each image's mean brightness."""

    def __init__(self) -> None:
        super().__init__()
        self.gain = torch.nn.Parameter(torch.ones(()))

    def forward(self, inputs: Any = None, data_samples: Any = None, mode: str = "tensor") -> Any:
        return [{"brightness": self.gain * image.mean()} for image in inputs]

    def test_step(self, data: Any) -> Any:
        return self(inputs=[sample["inputs"] for sample in data], mode="predict")


class Mean:
    def __init__(self) -> None:
        self.values: list[float] = []

    def process(self, data_samples: Any, data_batch: Any = None) -> None:
        self.values += [float(sample["brightness"]) for sample in data_samples]

    def evaluate(self, size: int) -> dict[str, float]:
        return {"brightness": sum(self.values) / size}


def test_every_test_image_is_written_in_a_real_run(tmp_path: Path) -> None:
    runner = Runner(
        model=Brightness(),
        work_dir=str(tmp_path),
        test_dataloader=dict(
            dataset=Pictures(), batch_size=2, collate_fn=list,
            sampler=dict(type="DefaultSampler", shuffle=False),
        ),
        test_cfg=dict(),
        test_evaluator=Mean(),
        custom_hooks=[dict(type="NaiveVisualizationHook")],
        log_level="WARNING",
    )  # fmt: skip
    runner.test()
    vis_image = Path(runner.log_dir) / "vis_data" / "vis_image"
    names = sorted(path.name for path in vis_image.iterdir())
    assert names == ["0.png_0.png", "1.png_0.png", "2.png_1.png", "3.png_1.png"]
    from PIL import Image

    with Image.open(vis_image / "3.png_1.png") as image:
        assert image.size == (4, 3) and image.getpixel((0, 0)) == (150, 150, 150)
