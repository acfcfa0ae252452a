"""The base of visualization backends: MMEngine's `BaseVisBackend`, and `LoggerVisBackend`,
which writes through one hooks-logging backend and can be lent to a `LoggerHook`.

Also the helpers every vis backend and the `Visualizer` share: reading
scalars and configs the same way, and the extra files of
``add_scalars(..., file_path=...)``.
"""

from __future__ import annotations

import abc
import functools
import os
import os.path as osp

from ._backend import LoggerBackend, image_to_hwc_uint8
from ._json_backend import JsonBackend
from ._secrets import mask_secrets

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any, ClassVar, TypeVar

    from ._delivery import BackendWorker

    _F = TypeVar("_F", bound=Callable[..., Any])

__all__ = [
    "BaseVisBackend",
    "LoggerVisBackend",
    "force_init_env",
    "plain_scalars",
    "config_dict",
    "ScalarFiles",
    "same_path",
]


def force_init_env(method: _F) -> _F:
    """Decorate a vis-backend method to run ``_init_env`` once, before its first call."""

    @functools.wraps(method)
    def wrapper(self: BaseVisBackend, *args: Any, **kwargs: Any) -> Any:
        if not getattr(self, "_env_initialized", False):
            self._init_env()
            self._env_initialized = True
        return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class BaseVisBackend(abc.ABC):
    """MMEngine's base of visualization backends: lazy set-up, and no-op ``add_*`` defaults.

    Subclass it for a backend of your own, as in MMEngine: implement
    `experiment` and `_init_env`, and the ``add_*`` methods it can show
    (decorated with `force_init_env`). The backends of this package derive
    from `LoggerVisBackend` instead.

    Args:
        save_dir: The folder for the backend's files; None for backends
            that keep nothing locally.
    """

    def __init__(self, save_dir: str | os.PathLike[str] | None) -> None:
        self._save_dir = None if save_dir is None else os.fspath(save_dir)
        self._env_initialized = False

    @property
    @abc.abstractmethod
    def experiment(self) -> Any:
        """The tool's own object (a ``SummaryWriter``, the W&B module...), for the rest."""

    @abc.abstractmethod
    def _init_env(self) -> None:
        """Open what the backend writes to; called once, before the first write."""

    def add_config(self, config: Any, **kwargs: Any) -> None:
        """Record the run's configuration (a dict)."""
        return  # the defaults show nothing

    def add_graph(self, model: Any, data_batch: Sequence[Any] | None, **kwargs: Any) -> None:
        """Record the model's graph."""
        return

    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        """Record an image (HxWx3 uint8 RGB, as MMEngine's) under `name` at `step`."""
        return

    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        """Record one number under `name` at `step`."""
        return

    def add_scalars(
        self,
        scalar_dict: Mapping[str, Any],
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Record several numbers at `step`; `file_path` is for backends that write files."""
        return

    def close(self) -> None:
        """Release what the backend opened."""
        return


class LoggerVisBackend(BaseVisBackend):
    """A vis backend over one hooks-logging `LoggerBackend`, built by `_build` on first use.

    Calls go straight to the backend, or, while a `LoggerHook` delivers for
    it, onto that hook's writer thread for the backend (`_worker`), so the
    backend is only ever used from one thread at a time.
    """

    backend_type: ClassVar[type[LoggerBackend]]

    def __init__(self, save_dir: str | os.PathLike[str] | None) -> None:
        super().__init__(save_dir)
        self._backend: LoggerBackend | None = None
        self._worker: BackendWorker | None = None
        self._lent = False  # True while a LoggerHook owns the backend (it closes it)

    @abc.abstractmethod
    def _build(self) -> LoggerBackend:
        """Make the hooks-logging backend this vis backend writes with."""

    def _init_env(self) -> None:
        if self._save_dir is not None:
            os.makedirs(self._save_dir, exist_ok=True)
        self._backend = self._build()

    @property
    def backend(self) -> LoggerBackend:
        """The hooks-logging backend that does the writing, built on first use."""
        if self._backend is None:
            self._init_env()
            self._env_initialized = True
        assert self._backend is not None
        return self._backend

    @property
    def experiment(self) -> Any:
        """The tool's own object: by default the backend's (`LoggerBackend.experiment`)."""
        return self.backend.experiment

    def matches(self, backend: Any) -> bool:
        """Whether `backend` (a logger hook's) writes where this one would; then it is used."""
        return isinstance(backend, self.backend_type)

    # ------------------------------------------------------------ MMEngine's methods
    def add_config(self, config: Any, **kwargs: Any) -> None:
        self._call("log_config", config_dict(config))

    def add_image(self, name: str, image: Any, step: int = 0, **kwargs: Any) -> None:
        self._call("log_image", name, image_to_hwc_uint8(image).copy(), step, step=step)

    def add_scalar(self, name: str, value: Any, step: int = 0, **kwargs: Any) -> None:
        self.add_scalars({name: value}, step)

    def add_scalars(
        self,
        scalar_dict: Mapping[str, Any],
        step: int = 0,
        file_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        self._call("log_scalars", plain_scalars(scalar_dict), step, step=step)

    def close(self) -> None:
        if self._backend is not None and not self._lent:
            self._backend.close()
            self._backend = None
            self._env_initialized = False

    # ------------------------------------------------------------ a logger hook's use
    def _call(self, method: str, *args: Any, step: int | None = None) -> None:
        if self._worker is not None:
            from ._delivery import Call

            self._worker.submit(Call(method, args, step))
        else:
            getattr(self.backend, method)(*args)

    def _lend(self, backends: Sequence[Any]) -> LoggerBackend | None:
        """Use the matching one of `backends`, or lend this one's backend; return it if lent."""
        match = next((backend for backend in backends if self.matches(backend)), None)
        if match is not None:
            self.close()  # one opened before the run
            self._backend, self._env_initialized = match, True
            self._lent = True
            return None
        backend = self.backend
        self._lent = True
        return backend

    def _route(self, workers: Sequence[BackendWorker]) -> None:
        self._worker = next((w for w in workers if w.backend is self._backend), None)

    def _give_back(self) -> None:
        """After the hook closed the backend: the next write opens a new one."""
        self._worker, self._backend, self._lent = None, None, False
        self._env_initialized = False


# ------------------------------------------------------------ shared helpers
class ScalarFiles:
    """Extra JSON-lines files in `folder` for ``add_scalars(..., file_path=...)``, opened when used.

    Args:
        folder: Where the files go.
        main: The visualizer's own scalars file, which `file_path` must not name.
    """

    def __init__(self, folder: str, main: str) -> None:
        self.folder = folder
        self._main = main
        self._files: dict[str, JsonBackend] = {}

    def append(self, file_path: str, scalars: Mapping[str, Any], step: int) -> None:
        """Append ``{**scalars, "step": step}`` to ``folder/file_path``.

        Raises:
            ValueError: `file_path` does not end in ``.json``, or names the main
                scalars file (MMEngine: AssertionError).
        """
        if not file_path.endswith(".json"):
            raise ValueError(f"add_scalars file_path must end with '.json', got {file_path!r}")
        path = osp.join(self.folder, file_path)
        if same_path(path, self._main):
            raise ValueError(
                f"add_scalars file_path {file_path!r} is the scalars file itself; "
                "give another name (the record goes to that file anyway)"
            )
        backend = self._files.get(path)
        if backend is None:
            backend = self._files[path] = JsonBackend(osp.dirname(path), osp.basename(path))
        backend.log_scalars(scalars, step)

    def close(self) -> None:
        for backend in self._files.values():
            backend.close()
        self._files.clear()


def plain_scalars(scalar_dict: Mapping[str, Any]) -> dict[str, Any]:
    """`scalar_dict` with tensors and numpy numbers as Python numbers.

    Raises:
        TypeError: `scalar_dict` is not a dict (MMEngine: AssertionError).
        ValueError: it has a ``step`` key (MMEngine's trackers: AssertionError).
    """
    if not _is_mapping(scalar_dict):
        raise TypeError(f"add_scalars takes a dict of name to value, got {scalar_dict!r}")
    if "step" in scalar_dict:
        raise ValueError("add_scalars: give the step as step=..., not as a 'step' key")
    return {name: _plain(value) for name, value in scalar_dict.items()}


def config_dict(config: Any) -> dict[str, Any]:
    """A config (a dict, or an object with ``to_dict()`` as MMEngine's ``Config``), masked.

    Raises:
        TypeError: `config` is neither.
    """
    to_dict = getattr(config, "to_dict", None)
    if callable(to_dict):
        config = to_dict()
    if not _is_mapping(config):
        raise TypeError(f"add_config takes a dict (or a Config), got {type(config).__name__}")
    masked: dict[str, Any] = mask_secrets(dict(config))
    return masked


def _plain(value: Any) -> Any:
    """A one-element tensor or numpy number as a Python number; anything else unchanged."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (int, float)):
        try:
            return item()
        except (TypeError, ValueError, RuntimeError):  # several elements: the backend decides
            return value
    return value


def _is_mapping(value: object) -> bool:
    from collections.abc import Mapping

    return isinstance(value, Mapping)


def same_path(first: str, second: str) -> bool:
    """Whether two paths name the same file."""
    return osp.abspath(first) == osp.abspath(second)
