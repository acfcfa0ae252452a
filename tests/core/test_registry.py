"""Registry: registration, lookup through parents, children and scopes, building, errors."""

from __future__ import annotations

import errno
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from hooks_core import HOOKS, Hook, NotRegisteredError, Registry, import_modules_from_strings
from hooks_core.config import Config, ConfigDict
from hooks_core.registry import build_from_cfg
from hooks_core.utils import ManagerMixin

if TYPE_CHECKING:
    from pathlib import Path


class Widget:
    def __init__(self, size: int = 1, *, color: str = "red") -> None:
        self.size = size
        self.color = color


def test_register_as_decorator_call_and_aliases() -> None:
    widgets = Registry("widget")

    @widgets.register_module()
    class Knob: ...

    @widgets.register_module(name=["Dial", "Wheel"])
    class Dial: ...

    widgets.register_module(module=Widget)
    widgets.register_module("Gadget", module=Widget)
    assert widgets.get("Knob") is Knob
    assert widgets.get("Dial") is widgets.get("Wheel") is Dial
    assert widgets.get("Widget") is widgets.get("Gadget") is Widget
    assert "Knob" in widgets and "Nope" not in widgets
    assert sorted(widgets) == ["Dial", "Gadget", "Knob", "Wheel", "Widget"]
    assert widgets.scope == "test_registry"  # inferred from the creating module


def test_register_module_validates_its_arguments() -> None:
    widgets = Registry("widget")
    with pytest.raises(TypeError, match="force must be a bool"):
        widgets.register_module(force=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="name must be None, a str or a list of str"):
        widgets.register_module(name=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="only classes and functions"):
        widgets.register_module(name="x", module=42)


def test_duplicate_names_the_first_module_and_force_replaces() -> None:
    widgets = Registry("widget")
    widgets.register_module(module=Widget)

    class Other:
        pass

    with pytest.raises(
        KeyError,
        match=r"'Widget' is already registered in the test_registry::widget registry by module "
        "'test_registry'",
    ):
        widgets.register_module(name="Widget", module=Other)
    widgets.register_module(name="Widget", module=Other, force=True)
    assert widgets.get("Widget") is Other
    widgets.register_module(name="Widget", module=Other)  # the same object again is fine


def test_build_uses_default_args_and_never_mutates_config() -> None:
    widgets = Registry("widget")
    widgets.register_module(module=Widget)
    cfg = {"type": "Widget", "size": 3}
    defaults = {"color": "blue", "size": 9}
    built = widgets.build(cfg, default_args=defaults)
    assert (built.size, built.color) == (3, "blue")
    assert cfg == {"type": "Widget", "size": 3}
    assert defaults == {"color": "blue", "size": 9}
    assert widgets.build({"type": Widget}).size == 1  # a class works as the type, too
    assert widgets.build({"size": 2}, default_args={"type": "Widget"}).size == 2


def test_build_rejects_bad_configs() -> None:
    widgets = Registry("widget")
    widgets.register_module(module=Widget)
    with pytest.raises(TypeError, match="cfg must be a dict, ConfigDict or Config, got list"):
        widgets.build([("type", "Widget")])
    with pytest.raises(KeyError, match=r"has no 'type' key, nor has default_args.*Widget"):
        widgets.build({"size": 2})
    with pytest.raises(TypeError, match="'type' must be a registered name, a class or a function"):
        widgets.build({"type": 3})
    with pytest.raises(TypeError, match="registry must be a Registry, got dict"):
        build_from_cfg({"type": "Widget"}, {})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="default_args must be a dict or None, got list"):
        widgets.build({"type": "Widget"}, default_args=[1])
    with pytest.raises(TypeError, match="a registry key must be a str, got int"):
        widgets.get(3)  # type: ignore[arg-type]


def test_unknown_option_names_the_typo_and_the_valid_options() -> None:
    widgets = Registry("widget")
    widgets.register_module(module=Widget)
    with pytest.raises(TypeError) as info:
        widgets.build({"type": "Widget", "szie": 3, "shape": "round"})
    assert str(info.value) == (
        "Widget got unknown option(s) 'szie' (did you mean 'size'?), 'shape'; "
        "it accepts: size, color"
    )


