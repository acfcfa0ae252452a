"""What the registries hold: `traverse_registry_tree` and `count_registered_modules`."""

from __future__ import annotations

import logging

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    import os
    from typing import Any

    from ._registry import Registry

__all__ = ["traverse_registry_tree", "count_registered_modules"]

_logger = logging.getLogger("hooks_core.registry")


def traverse_registry_tree(registry: Registry, verbose: bool = True) -> list[dict[str, Any]]:
    """Describe every registry in `registry`'s tree, root first, depth first.

    Each entry has ``num_modules``, ``scope`` and, per folder of the modules
    that define the registered objects (``'hooks_core/hooks'``), their names.
    With `verbose`, a line per registry goes to the log.
    """
    found: list[dict[str, Any]] = []
    pending = [registry.root]
    while pending:
        node = pending.pop()
        info: dict[str, Any] = {"num_modules": len(node.module_dict), "scope": node.scope}
        for name, obj in node.module_dict.items():
            module = str(getattr(obj, "__module__", None) or "")
            info.setdefault("/".join(module.split(".")[:-1]), []).append(name)
        if verbose:
            _logger.info(
                "%d modules in %s's %r registry", len(node.module_dict), node.scope, node.name
            )
        found.append(info)
        pending.extend(reversed(list(node.children.values())))
    return found


def count_registered_modules(
    save_path: str | os.PathLike[str] | None = None, verbose: bool = True
) -> dict[str, Any]:
    """Describe every root registry of hooks-core (`traverse_registry_tree`), with a date.

    The root registries import their `locations` first, so the core's own types
    are counted; installed plugins are counted once something has loaded them.

    Args:
        save_path: A folder to write ``modules_statistic_results.json`` into.
        verbose: Log what was found.

    Returns:
        ``{'scan_date': ..., 'registries': {'HOOKS': [...], ...}}``.
    """
    import datetime
    import json
    import os.path as osp

    from . import _roots

    registries: dict[str, Any] = {}
    for attribute in _roots.__all__:
        registry = getattr(_roots, attribute)
        registry.import_from_location()
        registries[attribute] = traverse_registry_tree(registry, verbose)
    scan = {
        "scan_date": datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        "registries": registries,
    }
    if save_path is not None:
        path = osp.join(save_path, "modules_statistic_results.json")
        with open(path, "w", encoding="utf-8") as file:
            json.dump(scan, file, indent=2)
        if verbose:
            _logger.info("registry statistics saved to %s", path)
    return scan
