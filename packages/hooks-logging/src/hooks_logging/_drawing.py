"""`Drawing`: the visualizer's image and MMEngine's ``draw_*`` methods, on a matplotlib canvas.

The image is kept as a numpy array; a matplotlib figure of exactly its size
is made on the first ``draw_*`` call (matplotlib is the ``hooks-logging[plot]``
extra), so a visualizer that only writes images never imports matplotlib.
Coordinates are pixels, x to the right and y down, as in MMEngine.
"""

from __future__ import annotations

import warnings

from hooks_core.dist import master_only
from hooks_core.registry import pip_install

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    import numpy as np
    from typing_extensions import Self

__all__ = ["Drawing"]

MISSING_MATPLOTLIB = f"drawing needs matplotlib: {pip_install('hooks-logging[plot]')}"


class Drawing:
    """MMEngine's drawing API: `set_image`, ``draw_*`` (chainable), `get_image`, `show`."""

    fig_save_cfg: dict[str, Any]
    fig_show_cfg: dict[str, Any]
    _image: np.ndarray[Any, Any] | None = None
    _figure: Any = None  # (canvas, axes) while drawing on the current image
    width = 0
    height = 0

    # ------------------------------------------------------------ the image
    def set_image(self, image: Any) -> None:
        """Start drawing on `image` (``(H, W, 3)`` RGB; values are cast to uint8)."""
        import numpy as np

        if image is None:
            raise TypeError("set_image needs an image (an (H, W, 3) uint8 RGB array), got None")
        self._image = np.asarray(_numpy(image)).astype(np.uint8)
        self.height, self.width = self._image.shape[:2]
        self._figure = None  # a new canvas on the next draw

    def get_image(self) -> np.ndarray[Any, Any]:
        """The image with everything drawn so far, ``(H, W, 3)`` uint8 RGB.

        Raises:
            RuntimeError: no image was set (`set_image`).
        """
        import numpy as np

        image = self._checked_image()
        if self._figure is None:
            unchanged: np.ndarray[Any, Any] = image.copy()
            return unchanged
        canvas, _ = self._figure
        buffer, (width, height) = canvas.print_to_buffer()
        rgba = np.frombuffer(buffer, np.uint8).reshape(height, width, 4)
        return np.ascontiguousarray(rgba[:, :, :3])

    @master_only
    def show(
        self,
        drawn_img: Any = None,
        win_name: str = "image",
        wait_time: float = 0.0,
        continue_key: str = " ",
        backend: str = "matplotlib",
    ) -> None:
        """Show `drawn_img` (default: `get_image`) in a matplotlib window, on rank 0.

        `wait_time` seconds, or until the window is closed when 0.
        `continue_key` is accepted for MMEngine's calls; closing the window
        continues. Only ``backend='matplotlib'`` is supported.

        Raises:
            ValueError: another `backend`.
        """
        if backend != "matplotlib":
            raise ValueError(f"Visualizer.show supports backend='matplotlib' only, got {backend!r}")
        plt = _import("matplotlib.pyplot")
        image = self.get_image() if drawn_img is None else drawn_img
        figure = plt.figure(win_name, **self.fig_show_cfg)
        figure.clear()
        figure.subplots_adjust(left=0, right=1, bottom=0, top=1)
        axes = figure.add_subplot()
        axes.axis(False)
        axes.imshow(image)
        if wait_time > 0:
            plt.pause(wait_time)
        else:
            plt.show()

    # ------------------------------------------------------------ drawing
    def draw_points(
        self,
        positions: Any,
        colors: Any = "g",
        marker: str | None = None,
        sizes: Any = None,
    ) -> Self:
        """Draw points at `positions`, ``(N, 2)`` of ``(x, y)``."""
        points = _array(positions, "positions", (2,))
        self._axes().scatter(
            points[:, 0], points[:, 1], c=_colors(colors), s=_numpy(sizes), marker=marker
        )
        return self

    def draw_texts(
        self,
        texts: str | Sequence[str],
        positions: Any,
        font_sizes: int | Sequence[int] | None = None,
        colors: Any = "g",
        vertical_alignments: str | Sequence[str] = "top",
        horizontal_alignments: str | Sequence[str] = "left",
        font_families: str | Sequence[str] = "sans-serif",
        bboxes: dict[str, Any] | Sequence[dict[str, Any]] | None = None,
        font_properties: Any = None,
    ) -> Self:
        """Draw each text at its position (``(N, 2)``); each option is one value or one per text."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        points = _array(positions, "positions", (2,))
        count = len(texts)
        if len(points) != count:
            raise ValueError(f"draw_texts got {count} texts and {len(points)} positions")
        self._warn_outside(points, "text")
        size = font_sizes if font_sizes is not None else self._font_size()
        options = {
            "size": _per_item(size, count, "font_sizes"),
            "color": _per_item(_colors(colors), count, "colors"),
            "verticalalignment": _per_item(vertical_alignments, count, "vertical_alignments"),
            "horizontalalignment": _per_item(horizontal_alignments, count, "horizontal_alignments"),
            "family": _per_item(font_families, count, "font_families"),
            "bbox": _per_item(bboxes, count, "bboxes"),
            "fontproperties": _per_item(font_properties, count, "font_properties"),
        }
        axes = self._axes()
        for index, text in enumerate(texts):
            chosen = {key: values[index] for key, values in options.items()}
            axes.text(points[index, 0], points[index, 1], text, **chosen)
        return self

    def draw_lines(
        self,
        x_datas: Any,
        y_datas: Any,
        colors: Any = "g",
        line_styles: str | Sequence[str] = "-",
        line_widths: float | Sequence[float] = 2,
    ) -> Self:
        """Draw segments from ``(x_datas[i, 0], y_datas[i, 0])`` to ``(x_datas[i, 1], ...)``."""
        import numpy as np

        xs, ys = _array(x_datas, "x_datas", (2,)), _array(y_datas, "y_datas", (2,))
        if xs.shape != ys.shape:
            raise ValueError(f"draw_lines: x_datas {xs.shape} and y_datas {ys.shape} differ")
        segments = np.stack([xs, ys], axis=-1)  # (N, 2 ends, xy)
        self._warn_outside(segments.reshape(-1, 2), "line")
        collections = _import("matplotlib.collections")
        self._axes().add_collection(
            collections.LineCollection(
                segments.tolist(),
                colors=_colors(colors),
                linestyles=line_styles,
                linewidths=line_widths,
            )
        )
        return self

    def draw_circles(
        self,
        center: Any,
        radius: Any,
        edge_colors: Any = "g",
        line_styles: str | Sequence[str] = "-",
        line_widths: float | Sequence[float] = 2,
        face_colors: Any = "none",
        alpha: float = 1.0,
    ) -> Self:
        """Draw circles with centres ``(N, 2)`` and radii ``(N,)``."""
        import numpy as np

        centres = _array(center, "center", (2,))
        radii = np.atleast_1d(np.asarray(_numpy(radius), float))
        if len(radii) != len(centres):
            raise ValueError(f"draw_circles got {len(centres)} centres and {len(radii)} radii")
        patches = _import("matplotlib.patches")
        circles = [
            patches.Circle(tuple(c), r)
            for c, r in zip(centres.tolist(), radii.tolist(), strict=True)
        ]
        self._add_patches(circles, edge_colors, line_styles, line_widths, face_colors, alpha)
        return self

    def draw_bboxes(
        self,
        bboxes: Any,
        edge_colors: Any = "g",
        line_styles: str | Sequence[str] = "-",
        line_widths: float | Sequence[float] = 2,
        face_colors: Any = "none",
        alpha: float = 0.8,
    ) -> Self:
        """Draw boxes ``(N, 4)`` given as ``(x1, y1, x2, y2)``.

        Raises:
            ValueError: a box whose ``x2 < x1`` or ``y2 < y1`` (MMEngine: AssertionError).
        """
        import numpy as np

        boxes = _array(bboxes, "bboxes", (4,))
        if not ((boxes[:, 0] <= boxes[:, 2]).all() and (boxes[:, 1] <= boxes[:, 3]).all()):
            raise ValueError("draw_bboxes takes (x1, y1, x2, y2) boxes with x1 <= x2 and y1 <= y2")
        x1, y1, x2, y2 = boxes.T
        corners = np.stack([x1, y1, x2, y1, x2, y2, x1, y2], axis=-1).reshape(-1, 4, 2)
        return self.draw_polygons(
            list(corners), edge_colors, line_styles, line_widths, face_colors, alpha
        )

    def draw_polygons(
        self,
        polygons: Any,
        edge_colors: Any = "g",
        line_styles: str | Sequence[str] = "-",
        line_widths: float | Sequence[float] = 2,
        face_colors: Any = "none",
        alpha: float = 0.8,
    ) -> Self:
        """Draw polygons: one ``(M, 2)`` array of vertices, or a list of them."""
        if not isinstance(polygons, (list, tuple)):
            polygons = [polygons]
        shapes = [_array(polygon, "polygons", (2,)) for polygon in polygons]
        for shape in shapes:
            self._warn_outside(shape, "polygon")
        patches = _import("matplotlib.patches")
        drawn = [patches.Polygon(shape, closed=True) for shape in shapes]
        self._add_patches(drawn, edge_colors, line_styles, line_widths, face_colors, alpha)
        return self

    def draw_binary_masks(
        self,
        binary_masks: Any,
        colors: Any = "g",
        alphas: float | Sequence[float] = 0.8,
    ) -> Self:
        """Paint boolean masks ``(H, W)`` or ``(N, H, W)`` over the image, each in its colour.

        Raises:
            TypeError: the masks are not boolean (MMEngine: AssertionError).
            ValueError: their size is not the image's.
        """
        import numpy as np

        masks = np.asarray(_numpy(binary_masks))
        if masks.dtype != np.bool_:
            raise TypeError(f"draw_binary_masks takes boolean masks, got dtype {masks.dtype}")
        if masks.ndim == 2:
            masks = masks[None]
        image = self._checked_image()
        if masks.shape[1:] != image.shape[:2]:
            raise ValueError(
                f"draw_binary_masks: masks of size {masks.shape[1:]} on an image of size "
                f"{image.shape[:2]}; give one mask per pixel"
            )
        rgb = _import("matplotlib.colors").to_rgb
        count = len(masks)
        axes = self._axes()
        for mask, color, alpha in zip(
            masks,
            _per_item(_colors(colors), count, "colors"),
            _per_item(alphas, count, "alphas"),
            strict=True,
        ):
            overlay = np.zeros((*mask.shape, 4))
            overlay[mask] = (*rgb(color), alpha)
            axes.imshow(overlay, extent=(0, self.width, self.height, 0), interpolation="nearest")
        return self

    # ------------------------------------------------------------ helpers
    def _checked_image(self) -> np.ndarray[Any, Any]:
        if self._image is None:
            raise RuntimeError("the Visualizer has no image: call set_image(image) first")
        return self._image

    def _axes(self) -> Any:
        """The axes showing the image, made on the first draw after `set_image`."""
        image = self._checked_image()
        if self._figure is None:
            backend_agg = _import("matplotlib.backends.backend_agg")
            figure = _import("matplotlib.figure").Figure(**self.fig_save_cfg)
            canvas = backend_agg.FigureCanvasAgg(figure)
            axes = figure.add_subplot()
            axes.axis(False)
            figure.subplots_adjust(left=0, right=1, bottom=0, top=1)
            dpi = figure.get_dpi()
            # A hair more than the size, or rounding loses the last pixel row.
            figure.set_size_inches((self.width + 1e-2) / dpi, (self.height + 1e-2) / dpi)
            axes.imshow(image, extent=(0, self.width, self.height, 0), interpolation="none")
            self._figure = (canvas, axes)
        return self._figure[1]

    def _add_patches(
        self,
        patches: list[Any],
        edge_colors: Any,
        line_styles: Any,
        line_widths: Any,
        face_colors: Any,
        alpha: float,
    ) -> None:
        limit = self._font_size() / 4  # MMEngine's bound, so thin images keep thin lines
        widths = [min(max(width, 1), limit) for width in _per_item(line_widths, len(patches), "")]
        collections = _import("matplotlib.collections")
        self._axes().add_collection(
            collections.PatchCollection(
                patches,
                alpha=alpha,
                facecolors=_colors(face_colors),
                edgecolors=_colors(edge_colors),
                linestyles=line_styles,
                linewidths=widths,
            )
        )

    def _font_size(self) -> float:
        return max(float((self.height * self.width) ** 0.5 // 90), 10.0)

    def _warn_outside(self, points: np.ndarray[Any, Any], what: str) -> None:
        inside = (
            (points[:, 0] >= 0).all()
            and (points[:, 0] < self.width).all()
            and (points[:, 1] >= 0).all()
            and (points[:, 1] < self.height).all()
        )
        if not inside:
            warnings.warn(
                f"Visualizer: a {what} is partly outside the image and may not show",
                UserWarning,
                stacklevel=3,
            )

    def _close_figures(self) -> None:
        self._figure = None


def _import(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(MISSING_MATPLOTLIB) from err


def _numpy(value: Any) -> Any:
    """A tensor as a numpy array (torch is never imported here); anything else unchanged."""
    if hasattr(value, "detach"):
        return value.detach().cpu().numpy()
    return value


def _array(value: Any, name: str, last: tuple[int, ...]) -> np.ndarray[Any, Any]:
    """`value` as a float array of shape ``(N, *last)`` (a single item becomes N = 1)."""
    import numpy as np

    array = np.asarray(_numpy(value), dtype=float)
    if array.ndim == len(last):
        array = array[None]
    if array.ndim != len(last) + 1 or array.shape[1:] != last:
        raise ValueError(
            f"{name} must have shape (N, {', '.join(map(str, last))}), got {array.shape}"
        )
    return array


def _colors(value: Any) -> Any:
    """MMEngine's colours as matplotlib's: names stay, RGB tuples of 0..255 become 0..1."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and value and all(isinstance(c, (int, float)) for c in value):
        return tuple(c / 255 for c in value)
    if isinstance(value, list):
        return [_colors(item) for item in value]
    return value


def _per_item(value: Any, count: int, name: str) -> list[Any]:
    """One value per item: a list of `count` values as it is, any other value repeated."""
    if isinstance(value, list):
        if len(value) != count:
            raise ValueError(f"{name} has {len(value)} values for {count} items")
        return value
    return [value] * count