def test_a_constructor_error_is_raised_as_it_was_with_a_note_naming_the_type() -> None:
    widgets = Registry("widget")
    raised: list[BaseException] = []

    class DiskError(OSError):
        def __init__(self, path: str) -> None:  # a constructor of its own: not type(err)(msg)
            super().__init__(errno.ENOSPC, "no space left", path)

    @widgets.register_module()
    class Fussy:
        def __init__(self, size: int, path: str = "") -> None:
            if path:
                raised.append(DiskError(path))
                raise raised[-1]
            if size < 0:
                raise ValueError(f"size must be >= 0, got {size}")

    with pytest.raises(DiskError) as info:
        widgets.build({"type": "Fussy", "size": 1, "path": "/full"})
    assert info.value is raised[0]  # the same object: `except DiskError` and errno still work
    assert (info.value.errno, info.value.filename) == (errno.ENOSPC, "/full")
    assert info.value.__notes__ == [
        "raised by Fussy(...), built by the test_registry::widget registry from "
        "{'type': 'Fussy', 'size': 1, 'path': '/full'}"
    ]
    with pytest.raises(ValueError, match=r"^size must be >= 0, got -1\n") as value_info:
        widgets.build({"type": "Fussy", "size": -1})
    assert "raised by Fussy(...)" in value_info.value.__notes__[0]


def test_a_dotted_type_whose_module_cannot_import_reports_the_missing_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "needs_missing_dep.py").write_text(
        "import a_dependency_not_installed\n\nclass Thing:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    widgets = Registry("widget")
    with pytest.raises(ModuleNotFoundError) as info:
        widgets.build({"type": "needs_missing_dep.Thing"})
    assert info.value.name == "a_dependency_not_installed"
    assert info.value.__notes__ == [
        "'needs_missing_dep' exists, but importing it for type 'needs_missing_dep.Thing' failed"
    ]
    # A module that does not exist at all is simply not a registered type.
    with pytest.raises(NotRegisteredError, match=r"'no_such_module\.Thing' is not in"):
        widgets.build({"type": "no_such_module.Thing"})


def test_unknown_type_lists_close_matches() -> None:
    widgets = Registry("widget")
    widgets.register_module(module=Widget)
    with pytest.raises(NotRegisteredError) as info:
        widgets.build({"type": "Widgit"})
    assert str(info.value) == (
        "'Widgit' is not in the test_registry::widget registry. Did you mean 'Widget'?"
    )
    with pytest.raises(KeyError, match=r"Registered: Widget. For your own type"):
        widgets.build({"type": "Zebra"})


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "CheckpointHook",
            'provided by hooks-eval, which is not installed: pip install "./packages/hooks-eval"',
        ),
        ("TensorboardLoggerHook", 'pip install "./packages/hooks-logging[tensorboard]"'),
        ("ParamSchedulerHook", 'pip install "./packages/hooks-optim"'),
        ("EMAHook", 'pip install "./packages/hooks-optim"'),
        ("TensorBoardLoggerHook", "Did you mean 'TensorboardLoggerHook'"),
        ("ChekpointHook", "Did you mean 'CheckpointHook'"),
    ],
)
def test_first_party_names_give_the_pip_install(name: str, expected: str) -> None:
    with pytest.raises(NotRegisteredError, match="not in the hooks_core::hook registry") as info:
        HOOKS.build({"type": name})
    assert expected in str(info.value)
    if "Did you mean" in expected:
        assert "pip install" in str(info.value)


def test_whole_registries_owned_by_a_satellite_give_the_pip_install() -> None:
    from hooks_core import METRICS, OPTIMIZERS

    with pytest.raises(
        NotRegisteredError,
        match=r'optimizer types are provided by hooks-optim.*"\./packages/hooks-optim"',
    ):
        OPTIMIZERS.build({"type": "LARS"})
    with pytest.raises(NotRegisteredError, match=r'pip install "\./packages/hooks-eval"'):
        METRICS.build({"type": "Accuracy"})


