"""Config, ConfigDict and DictAction: MMEngine's config objects, exercised as its tests do."""

from __future__ import annotations

import argparse
import copy
import json
import math
import pickle
import sys
import textwrap
from collections import OrderedDict
from typing import TYPE_CHECKING, Any

import pytest

from hooks_core import HOOKS, Hook
from hooks_core.config import Config, ConfigDict, DictAction, as_config, copy_config, load_config

if TYPE_CHECKING:
    from pathlib import Path

SIMPLE = {"item1": [1, 2], "item2": {"a": 0}, "item3": True, "item4": "test"}
SIMPLE_FILES = {
    "py": "item1 = [1, 2]\nitem2 = dict(a=0)\nitem3 = True\nitem4 = 'test'\n",
    "json": json.dumps(SIMPLE),
    "yaml": "item1: [1, 2]\nitem2: {a: 0}\nitem3: true\nitem4: test\n",
}


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(params=sorted(SIMPLE_FILES))
def simple_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    suffix = request.param
    return write(tmp_path / f"simple_config.{suffix}", SIMPLE_FILES[suffix])


# ------------------------------------------------------------ ConfigDict
def test_config_dict_reads_and_writes_keys_as_attributes_at_any_depth() -> None:
    cfg = ConfigDict(model=dict(backbone=dict(depth=50)), hooks=[dict(type="A")])
    assert isinstance(cfg, dict)
    assert cfg.model.backbone.depth == 50
    assert type(cfg.hooks[0]) is ConfigDict and cfg.hooks[0].type == "A"
    cfg.optim = {"lr": 0.1}
    cfg["schedule"] = OrderedDict(steps=(dict(at=1),))
    assert type(cfg.optim) is ConfigDict and cfg["optim"].lr == 0.1
    assert type(cfg.schedule.steps[0]) is ConfigDict
    del cfg.optim
    assert "optim" not in cfg
    assert cfg.setdefault("new", {"a": 1}).a == 1


def test_a_missing_key_is_an_attribute_error_naming_it() -> None:
    cfg = ConfigDict(lr=0.1)
    with pytest.raises(AttributeError, match=r"'ConfigDict' object has no attribute 'lrr'; "
                       r"did you mean 'lr'\?") as info:  # fmt: skip
        _ = cfg.lrr
    assert info.value.name == "lrr"
    with pytest.raises(KeyError):
        _ = cfg["missing"]
    assert getattr(cfg, "missing", 7) == 7 and not hasattr(cfg, "missing")
    with pytest.raises(AttributeError, match="no attribute 'missing'"):
        del cfg.missing


def test_config_dict_update_merges_nested_dicts_and_to_dict_is_plain() -> None:
    cfg = ConfigDict(model=dict(type="ResNet", depth=50), work_dir="a")
    cfg.update(dict(model=dict(depth=101)), work_dir="b")
    assert cfg == {"model": {"type": "ResNet", "depth": 101}, "work_dir": "b"}
    plain = cfg.to_dict()
    assert type(plain) is dict and type(plain["model"]) is dict
    shallow = cfg.copy()
    assert type(shallow) is ConfigDict and shallow.model is cfg.model
    deep = copy.deepcopy(cfg)
    assert deep == cfg and deep.model is not cfg.model and type(deep.model) is ConfigDict
    assert pickle.loads(pickle.dumps(cfg)) == cfg


# ------------------------------------------------------------ Config
def test_an_empty_config_and_one_from_a_dict(tmp_path: Path) -> None:
    cfg = Config()
    assert (cfg.filename, cfg.text, len(cfg), cfg._cfg_dict) == (None, "", 0, {})
    with pytest.raises(TypeError, match="cfg_dict must be a dict, got list"):
        Config([0, 1])  # type: ignore[arg-type]
    path = write(tmp_path / "simple_config.py", SIMPLE_FILES["py"])
    cfg = Config(SIMPLE, filename=path)
    assert cfg.filename == str(path) and cfg.text == SIMPLE_FILES["py"]
    assert cfg == SIMPLE and isinstance(cfg, dict)
    with pytest.raises(KeyError, match="'filename' is reserved"):
        Config({"filename": "x"})
    with pytest.raises(KeyError, match="'pretty_text' is reserved"):
        cfg.pretty_text = "x"


def test_fromfile_gives_dict_and_attribute_access(simple_file: Path) -> None:
    cfg = Config.fromfile(simple_file)
    assert cfg.filename == str(simple_file)
    assert cfg.text == f"{simple_file}\n{simple_file.read_text()}"
    assert len(cfg) == 4 and set(cfg) == set(SIMPLE) and cfg.to_dict() == SIMPLE
    assert cfg.item2.a == 0 and cfg["item1"] == [1, 2] and cfg.get("nope", 0) == 0
    assert "item3" in cfg and "nope" not in cfg
    with pytest.raises(AttributeError, match="'Config' object has no attribute 'not_exist'"):
        _ = cfg.not_exist
    cfg.update(dict(item2=dict(b=1)))
    assert cfg.item2 == {"a": 0, "b": 1}
    cfg.work_dir = "work_dirs/x"
    cfg["item5"] = {"a": {"b": None}}
    assert cfg.work_dir == "work_dirs/x" and cfg.item5.a.b is None
    with pytest.raises(TypeError):
        cfg[[1, 2]] = 0  # type: ignore[index]
    assert (
        repr(Config(dict(a=1), filename=simple_file)) == f"Config (path: {simple_file}): {{'a': 1}}"
    )


