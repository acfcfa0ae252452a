"""Registries: type names to classes, ``dict(type=...)`` building, scopes, plugin discovery.

The lowest layer but `utils`: it imports no other part of hooks-core and never imports torch.
"""

from __future__ import annotations

from ._build import build_from_cfg
from ._default_scope import DefaultScope, init_default_scope
from ._errors import NotRegisteredError, PluginConflictError
from ._first_party import first_party_requirements, install_hint, pip_install, registry_owners
from ._imports import import_modules_from_strings
from ._plugins import GROUP_PREFIX, clear_plugin_cache, load_group
from ._registry import Registry
from ._roots import *  # noqa: F403  (the root registries: _roots' __all__)
from ._roots import __all__ as _ROOTS
from ._tree import count_registered_modules, traverse_registry_tree

__all__ = [
    "Registry",
    "build_from_cfg",
    "DefaultScope",
    "init_default_scope",
    "traverse_registry_tree",
    "count_registered_modules",
    *_ROOTS,
    "NotRegisteredError",
    "PluginConflictError",
    "GROUP_PREFIX",
    "load_group",
    "clear_plugin_cache",
    "import_modules_from_strings",
    "install_hint",
    "pip_install",
    "first_party_requirements",
    "registry_owners",
]