def test_child_registry_resolves_through_parent_and_by_scope() -> None:
    @HOOKS.register_module()
    class CoreSideHook(Hook): ...

    child = Registry("hook", parent=HOOKS, scope="mylib")

    @child.register_module()
    class MyLibHook(Hook): ...

    assert child.get("CoreSideHook") is CoreSideHook
    assert child.get("MyLibHook") is MyLibHook
    assert HOOKS.get("mylib.MyLibHook") is MyLibHook
    assert HOOKS.get("MyLibHook") is MyLibHook  # unambiguous, found in the child
    assert HOOKS.children == {"mylib": child}
    with pytest.raises(ValueError, match="already has a child with scope 'mylib'"):
        Registry("hook", parent=HOOKS, scope="mylib")

    other = Registry("hook", parent=HOOKS, scope="otherlib")
    other.register_module(name="MyLibHook", module=CoreSideHook)
    with pytest.raises(NotRegisteredError, match=r"'mylib.MyLibHook', 'otherlib.MyLibHook'"):
        HOOKS.get("MyLibHook")
    assert HOOKS.get("otherlib.MyLibHook") is CoreSideHook


def test_dotted_path_falls_back_to_import() -> None:
    widgets = Registry("widget")
    assert widgets.get("collections.OrderedDict").__name__ == "OrderedDict"
    assert widgets.get("collections.NoSuchThing") is None
    assert widgets.get("no_such_package.Thing") is None


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("lazy_widgets")]:
        del sys.modules[name]


