"""Config files (Python, YAML, JSON with ``_base_`` inheritance and MMEngine's templates), the
`Config`/`ConfigDict` objects, typed ``--cfg-options`` overrides (`DictAction`) and
``custom_imports``. Torch-free; it knows nothing of the runner.
"""

from __future__ import annotations

from ._cfg_options import apply_cfg_options, parse_value
from ._config import MISSING_YAML, copy_config, import_custom_modules, load_config, merge_configs
from ._config_dict import ConfigDict
from ._config_object import RESERVED_KEYS, Config, as_config
from ._dict_action import DictAction

__all__ = ["Config", "ConfigDict", "DictAction", "as_config", "load_config", "merge_configs",
           "copy_config", "import_custom_modules", "apply_cfg_options", "parse_value",
           "MISSING_YAML", "RESERVED_KEYS"]  # fmt: skip
