"""`Config`: MMEngine's config object, a `ConfigDict` that knows the file it came from.

``cfg = Config.fromfile(path); cfg.work_dir = ...; cfg.merge_from_dict(opts);
Runner.from_cfg(cfg)`` works as in MMEngine. Being a dict, a `Config` goes
wherever a config dict does.
"""

from __future__ import annotations

import os

from ._config import (
    SUFFIXES,
    copy_config,
    import_custom_modules,
    merge_configs,
    parse_config_text,
    read_config,
)
from ._config_dict import ConfigDict
from ._render import data_text, python_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

__all__ = ["Config", "as_config", "RESERVED_KEYS"]

# Names of `Config` attributes, so they cannot be keys of one (as in MMEngine).
RESERVED_KEYS = ("filename", "text", "pretty_text", "env_variables")


class Config(ConfigDict):
    """A config: a dict of its keys, readable as attributes, plus where it came from.

    Args:
        cfg_dict: The keys; nested dicts become `ConfigDict`.
        cfg_text: The source text; read from `filename` when omitted.
        filename: The file the config came from.
        env_variables: The environment variables its templates read.

    Raises:
        TypeError: `cfg_dict` is not a dict.
        KeyError: a key is one of `RESERVED_KEYS`.

    Example:
        >>> cfg = Config(dict(model=dict(type='ResNet', depth=50)))
        >>> cfg.merge_from_dict({'model.depth': 101, 'work_dir': 'out'})
        >>> cfg.model.depth, cfg.work_dir
        (101, 'out')
    """

    __slots__ = ("_base_files", "_env_variables", "_filename", "_text")

    def __init__(
        self,
        cfg_dict: Mapping[str, Any] | None = None,
        cfg_text: str | None = None,
        filename: str | os.PathLike[str] | None = None,
        env_variables: Mapping[str, str] | None = None,
    ) -> None:
        if cfg_dict is not None and not isinstance(cfg_dict, dict):
            raise TypeError(f"cfg_dict must be a dict, got {type(cfg_dict).__name__}")
        super().__init__(cfg_dict or {})
        filename = os.fspath(filename) if filename is not None else None
        if cfg_text is None and filename is not None:
            with open(filename, encoding="utf-8") as file:
                cfg_text = file.read()
        self._set_origin(filename, cfg_text or "", dict(env_variables or {}), ())

    def _set_origin(
        self, filename: str | None, text: str, env: dict[str, str], base_files: tuple[str, ...]
    ) -> None:
        object.__setattr__(self, "_filename", filename)
        object.__setattr__(self, "_text", text)
        object.__setattr__(self, "_env_variables", env)
        object.__setattr__(self, "_base_files", base_files)

    # ------------------------------------------------------------ construction
    @staticmethod
    def fromfile(
        filename: str | os.PathLike[str],
        use_predefined_variables: bool = True,
        import_custom_modules: bool = True,
        use_environment_variables: bool = True,
        lazy_import: bool | None = None,
    ) -> Config:
        """Read a config file (Python, YAML or JSON) with its ``_base_`` files.

        Args:
            filename: The file.
            use_predefined_variables: Fill in ``{{ fileDirname }}``,
                ``{{ fileBasename }}``, ``{{ fileBasenameNoExtension }}`` and
                ``{{ fileExtname }}``.
            import_custom_modules: Import the modules of ``custom_imports``
                (found next to the config or its bases first).
            use_environment_variables: Fill in ``{{$NAME:default}}``.
            lazy_import: MMEngine's pure-Python configs (``with read_base():``)
                are not supported: True is an error, None and False read
                ``_base_`` configs.

        Raises:
            NotImplementedError: `lazy_import` is True, or the file is a lazy-import config.
            Exception: as `load_config` raises for a file it cannot read.
        """
        if lazy_import:
            raise NotImplementedError(
                "lazy_import=True: MMEngine's lazy-import configs (with read_base():) are "
                "not supported; write the config with _base_ = [...] and pass lazy_import=None"
            )
        path = os.fspath(filename)
        loaded = read_config(path, use_predefined_variables, use_environment_variables)
        cfg = Config(loaded.cfg, cfg_text=loaded.text, filename=path)
        cfg._set_origin(path, loaded.text, loaded.env_variables, tuple(loaded.base_files))
        if import_custom_modules:
            _import_custom_modules(cfg)
        return cfg

    @staticmethod
    def fromstring(cfg_str: str, file_format: str) -> Config:
        """Read a config from text in `file_format`: one of `SUFFIXES` (``'.py'``, ...).

        ``_base_`` paths are relative to the working directory; the file-path
        templates stay as written, since there is no file.

        Raises:
            ValueError: another format.
        """
        if file_format not in SUFFIXES:
            raise ValueError(
                f"Config.fromstring: unsupported file_format {file_format!r}; "
                f"use one of {', '.join(SUFFIXES)}"
            )
        if file_format != ".py" and "dict(" in cfg_str:
            import warnings

            warnings.warn(
                f"Config.fromstring: the text looks like Python (it has 'dict('), but "
                f"file_format is {file_format!r}; pass file_format='.py'?",
                UserWarning,
                stacklevel=2,
            )
        loaded = parse_config_text(cfg_str, file_format)
        cfg = Config(loaded.cfg, cfg_text=loaded.text)
        cfg._set_origin(None, loaded.text, loaded.env_variables, tuple(loaded.base_files))
        _import_custom_modules(cfg)
        return cfg

    # ------------------------------------------------------------ what it came from
    @property
    def filename(self) -> str | None:
        """The config file, as given to `fromfile` (None for a config built in code)."""
        return self._filename  # type: ignore[no-any-return]

    @property
    def text(self) -> str:
        """The source: each file's path and text, bases first."""
        return self._text  # type: ignore[no-any-return]

    @property
    def env_variables(self) -> dict[str, str]:
        """The environment variables the ``{{$NAME:default}}`` templates read."""
        return self._env_variables  # type: ignore[no-any-return]

    @property
    def _cfg_dict(self) -> Config:
        """MMEngine's private name for the dict of keys, which tests ported from it read:
        here the `Config` itself."""
        return self

    @property
    def pretty_text(self) -> str:
        """The config as a Python config file that reads back to the same config."""
        return python_text(self)

    # ------------------------------------------------------------ items
    def __setitem__(self, key: Any, value: Any) -> None:
        if key in RESERVED_KEYS:
            raise KeyError(
                f"{key!r} is reserved for the Config's own attribute; choose another key"
            )
        super().__setitem__(key, value)

    def _new_like(self, items: Any) -> Config:
        other = Config(items, cfg_text=self.text)
        other._set_origin(
            self.filename, self.text, dict(self.env_variables), tuple(self._base_files)
        )
        return other

    def copy(self) -> Config:
        """A shallow copy that keeps the file name and text."""
        return self._new_like(self)

    __copy__ = copy

    def __getstate__(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def merge_from_dict(self, options: Mapping[str, Any], allow_list_keys: bool = True) -> None:
        """Merge ``{'a.b': value}`` options (from `DictAction`) into this config, in place.

        A dotted key reaches into nested dicts, creating those it needs; a dict
        value merges into the dict there (``_delete_=True`` replaces it); with
        `allow_list_keys` a digit indexes a list (``'pipeline.0.type'``). As in
        MMEngine, a key the config does not have yet is added: the train
        command's ``--cfg-options`` is the strict way that refuses unknown keys.

        Raises:
            TypeError: a dict merging into a value that is not a dict (or a list).
            KeyError: a list index out of range, or a reserved key.
        """
        nested: dict[str, Any] = {}
        for dotted, value in options.items():
            node = nested
            *parents, last = str(dotted).split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = copy_config(value)
        merged = merge_configs(self, nested, allow_list_keys=allow_list_keys)
        self.clear()
        for key, value in merged.items():
            self[key] = value

    # ------------------------------------------------------------ output
    def dump(self, file: str | os.PathLike[str] | None = None) -> str | None:
        """Write the config to `file` (its suffix picks Python, JSON or YAML), or return it as text.

        Without `file`, the text is in the format of `filename` (Python when
        there is none).

        Raises:
            ValueError: a suffix that is not .py, .json, .yaml or .yml.
        """
        target = os.fspath(file) if file is not None else None
        source = target or self.filename
        suffix = os.path.splitext(source)[1].lower() if source else ".py"
        text = python_text(self) if suffix == ".py" else data_text(self, suffix.lstrip("."))
        if target is None:
            return text
        with open(target, "w", encoding="utf-8") as out:
            out.write(text)
        return None

    def __repr__(self) -> str:
        return f"Config (path: {self.filename}): {dict.__repr__(self)}"


def as_config(cfg: Mapping[str, Any] | None) -> Config:
    """`cfg` as a `Config` whose containers are copies, as a runner keeps its config.

    A `Config` keeps its file and text. A dict from `load_config` gives its
    ``filename`` and ``_base_files_`` keys to the `Config`'s file instead.
    """
    if isinstance(cfg, Config):
        copied: Config = copy_config(cfg)
        return copied
    items = copy_config(dict(cfg or {}))
    filename = items.pop("filename", None)
    base_files = tuple(items.pop("_base_files_", ()))
    text = ""
    if filename and os.path.isfile(filename):
        with open(filename, encoding="utf-8") as file:
            text = file.read()
    config = Config(items, cfg_text=text)
    config._set_origin(filename, text, {}, base_files)
    return config


_import_custom_modules = import_custom_modules  # `fromfile` has an argument of that name