def write_module(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


def test_locations_are_imported_once_on_the_first_miss(module_dir: Path) -> None:
    write_module(
        module_dir,
        "lazy_widgets_registry",
        """
        from hooks_core import Registry
        WIDGETS = Registry("widget", locations=["lazy_widgets_impl"])
        """,
    )
    write_module(
        module_dir,
        "lazy_widgets_impl",
        """
        from lazy_widgets_registry import WIDGETS
        IMPORTS = []

        @WIDGETS.register_module()
        class LazyWidget:
            def __init__(self, size):
                self.size = size
                IMPORTS.append(size)
        """,
    )
    from lazy_widgets_registry import WIDGETS  # type: ignore[import-not-found]

    assert "lazy_widgets_impl" not in sys.modules
    assert WIDGETS.build({"type": "LazyWidget", "size": 4}).size == 4
    assert WIDGETS.scope == "lazy_widgets_registry"
    module = sys.modules["lazy_widgets_impl"]
    assert WIDGETS.get("StillMissing") is None
    assert sys.modules["lazy_widgets_impl"] is module  # imported once, not again
    assert module.IMPORTS == [4]


def test_a_location_that_cannot_be_imported_is_reported() -> None:
    widgets = Registry("widget", locations=["lazy_widgets_missing"])
    with pytest.raises(ImportError, match="could not import its location 'lazy_widgets_missing'"):
        widgets.get("Anything")


def test_custom_imports(module_dir: Path) -> None:
    write_module(module_dir, "lazy_widgets_custom", "VALUE = 7\n")
    (module,) = import_modules_from_strings(["lazy_widgets_custom"])
    assert module is not None and module.VALUE == 7
    assert import_modules_from_strings("lazy_widgets_custom")[0] is module
    with pytest.raises(
        ImportError, match="custom_imports could not import 'lazy_widgets_nope'"
    ) as info:
        import_modules_from_strings(["lazy_widgets_nope"])
    assert isinstance(info.value.__cause__, ModuleNotFoundError)
    with pytest.warns(UserWarning, match="lazy_widgets_nope"):
        assert import_modules_from_strings(["lazy_widgets_nope"], allow_failed_imports=True) == [
            None
        ]
    with pytest.raises(TypeError, match="custom_imports must be"):
        import_modules_from_strings([3])  # type: ignore[list-item]


def test_available_names_include_parents() -> None:
    child = Registry("hook", parent=HOOKS, scope="listing")
    child.register_module(name="ListedHook", module=Hook)

    def builder() -> Any: ...

    HOOKS.register_module(name="RootListedHook", module=builder)
    names = child.available_names()
    assert {"ListedHook", "RootListedHook"} <= set(names)


# ------------------------------------------------------------ MMEngine's API
@pytest.fixture
def no_default_scope(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start without a default scope and leave none behind (it is process-wide)."""
    from hooks_core.registry import DefaultScope

    monkeypatch.setattr(DefaultScope, "_instances", {})
    monkeypatch.setattr(DefaultScope, "_current", None)


def test_constructor_arguments_and_properties_are_mmengines() -> None:
    cats = Registry("cat")
    assert (cats.name, cats.scope, cats.module_dict, len(cats)) == ("cat", "test_registry", {}, 0)
    assert cats.build_func is build_from_cfg and cats.parent is None and cats.root is cats

    def build_func(cfg: Any, registry: Registry, default_args: Any = None) -> str:
        return f"built {cfg['type']} by {registry.name}"

    custom = Registry("cat", build_func, scope="custom")  # build_func is the second argument
    kittens = Registry("kitten", parent=custom, scope="kitten")
    assert kittens.build_func is build_func  # inherited from the parent
    assert kittens.build({"type": "Tabby"}) == "built Tabby by kitten"
    assert custom.children == {"kitten": kittens} and kittens.parent is custom
    with pytest.raises(TypeError, match="parent must be a Registry or None, got str"):
        Registry("little_cat", parent="cat", scope="little_cat")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="scope must be a str or None, got int"):
        Registry("cat", scope=1)  # type: ignore[arg-type]


def test_split_scope_key_splits_off_the_first_scope() -> None:
    assert Registry.split_scope_key("BloodHound") == (None, "BloodHound")
    assert Registry.split_scope_key("hound.BloodHound") == ("hound", "BloodHound")
    assert Registry.split_scope_key("hound.little_hound.Dachshund") == (
        "hound",
        "little_hound.Dachshund",
    )


def test_functions_register_and_build_by_calling_them() -> None:
    cats = Registry("cat")

    @cats.register_module()
    def munchkin(times: int = 1) -> str:
        return "meow " * times

    assert cats.get("munchkin") is munchkin and "munchkin" in cats
    assert cats.build({"type": "munchkin", "times": 2}) == "meow meow "
    assert cats.build({"type": munchkin}) == "meow "  # the function itself as the type
    with pytest.raises(TypeError, match="only classes and functions can be registered"):
        cats.register_module(module="string")


def test_module_dict_and_children_are_the_live_tables() -> None:
    cats = Registry("cat")
    cats.register_module(name="Sphynx", module=Widget)
    cats.module_dict.pop("Sphynx")  # how MMEngine users unregister in their tests
    assert cats.get("Sphynx") is None and len(cats) == 0


def test_repr_is_a_table_of_the_names_and_objects() -> None:
    cats = Registry("cat")
    cats.register_module(name=["Siamese", "Bengal"], module=Widget)
    lines = repr(cats).splitlines()
    assert lines[0] == "Registry of cat (test_registry, 2 names)"
    assert lines[1].split() == ["Names", "Objects"]
    assert [line.split()[0] for line in lines[2:]] == ["Bengal", "Siamese"]  # sorted
    assert all(line.endswith(str(Widget)) for line in lines[2:])


def dog_tree() -> dict[str, Registry]:
    """MMEngine's test tree of dogs, one registry per scope below the root."""
    #                 dogs
    #          hound         samoyed
    #   little_hound  mid_hound   little_samoyed
    dogs = Registry("dogs", scope="dogs")
    hound = Registry("hounds", parent=dogs, scope="hound")
    samoyed = Registry("samoyeds", parent=dogs, scope="samoyed")
    return {
        "dogs": dogs,
        "hound": hound,
        "little_hound": Registry("little hounds", parent=hound, scope="little_hound"),
        "mid_hound": Registry("mid hounds", parent=hound, scope="mid_hound"),
        "samoyed": samoyed,
        "little_samoyed": Registry("little samoyeds", parent=samoyed, scope="little_samoyed"),
    }


def test_get_walks_the_tree_by_scope_as_mmengine_does() -> None:
    tree = dog_tree()
    registered = {}
    names = {"dogs": "GoldenRetriever", "hound": "BloodHound", "little_hound": "Dachshund",
             "mid_hound": "Beagle", "samoyed": "PedigreeSamoyed",
             "little_samoyed": "LittleSamoyed"}  # fmt: skip
    for scope, name in names.items():
        registered[name] = tree[scope].register_module(module=type(name, (), {}))
    dogs, hound, little_hound = tree["dogs"], tree["hound"], tree["little_hound"]
    assert hound.get("BloodHound") is registered["BloodHound"]  # its own
    assert hound.get("GoldenRetriever") is registered["GoldenRetriever"]  # from its parent
    assert little_hound.get("GoldenRetriever") is registered["GoldenRetriever"]  # grandparent
    assert dogs.get("hound.BloodHound") is registered["BloodHound"]  # a child's scope
    assert hound.get("hound.BloodHound") is registered["BloodHound"]  # its own scope
    assert hound.get("little_hound.Dachshund") is registered["Dachshund"]
    assert dogs.get("hound.little_hound.Dachshund") is registered["Dachshund"]  # nested scopes
    assert little_hound.get("hound.BloodHound") is registered["BloodHound"]  # its parent's
    assert little_hound.get("hound.mid_hound.Beagle") is registered["Beagle"]  # a sibling's
    assert little_hound.get("samoyed.PedigreeSamoyed") is registered["PedigreeSamoyed"]  # uncle
    assert (
        hound.get("samoyed.little_samoyed.LittleSamoyed")
        is little_hound.get("samoyed.little_samoyed.LittleSamoyed")
        is registered["LittleSamoyed"]
    )
    # Misses are None, as in MMEngine.
    assert little_hound.get("GoldenRetrieverererer") is None
    assert dogs.get("samoyedddd.PedigreeSamoyed") is None  # no such scope
    assert dogs.get("samoyed.LittleSamoyed") is None  # a scoped key does not look below
    assert little_hound.get("mid_hound.PedigreeSamoyedddddd") is None
    assert hound.get("hound.GoldenRetriever") is None  # its own scope: its own table only
    # Our addition: an unscoped name found in exactly one descendant.
    assert dogs.get("Beagle") is registered["Beagle"]


def test_root_and_search_child() -> None:
    tree = dog_tree()
    assert all(registry.root is tree["dogs"] for registry in tree.values())
    assert tree["mid_hound"]._get_root_registry() is tree["dogs"]
    assert tree["dogs"]._search_child("hound") is tree["hound"]
    assert tree["dogs"]._search_child("little_hound") is tree["little_hound"]
    assert tree["dogs"]._search_child("not a child") is None
    assert tree["little_hound"]._search_child("hound") is None


class Managed(ManagerMixin):
    """A managed class: the registry builds it with `get_instance`."""

    def __init__(self, name: str = "", size: int = 1) -> None:
        super().__init__(name)
        self.size = size


@pytest.mark.usefixtures("no_default_scope")
@pytest.mark.parametrize("cfg_type", [dict, ConfigDict, Config])
def test_build_takes_dicts_configdicts_and_configs_and_honours_scopes(cfg_type: type) -> None:
    from hooks_core.registry import DefaultScope

    tree = dog_tree()
    dogs, hound, samoyed = tree["dogs"], tree["hound"], tree["samoyed"]

    @dogs.register_module()
    def bark(times: int = 1) -> str:
        return " ".join(["woof"] * times)

    @hound.register_module()
    class BloodHound: ...

    @tree["mid_hound"].register_module()
    class Beagle: ...

    @samoyed.register_module()
    class MySamoyed:
        def __init__(self, friend: Any) -> None:
            self.friend = dogs.build(friend)

    @samoyed.register_module()
    class YourSamoyed: ...

    assert dogs.build(cfg_type({"type": "bark", "times": 3})) == "woof woof woof"
    assert isinstance(hound.build(cfg_type({"type": "BloodHound"})), BloodHound)
    # `_scope_` builds the object, and what it builds inside, in that scope
    built = dogs.build(cfg_type({"_scope_": "samoyed", "type": "MySamoyed",
                                 "friend": {"type": "YourSamoyed"}}))  # fmt: skip
    assert isinstance(built, MySamoyed) and isinstance(built.friend, YourSamoyed)
    assert DefaultScope.get_current_instance() is None  # switched back
    managed = Registry("thing")
    managed.register_module(module=Managed)
    name = f"shared-{cfg_type.__name__}"
    first = managed.build(cfg_type({"type": "Managed", "name": name, "size": 4}))
    assert managed.build(cfg_type({"type": "Managed", "name": name})) is first
    assert Managed.get_instance(name).size == 4
    # a default scope sends builds through the root to that scope's registry
    DefaultScope.get_instance("task", scope_name="mid_hound")
    assert isinstance(tree["little_hound"].build(cfg_type({"type": "Beagle"})), Beagle)
    built = dogs.build(cfg_type({"_scope_": "samoyed", "type": "MySamoyed",
                                 "friend": {"type": "hound.BloodHound"}}))  # fmt: skip
    assert isinstance(built.friend, BloodHound)
    assert DefaultScope.get_current_instance().scope_name == "mid_hound"  # type: ignore[union-attr]


@pytest.mark.usefixtures("no_default_scope")
def test_a_default_scope_outside_the_tree_falls_back_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from hooks_core.registry import DefaultScope

    tree = dog_tree()

    @tree["mid_hound"].register_module()
    class Beagle: ...

    DefaultScope.get_instance("lost", scope_name="scope_not_found")
    with caplog.at_level("WARNING", logger="hooks_core.registry"):
        assert isinstance(tree["mid_hound"].build({"type": "Beagle"}), Beagle)
    assert "no registry has the scope 'scope_not_found'" in caplog.text


@pytest.mark.usefixtures("no_default_scope")
def test_switch_scope_and_registry_nests_and_restores() -> None:
    from hooks_core.registry import DefaultScope

    dogs = Registry("dogs", scope="dogs")
    hound = Registry("hounds", scope="hound", parent=dogs)
    samoyed = Registry("samoyeds", scope="samoyed", parent=dogs)
    chihuahua = Registry("chihuahuas", scope="chihuahua", parent=dogs)
    with dogs.switch_scope_and_registry(None) as registry:
        assert registry is dogs  # no default scope: the registry itself
    DefaultScope.get_instance("task", scope_name="chihuahua")
    with chihuahua.switch_scope_and_registry("hound") as registry:
        assert registry is hound
        assert DefaultScope.get_current_instance().scope_name == "hound"  # type: ignore[union-attr]
        with chihuahua.switch_scope_and_registry("samoyed") as inner:
            assert inner is samoyed
        assert DefaultScope.get_current_instance().scope_name == "hound"  # type: ignore[union-attr]
    assert DefaultScope.get_current_instance().scope_name == "chihuahua"  # type: ignore[union-attr]
    with hound.switch_scope_and_registry(None) as registry:
        assert registry is chihuahua  # the current default scope's registry


def test_traverse_registry_tree_and_count_registered_modules(tmp_path: Path) -> None:
    import json

    from hooks_core.registry import count_registered_modules, traverse_registry_tree

    tree = dog_tree()
    tree["hound"].register_module(name="BloodHound", module=Widget)
    info = traverse_registry_tree(tree["little_hound"], verbose=False)  # from any node: the root
    assert [entry["scope"] for entry in info] == [
        "dogs", "hound", "little_hound", "mid_hound", "samoyed", "little_samoyed"
    ]  # fmt: skip
    assert info[1] == {"num_modules": 1, "scope": "hound", "": ["BloodHound"]}
    scan = count_registered_modules(save_path=tmp_path, verbose=False)
    hooks = {
        name for entry in scan["registries"]["HOOKS"] for name in entry.get("hooks_core/hooks", [])
    }
    assert {"IterTimerHook", "RuntimeInfoHook"} <= hooks
    saved = json.loads((tmp_path / "modules_statistic_results.json").read_text())
    assert saved["registries"]["HOOKS"] == scan["registries"]["HOOKS"]


@pytest.mark.usefixtures("no_default_scope")
def test_the_mmengine_scope_means_the_core_root_registries() -> None:
    from hooks_core.registry import DefaultScope

    @HOOKS.register_module()
    class RootSideHook(Hook): ...

    assert HOOKS.get("mmengine.RootSideHook") is RootSideHook
    assert isinstance(HOOKS.build({"_scope_": "mmengine", "type": "RootSideHook"}), RootSideHook)
    DefaultScope.get_instance("runner", scope_name="mmengine")  # MMEngine's Runner default
    with HOOKS.switch_scope_and_registry(None) as registry:
        assert registry is HOOKS
