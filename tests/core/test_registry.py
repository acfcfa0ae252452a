"""Registry: registration, lookup through parents and children, building, errors."""

from __future__ import annotations

import errno
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from hooks_core import HOOKS, Hook, NotRegisteredError, Registry, import_modules_from_strings

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
        KeyError, match=r"'Widget' is already registered in .* by module 'test_registry'"
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
    with pytest.raises(TypeError, match="expects a dict config, got list"):
        widgets.build([("type", "Widget")])  # type: ignore[arg-type]
    with pytest.raises(KeyError, match=r"has no 'type' key.*Widget"):
        widgets.build({"size": 2})
    with pytest.raises(TypeError, match="'type' must be a registered name or a class"):
        widgets.build({"type": 3})


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
        f"raised by Fussy(...), built by {widgets} from "
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
