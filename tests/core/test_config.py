"""Config files, ``--cfg-options`` and the train command's handling of its arguments."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

from hooks_core import apply_cfg_options, import_custom_modules, load_config
from hooks_core.cli import build_parser, prepare_config
from hooks_core.config import MISSING_YAML, merge_configs, parse_value

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# ------------------------------------------------------------ files
def test_python_config_with_bases_merges_dicts_and_replaces_the_rest(tmp_path: Path) -> None:
    (tmp_path / "base").mkdir()
    write(tmp_path / "base" / "schedule.py", """
        train_cfg = dict(by_epoch=True, max_epochs=12, val_interval=1)
        optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9), clip_grad=None)
        param_scheduler = [dict(type='MultiStepLR', milestones=[8, 11])]
    """)  # fmt: skip
    write(tmp_path / "base" / "model.py", "model = dict(type='ResNet', depth=50)\n")
    path = write(tmp_path / "exp.py", """
        import math  # modules are not config keys
        _base_ = ['base/schedule.py', 'base/model.py']
        optim_wrapper = dict(optimizer=dict(lr=0.02))
        param_scheduler = [dict(type='CosineAnnealingLR', T_max=12)]
        model = dict(_delete_=True, type='MLP', width=int(math.sqrt(64)))
    """)  # fmt: skip
    cfg = load_config(path)
    assert cfg["optim_wrapper"] == {
        "optimizer": {"type": "SGD", "lr": 0.02, "momentum": 0.9},
        "clip_grad": None,
    }
    assert cfg["param_scheduler"] == [{"type": "CosineAnnealingLR", "T_max": 12}]
    assert cfg["model"] == {"type": "MLP", "width": 8}
    assert cfg["train_cfg"]["max_epochs"] == 12
    assert cfg["filename"] == str(path)
    assert "math" not in cfg and "_base_" not in cfg


def test_yaml_and_json_configs(tmp_path: Path) -> None:
    write(tmp_path / "base.json", '{"train_cfg": {"by_epoch": true, "max_epochs": 3}}')
    path = write(tmp_path / "exp.yaml", """
        _base_: base.json
        train_cfg:
          max_epochs: 5
        optim_wrapper:
          optimizer: {type: SGD, lr: 0.01}
    """)  # fmt: skip
    cfg = load_config(path)
    assert cfg["train_cfg"] == {"by_epoch": True, "max_epochs": 5}
    assert cfg["optim_wrapper"]["optimizer"]["lr"] == 0.01


def test_a_yaml_config_without_pyyaml_names_the_extra(tmp_path: Path) -> None:
    path = write(tmp_path / "exp.yaml", "a: 1\n")
    code = (
        "import sys; sys.modules['yaml'] = None\n"
        "from hooks_core import load_config\n"
        f"try:\n    load_config({str(path)!r})\nexcept ImportError as err:\n    print(err)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert (
        out.stdout.strip()
        == MISSING_YAML
        == ('YAML configs need PyYAML: pip install "./packages/hooks-core[yaml]"')
    )


@pytest.mark.parametrize(
    ("files", "error", "message"),
    [
        ({"exp.py": "_base_ = 'missing.py'\n"}, FileNotFoundError, "missing.py (a _base_ of"),
        ({"exp.py": "_base_ = 'b.py'\n", "b.py": "_base_ = 'exp.py'\n"}, ValueError,
         "include each other"),
        ({"exp.toml": "a = 1\n"}, ValueError, "unsupported suffix"),
        ({"exp.yaml": "- 1\n- 2\n"}, ValueError, "must hold a mapping, got list"),
        ({"exp.json": '{"a": 1,}'}, ValueError, "exp.json is not valid JSON: Expecting"),
        ({"exp.yaml": "a: [1\n"}, ValueError, "exp.yaml is not valid YAML at line 2, column 1"),
    ],
)  # fmt: skip
def test_bad_config_files_are_explained(
    tmp_path: Path, files: dict[str, str], error: type, message: str
) -> None:
    for name, text in files.items():
        write(tmp_path / name, text)
    with pytest.raises(error) as info:
        load_config(tmp_path / next(iter(files)))
    assert message in str(info.value)


def test_merging_never_changes_its_inputs() -> None:
    base = {"a": {"b": 1, "c": 2}}
    override = {"a": {"b": 3, "d": {"_delete_": True, "e": 4}}}
    assert merge_configs(base, override) == {"a": {"b": 3, "c": 2, "d": {"e": 4}}}
    assert base == {"a": {"b": 1, "c": 2}}
    assert override["a"]["d"] == {"_delete_": True, "e": 4}


def test_custom_imports_find_modules_next_to_the_config(tmp_path: Path) -> None:
    write(tmp_path / "my_registered_parts.py", """
        from hooks_core import HOOKS, Hook

        @HOOKS.register_module()
        class NextToTheConfigHook(Hook):
            pass
    """)  # fmt: skip
    path = write(tmp_path / "exp.py", "custom_imports = dict(imports=['my_registered_parts'])\n")
    from hooks_core import HOOKS

    import_custom_modules(load_config(path))
    assert "NextToTheConfigHook" in HOOKS
    with pytest.raises(ImportError, match="could not import 'no_such_module'"):
        import_custom_modules({"custom_imports": {"imports": ["no_such_module"]}})


def hook_module(hook: str) -> str:
    """The text of a module that registers an empty hook class called `hook`."""
    return (
        "from hooks_core import HOOKS, Hook\n\n\n"
        f"@HOOKS.register_module()\nclass {hook}(Hook):\n    pass\n"
    )


@pytest.fixture
def scratch_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Give the test its own sys.path and forget the modules it imports, for the next test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.usefixtures("scratch_imports")
def test_custom_imports_find_modules_next_to_a_base_config_in_another_folder(
    tmp_path: Path,
) -> None:
    (tmp_path / "base").mkdir()
    (tmp_path / "exp").mkdir()
    write(tmp_path / "base" / "base_folder_parts.py", hook_module("NextToTheBaseHook"))
    write(tmp_path / "base" / "base.py", "custom_imports = dict(imports=['base_folder_parts'])\n")
    path = write(tmp_path / "exp" / "exp.py", "_base_ = ['../base/base.py']\n")
    from hooks_core import HOOKS

    cfg = load_config(path)
    assert cfg["_base_files_"] == [str(tmp_path / "base" / "base.py")]
    import_custom_modules(cfg)
    assert "NextToTheBaseHook" in HOOKS
    assert str(tmp_path / "base") in sys.path  # the module may import its neighbours later


@pytest.mark.usefixtures("scratch_imports")
def test_the_config_folder_is_searched_first_and_unused_base_folders_are_dropped(
    tmp_path: Path,
) -> None:
    for folder, hook in [("exp", "FromTheConfigFolderHook"), ("base", "FromTheBaseFolderHook")]:
        (tmp_path / folder).mkdir()
        write(tmp_path / folder / "same_name_parts.py", hook_module(hook))
    write(tmp_path / "base" / "base.py", "custom_imports = ['same_name_parts']\n")
    path = write(tmp_path / "exp" / "exp.py", "_base_ = '../base/base.py'\n")
    from hooks_core import HOOKS

    import_custom_modules(load_config(path))
    assert "FromTheConfigFolderHook" in HOOKS and "FromTheBaseFolderHook" not in HOOKS
    assert sys.path[0] == str(tmp_path / "exp")  # kept, as it always was
    assert str(tmp_path / "base") not in sys.path  # nothing came from there


# ------------------------------------------------------------ MMEngine's file features
@pytest.mark.parametrize("suffix", [".py", ".json", ".yaml"])
def test_predefined_variables_name_the_file_itself(tmp_path: Path, suffix: str) -> None:
    from hooks_core.config import Config

    body = {
        ".py": "a = '{{ fileDirname }}'\nb = '{{fileBasename}}'\n"
               "c = 'work_dirs/{{ fileBasenameNoExtension }}'\nd = '{{ fileExtname }}'\n",
        ".json": '{"a": "{{ fileDirname }}", "b": "{{fileBasename}}", '
                 '"c": "work_dirs/{{ fileBasenameNoExtension }}", "d": "{{ fileExtname }}"}',
        ".yaml": "a: '{{ fileDirname }}'\nb: '{{fileBasename}}'\n"
                 "c: 'work_dirs/{{ fileBasenameNoExtension }}'\nd: '{{ fileExtname }}'\n",
    }[suffix]  # fmt: skip
    path = write(tmp_path / f"exp_1{suffix}", body)
    cfg = Config.fromfile(path)
    assert (cfg.a, cfg.b, cfg.c, cfg.d) == (
        tmp_path.as_posix(), f"exp_1{suffix}", "work_dirs/exp_1", suffix,
    )  # fmt: skip
    assert Config.fromfile(path, use_predefined_variables=False).b == "{{fileBasename}}"
    assert load_config(path)["c"] == "work_dirs/exp_1"
    assert load_config(path, use_predefined_variables=False)["c"].endswith("}}")


def test_environment_variables_fill_in_or_fall_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hooks_core.config import Config

    path = write(tmp_path / "exp.py", """
        data_root = '{{$HOOKS_TEST_ROOT:/data/default}}/images'
        num_classes = {{'$HOOKS_TEST_CLASSES:80'}}
    """)  # fmt: skip
    monkeypatch.delenv("HOOKS_TEST_ROOT", raising=False)
    monkeypatch.delenv("HOOKS_TEST_CLASSES", raising=False)
    cfg = Config.fromfile(path)
    assert (cfg.data_root, cfg.num_classes, cfg.env_variables) == ("/data/default/images", 80, {})
    monkeypatch.setenv("HOOKS_TEST_CLASSES", "10")
    cfg = Config.fromfile(path)
    assert cfg.num_classes == 10 and cfg.env_variables == {"HOOKS_TEST_CLASSES": "10"}
    write(tmp_path / "as_written.py", "data_root = '{{$HOOKS_TEST_ROOT:/data}}'\n")
    as_written = Config.fromfile(tmp_path / "as_written.py", use_environment_variables=False)
    assert as_written.data_root == "{{$HOOKS_TEST_ROOT:/data}}"
    write(tmp_path / "bad.py", "root = '{{$HOOKS_TEST_UNSET:}}'\n")
    monkeypatch.delenv("HOOKS_TEST_UNSET", raising=False)
    with pytest.raises(KeyError, match="'HOOKS_TEST_UNSET' is not set"):
        load_config(tmp_path / "bad.py")


@pytest.mark.parametrize("suffix", [".py", ".json", ".yaml"])
def test_base_references_copy_values_of_any_type(tmp_path: Path, suffix: str) -> None:
    write(tmp_path / "base.py", """
        item1 = [1, 2]
        item2 = dict(a=0, b=dict(c=[3.1, 4.2]))
        item3 = 'base.py'
    """)  # fmt: skip
    body = {
        ".py": "_base_ = './base.py'\nitem4 = {{ _base_.item2.b.c }}\n"
               "item5 = dict(x={{_base_.item2}}, y=[{{_base_.item3}}])\n"
               "item6 = {{_base_.item1.1}}\n",
        ".json": '{"_base_": "./base.py", "item4": {{ _base_.item2.b.c }}, '
                 '"item5": {"x": {{_base_.item2}}, "y": [{{_base_.item3}}]}, '
                 '"item6": {{_base_.item1.1}}}',
        ".yaml": "_base_: ./base.py\nitem4: {{ _base_.item2.b.c }}\n"
                 "item5: {x: {{_base_.item2}}, y: [{{_base_.item3}}]}\nitem6: {{_base_.item1.1}}\n",
    }[suffix]  # fmt: skip
    cfg = load_config(write(tmp_path / f"exp{suffix}", body))
    assert cfg["item4"] == [3.1, 4.2]
    assert cfg["item5"] == {"x": {"a": 0, "b": {"c": [3.1, 4.2]}}, "y": ["base.py"]}
    assert cfg["item6"] == 2 and cfg["item1"] == [1, 2]
    cfg["item5"]["x"]["a"] = 9
    assert cfg["item2"]["a"] == 0  # a copy, not the base's own dict
    write(tmp_path / "missing.py", "_base_ = 'base.py'\nx = {{_base_.item9}}\n")
    with pytest.raises(KeyError, match=r"\{\{_base_.item9\}\} refers to 'item9'"):
        load_config(tmp_path / "missing.py")


def test_a_python_config_reads_its_bases_through_the_base_variable(tmp_path: Path) -> None:
    from hooks_core.config import Config

    write(tmp_path / "base.py", "model = dict(type='ResNet', depth=50)\nlr = 0.1\n")
    path = write(tmp_path / "exp.py", """
        _base_ = ['base.py']
        model = dict(_base_.model, depth=101)
        lr = _base_.lr * 2
        backbone_type = _base_.model.type
    """)  # fmt: skip
    cfg = Config.fromfile(path)
    assert cfg.model == {"type": "ResNet", "depth": 101} and cfg.lr == 0.2
    assert cfg.backbone_type == "ResNet"
    assert cfg.text == f"{tmp_path / 'base.py'}\n{(tmp_path / 'base.py').read_text()}\n" \
        f"{path}\n{path.read_text()}"  # fmt: skip


def test_merging_rules_follow_mmengine(tmp_path: Path) -> None:
    write(tmp_path / "a.py", "item = dict(x=1)\nflag = True\n")
    write(tmp_path / "b.py", "item = dict(y=2)\n")
    write(tmp_path / "two.py", "_base_ = ['a.py', 'b.py']\n")
    with pytest.raises(KeyError, match=r"a.py and .*b.py both define 'item'"):
        load_config(tmp_path / "two.py")
    write(tmp_path / "over.py", "_base_ = 'a.py'\nflag = dict(on=True)\n")
    with pytest.raises(TypeError, match="'flag' is a dict, but the value it would merge into is "
                       "bool True; add _delete_=True"):  # fmt: skip
        load_config(tmp_path / "over.py")
    write(tmp_path / "replace.py", "_base_ = 'a.py'\nflag = dict(_delete_=True, on=True)\n")
    assert load_config(tmp_path / "replace.py")["flag"] == {"on": True}


def test_python_configs_keep_values_and_drop_code(tmp_path: Path) -> None:
    path = write(tmp_path / "exp.py", """
        from __future__ import annotations
        import os.path as osp

        def helper(x):
            return x * 2

        here = osp.basename(__file__)
        scaled = helper(3)
        cls = dict(type=dict)
    """)  # fmt: skip
    cfg = load_config(path)
    assert {key for key in cfg if key not in ("filename",)} == {"here", "scaled", "cls"}
    assert (cfg["here"], cfg["scaled"], cfg["cls"]["type"]) == ("exp.py", 6, dict)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("from mmengine.config import read_base\nwith read_base():\n    from .base import *\n",
         "lazy-import configs"),
        ("_base_ = ['mmdet::_base_/models/retinanet.py']\n", "the package base"),
    ],
)  # fmt: skip
def test_unsupported_mmengine_config_styles_say_so(tmp_path: Path, text: str, message: str) -> None:
    from hooks_core.config import Config

    path = write(tmp_path / "exp.py", text)
    with pytest.raises(NotImplementedError, match=message):
        Config.fromfile(path)
    with pytest.raises(NotImplementedError, match="lazy_import=True"):
        Config.fromfile(tmp_path / "exp.py", lazy_import=True)


def test_a_deprecated_config_warns(tmp_path: Path) -> None:
    path = write(tmp_path / "old.py", """
        _deprecation_ = dict(expected='new.py', reference='https://example.org/why')
        a = 1
    """)  # fmt: skip
    with pytest.warns(DeprecationWarning, match=r"old.py is deprecated; use new.py instead "
                      r"\(see https://example.org/why\)"):  # fmt: skip
        cfg = load_config(path)
    assert "_deprecation_" not in cfg and cfg["a"] == 1


# ------------------------------------------------------------ cfg-options
@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0.01", 0.01), ("5", 5), ("-3", -3), ("1e-4", 1e-4), ("true", True), ("False", False),
        ("None", None), ("null", None), ("[1, 2]", [1, 2]), ("(1, 2)", (1, 2)), ("1,2", [1, 2]),
        ("a,b", ["a", "b"]), ("sgd", "sgd"), ("'quoted'", "quoted"), ("{'a': 1}", {"a": 1}),
        ("[[1, 2], [3]]", [[1, 2], [3]]), ("work_dirs/x", "work_dirs/x"),
        ("[cat, dog]", ["cat", "dog"]), ("[(a,b), [1,2], false]", [("a", "b"), [1, 2], False]),
        ("(a)", ("a",)), ("(1,2),(3,4)", [(1, 2), (3, 4)]), ("'a,b'", "a,b"), ("inf", math.inf),
        ("['x, y', z]", ["x, y", "z"]),
    ],
)  # fmt: skip
def test_option_values_are_typed(text: str, value: Any) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


@pytest.mark.parametrize("text", ["[1, 2", "[1]]", "(a"])
def test_option_values_with_unbalanced_brackets_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="do not balance"):
        parse_value(text)


def test_options_set_nested_keys_and_list_items_on_a_copy() -> None:
    cfg = {
        "optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}},
        "param_scheduler": [{"type": "LinearLR", "end": 5}],
        "train_cfg": {"max_epochs": 10},
    }
    result = apply_cfg_options(cfg, [
        "optim_wrapper.optimizer.lr=0.01", "param_scheduler.0.end=10", "train_cfg.max_epochs=3",
        "+train_cfg.val_interval=2", "+env_cfg.dist_cfg.backend=gloo",
    ])  # fmt: skip
    assert result["optim_wrapper"]["optimizer"]["lr"] == 0.01
    assert result["param_scheduler"][0]["end"] == 10
    assert result["train_cfg"] == {"max_epochs": 3, "val_interval": 2}
    assert result["env_cfg"] == {"dist_cfg": {"backend": "gloo"}}
    assert cfg["optim_wrapper"]["optimizer"]["lr"] == 0.1  # the input is untouched


@pytest.mark.parametrize(
    ("option", "error", "message"),
    [
        ("optim_wrapper.optimizer.lrr=0.1", KeyError,
         "'optim_wrapper.optimizer.lrr' is not in the config; did you mean "
         "'optim_wrapper.optimizer.lr'? keys there: lr, type. To add it on purpose, write "
         "+optim_wrapper.optimizer.lrr=..."),
        ("param_scheduler.3.end=1", KeyError, "'param_scheduler' is a list of 1 items"),
        ("optim_wrapper.optimizer.lr.x=1", ValueError, "'optim_wrapper.optimizer.lr' is a float"),
        ("train_cfg", ValueError, "'train_cfg' is not key=value"),
    ],
)  # fmt: skip
def test_bad_options_say_what_is_wrong(option: str, error: type, message: str) -> None:
    cfg = {"optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}},
           "param_scheduler": [{"end": 5}], "train_cfg": {}}  # fmt: skip
    with pytest.raises(error) as info:
        apply_cfg_options(cfg, [option])
    assert message in str(info.value)


# ------------------------------------------------------------ the train command's arguments
def test_the_command_line_choices_reach_the_config(tmp_path: Path) -> None:
    cfg = {
        "filename": str(tmp_path / "digits.py"),
        "optim_wrapper": {"optimizer": {"type": "SGD", "lr": 0.1}},
        "randomness": {"deterministic": True},
    }
    args = build_parser().parse_args([
        "digits.py", "--resume", "--seed", "7", "--amp", "--launcher", "pytorch",
        "--cfg-options", "optim_wrapper.optimizer.lr=0.5",
    ])  # fmt: skip
    result = prepare_config(cfg, args)
    assert result["work_dir"] == "work_dirs/digits"
    assert result["resume"] is True and "load_from" not in result
    assert result["randomness"] == {"deterministic": True, "seed": 7}
    assert result["launcher"] == "pytorch"
    assert result["optim_wrapper"] == {
        "type": "AmpOptimWrapper",
        "loss_scale": "dynamic",
        "optimizer": {"type": "SGD", "lr": 0.5},
    }
    resumed = prepare_config(cfg, build_parser().parse_args(["x.py", "--resume", "a.pth",
                                                             "--work-dir", "out"]))  # fmt: skip
    assert (resumed["load_from"], resumed["resume"], resumed["work_dir"]) == ("a.pth", True, "out")
    with pytest.raises(ValueError, match="--amp needs an optim_wrapper config dict"):
        prepare_config({}, build_parser().parse_args(["x.py", "--amp"]))
