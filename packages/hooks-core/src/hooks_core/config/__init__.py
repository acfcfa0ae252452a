"""Config files (Python, YAML, JSON with ``_base_`` inheritance), typed ``--cfg-options``
overrides and ``custom_imports``. Torch-free; it knows nothing of the runner.
"""

from __future__ import annotations

from ._cfg_options import apply_cfg_options, parse_value
from ._config import MISSING_YAML, copy_config, import_custom_modules, load_config, merge_configs

__all__ = ["load_config", "merge_configs", "copy_config", "import_custom_modules",
           "apply_cfg_options", "parse_value", "MISSING_YAML"]  # fmt: skip
