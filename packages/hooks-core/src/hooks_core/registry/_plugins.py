"""Plugin discovery through package entry points.

A distribution makes a type buildable by name by declaring an entry point whose
name is the type name, in the group of the registry it belongs to::

    [project.entry-points."hooks_core.hook"]
    CheckpointHook = "hooks_eval:CheckpointHook"

Installed metadata is read once, when first needed (the first registry miss,
or a runner collecting its default hooks from the ``hooks_core.default_hooks``
group), and no plugin is imported until one of its names is asked for. A plugin that registers more
names than it declares (every optimizer of the installed torch, say) also
names its module in the ``hooks_core.plugins`` group; those modules are
imported, once, when a name is found nowhere else.
"""

from __future__ import annotations

from ._errors import PluginConflictError

TYPE_CHECKING = False  # `typing` costs more to import than this whole package
if TYPE_CHECKING:
    from importlib.metadata import EntryPoint
    from typing import Any

__all__ = [
    "GROUP_PREFIX",
    "Plugin",
    "find_plugin",
    "import_plugin_modules",
    "load_group",
    "plugin_names",
    "clear_plugin_cache",
]

GROUP_PREFIX = "hooks_core."

_index: dict[str, dict[str, list[Plugin]]] | None = None


class Plugin:
    """One entry point: the distribution that declares it and what it points to."""

    __slots__ = ("distribution", "entry_point")

    def __init__(self, distribution: str, entry_point: EntryPoint) -> None:
        self.distribution = distribution
        self.entry_point = entry_point


def _build_index() -> dict[str, dict[str, list[Plugin]]]:
    """Map group -> name -> declaring plugins, for every group under `GROUP_PREFIX`."""
    from importlib.metadata import distributions  # slow to import, needed only on a miss

    index: dict[str, dict[str, list[Plugin]]] = {}
    for dist in distributions():
        for ep in dist.entry_points:
            if not ep.group.startswith(GROUP_PREFIX):
                continue
            claims = index.setdefault(ep.group, {}).setdefault(ep.name, [])
            # The same distribution can be visible twice on sys.path (an editable
            # install beside a copy); only different distributions conflict.
            if all(claim.distribution != dist.name for claim in claims):
                claims.append(Plugin(dist.name, ep))
    return index


def _group(group: str) -> dict[str, list[Plugin]]:
    global _index
    if _index is None:
        _index = _build_index()
    return _index.get(group, {})


def plugin_names(group: str) -> list[str]:
    """Names that installed distributions declare in `group`, without importing anything."""
    return sorted(_group(group))


def find_plugin(group: str, name: str) -> Plugin | None:
    """Return the plugin declaring `name` in `group`, or None if no distribution does.

    Raises:
        PluginConflictError: if two distributions declare the same name.
    """
    claims = _group(group).get(name)
    if not claims:
        return None
    if len(claims) > 1:
        owners = ", ".join(f"{c.distribution} ({c.entry_point.value})" for c in claims)
        raise PluginConflictError(
            f"{name!r} is declared in entry-point group {group!r} by more than one "
            f"distribution: {owners}. Uninstall one of them, or rename the entry point."
        )
    return claims[0]


PLUGINS_GROUP = GROUP_PREFIX + "plugins"
_plugin_modules_imported = False


def import_plugin_modules() -> bool:
    """Import, once, the module of every plugin in ``hooks_core.plugins``; True the first time.

    A plugin module registers all of its types when imported, including names
    it does not declare one by one.
    """
    global _plugin_modules_imported
    if _plugin_modules_imported:
        return False
    _plugin_modules_imported = True
    return bool(load_group(PLUGINS_GROUP))


def load_group(group: str) -> dict[str, Any]:
    """Load every entry point of `group`: name -> the object it points to."""
    loaded = {}
    for name in plugin_names(group):
        plugin = find_plugin(group, name)
        assert plugin is not None
        loaded[name] = plugin.entry_point.load()
    return loaded


def clear_plugin_cache() -> None:
    """Forget the installed entry points, so that the next miss reads them again."""
    global _index, _plugin_modules_imported
    _index = None
    _plugin_modules_imported = False