def test_a_reserved_key_in_a_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "reserved.py", "filename = 'x'\n")
    with pytest.raises(KeyError, match="'filename' is reserved"):
        Config.fromfile(path)
    assert load_config(path)["filename"] == str(path)  # the plain loader records its file there


def test_merge_from_dict_takes_dotted_keys_and_list_indices() -> None:
    cfg = Config(dict(item1=[1, 2], item2=dict(a=0), item3=True,
                      item=[dict(a=0), dict(b=0, c=0)]))  # fmt: skip
    options = {"item2.a": 1, "item2.b": 0.1, "item3": False, "item.0.a": 1, "item.1.b": 1,
               "new.key": [1]}  # fmt: skip
    cfg.merge_from_dict(options)
    assert cfg.item2 == dict(a=1, b=0.1) and cfg.item3 is False
    assert cfg.item == [{"a": 1}, {"b": 1, "c": 0}] and type(cfg.item[0]) is ConfigDict
    assert cfg.new == {"key": [1]}  # a new key is added, as in MMEngine
    cfg.merge_from_dict({"item2": {"_delete_": True, "z": 1}})
    assert cfg.item2 == {"z": 1}
    with pytest.raises(TypeError, match="'item' is a dict, but the value it would merge into "
                       "is list"):  # fmt: skip
        cfg.merge_from_dict({"item.0.a": 1}, allow_list_keys=False)
    with pytest.raises(KeyError, match="index 2 is out of range for the list of 2 items"):
        cfg.merge_from_dict({"item.2.a": 1})
    given = {"item2": {"_delete_": True, "z": 2}}
    cfg.merge_from_dict(given)
    assert given == {"item2": {"_delete_": True, "z": 2}}  # the options are not changed


def test_dict_action_parses_values_as_mmengine_does() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--options", nargs="+", action=DictAction)
    args = parser.parse_args(["--options", "item2.a=a,b", "item2.b=[(a,b), [1,2], false]"])
    assert args.options == {"item2.a": ["a", "b"], "item2.b": [("a", "b"), [1, 2], False]}
    assert parser.parse_args(["--options", "item2.a=[[1]]"]).options == {"item2.a": [[1]]}
    args = parser.parse_args(["--options", "item2.a=1", "item2.b=0.1", "item2.c=x", "item3=false",
                              "item4=None", "item5=(1,2)", "item6=[]"])  # fmt: skip
    assert args.options == {"item2.a": 1, "item2.b": 0.1, "item2.c": "x", "item3": False,
                            "item4": None, "item5": (1, 2), "item6": []}  # fmt: skip
    cfg = Config(SIMPLE)
    cfg.merge_from_dict(args.options)
    assert cfg.item2 == dict(a=1, b=0.1, c="x") and cfg.item3 is False
    twice = parser.parse_args(["--options", "a=1", "--options", "b=2"]).options
    assert twice == {"a": 1, "b": 2}


@pytest.mark.parametrize(
    ("argument", "message"),
    [("item2.a=[(a,b), [1,2], false", "the brackets of"), ("item2", "is not KEY=VALUE")],
)
def test_dict_action_rejects_bad_arguments_as_usage_errors(
    argument: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = argparse.ArgumentParser(prog="train")
    parser.add_argument("--options", nargs="+", action=DictAction)
    with pytest.raises(SystemExit) as info:
        parser.parse_args(["--options", argument])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_copies_and_pickles_keep_the_file_and_the_text(simple_file: Path) -> None:
    cfg = Config.fromfile(simple_file)
    for other in (cfg.copy(), copy.copy(cfg), copy.deepcopy(cfg), copy_config(cfg),
                  pickle.loads(pickle.dumps(cfg)), as_config(cfg)):  # fmt: skip
        assert type(other) is Config and other == cfg
        assert (other.filename, other.text) == (cfg.filename, cfg.text)
    assert copy.deepcopy(cfg).item2 is not cfg.item2
    assert copy_config(cfg).item2 is not cfg.item2 and cfg.copy().item2 is cfg.item2


def test_as_config_moves_the_file_of_a_loaded_dict_into_the_config(simple_file: Path) -> None:
    cfg = as_config(load_config(simple_file))
    assert "filename" not in cfg and cfg.filename == str(simple_file)
    assert cfg.text == simple_file.read_text() and cfg == SIMPLE
    assert as_config(None) == {} and as_config({"a": {"b": 1}}).a.b == 1


# ------------------------------------------------------------ text and dumps
def test_pretty_text_reads_back_to_the_same_config(tmp_path: Path) -> None:
    path = write(tmp_path / "exp.py", """
        import collections
        model = dict(type='ResNet', depth=50, norm_cfg=dict(type='BN', requires_grad=True),
                     stages=(1,), out_indices=(0, 1, 2, 3), frozen=None, scale=float('inf'))
        pipeline = [dict(type='LoadImage'), dict(type='Resize', scale=(1333, 800), keep_ratio=True),
                    dict(type='PackInputs', meta_keys=('img_id', 'img_path', 'ori_shape'))]
        mapping = {'a b': 1, 'class': 2, 3: 'three'}
        builder = dict(type=collections.OrderedDict, dtype=float)
        work_dir = 'work_dirs/{{ fileBasenameNoExtension }}'
    """)  # fmt: skip
    cfg = Config.fromfile(path)
    text = cfg.pretty_text
    assert "type='collections.OrderedDict'" in text and "dtype=float" in text  # import paths
    assert "scale=float('inf')" in text and "{'a b': 1, 'class': 2, 3: 'three'}" in text
    assert max(len(line) for line in text.splitlines()) <= 79  # long values are broken
    again = Config.fromstring(text, ".py")
    assert again.to_dict() == {**cfg.to_dict(), "builder": {"type": "collections.OrderedDict",
                                                            "dtype": float}}  # fmt: skip
    assert math.isinf(again.model.scale) and again.work_dir == "work_dirs/exp"
    assert HOOKS.get(again.builder.type) is OrderedDict  # an import path builds the same type
    odd = Config({"not a name": 1, "ok": 2})
    assert Config.fromstring(odd.pretty_text, ".py") == odd


@pytest.mark.parametrize("suffix", [".py", ".json", ".yaml", ".yml"])
def test_dump_writes_each_format_and_reads_back(tmp_path: Path, suffix: str) -> None:
    cfg = Config(dict(SIMPLE, nested=dict(pair=(1, 2))))
    target = tmp_path / f"dumped{suffix}"
    assert cfg.dump(target) is None
    again = Config.fromfile(target)
    expected = cfg.to_dict()
    if suffix != ".py":  # JSON and YAML have no tuples
        expected["nested"]["pair"] = [1, 2]
    assert again.to_dict() == expected
    assert again.dump() == target.read_text()  # without a file: the text in its own format


def test_dump_without_a_file_and_bad_suffixes(simple_file: Path) -> None:
    cfg = Config.fromfile(simple_file)
    text = cfg.dump()
    assert isinstance(text, str)
    if simple_file.suffix == ".json":
        assert json.loads(text) == SIMPLE
    assert Config(SIMPLE).dump() == Config(SIMPLE).pretty_text
    with pytest.raises(ValueError, match=r"cannot write a config as 'toml'"):
        cfg.dump(simple_file.with_suffix(".toml"))
    with pytest.raises(TypeError, match="cannot be written as JSON or YAML"):
        Config(dict(value=object())).dump(simple_file.with_suffix(".json"))


def test_fromstring_reads_each_format(simple_file: Path) -> None:
    text = simple_file.read_text()
    cfg = Config.fromstring(text, simple_file.suffix)
    assert cfg.filename is None and cfg.text == text and cfg.to_dict() == SIMPLE
    assert Config.fromstring(Config(SIMPLE).pretty_text, ".py").to_dict() == SIMPLE
    with pytest.raises(ValueError, match=r"unsupported file_format '\.xml'"):
        Config.fromstring(text, ".xml")
    with (
        pytest.warns(UserWarning, match="the text looks like Python"),
        pytest.raises(ValueError, match="is not valid JSON"),
    ):
        Config.fromstring("a = dict(b=1)\n", ".json")


# ------------------------------------------------------------ where configs go
@pytest.fixture
def scratch_imports(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.mark.usefixtures("scratch_imports")
def test_fromfile_imports_custom_modules_next_to_the_config_unless_told_not_to(
    tmp_path: Path,
) -> None:
    write(tmp_path / "config_object_parts.py", """
        from hooks_core import HOOKS, Hook

        @HOOKS.register_module()
        class ConfigObjectHook(Hook):
            def __init__(self, interval=1):
                self.interval = interval
    """)  # fmt: skip
    path = write(tmp_path / "exp.py", """
        custom_imports = dict(imports=['config_object_parts'])
        custom_hooks = [dict(type='ConfigObjectHook', interval=3)]
    """)  # fmt: skip
    Config.fromfile(path, import_custom_modules=False)
    assert "config_object_parts" not in sys.modules
    cfg = Config.fromfile(path)
    hook = HOOKS.build(cfg.custom_hooks[0])  # a ConfigDict builds like a dict
    assert isinstance(hook, Hook) and hook.interval == 3  # type: ignore[attr-defined]


def test_a_runner_trains_from_a_config(tmp_path: Path) -> None:
    from toy import runner_kwargs

    from hooks_core import Runner

    cfg = Config(runner_kwargs(tmp_path, train_cfg=dict(by_epoch=True, max_epochs=1)))
    assert type(cfg.train_cfg) is ConfigDict
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.epoch == 1 and runner.cfg["train_cfg"]["max_epochs"] == 1
    assert cfg.train_cfg == {"by_epoch": True, "max_epochs": 1}  # the caller's is untouched
