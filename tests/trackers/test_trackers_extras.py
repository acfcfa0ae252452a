"""Names, extras and lazy imports of the tracker backends and framework adapters."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

LIBRARIES = ("wandb", "mlflow", "neptune", "dvclive", "pytorch_lightning", "lightning",
             "transformers", "torch", "comet_ml", "clearml", "aim", "swanlab")  # fmt: skip


# The tests run in a checkout, so the hint names its folder (here outside the current one).
LOGGING = Path(__file__).resolve().parents[2] / "packages" / "hooks-logging"


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=cwd
    )


def test_importing_hooks_logging_imports_no_tracker_or_framework(tmp_path: Path) -> None:
    result = run_python(
        f"""
        import sys
        import hooks_logging
        from hooks_core import HOOKS, LOG_BACKENDS
        hooks = [isinstance(HOOKS.build(dict(type=name)), hooks_logging.LoggerHook) for name in (
            "WandbLoggerHook", "MlflowLoggerHook", "NeptuneLoggerHook", "DvcliveLoggerHook")]
        backends = [LOG_BACKENDS.get(n).__name__ for n in ("wandb", "mlflow", "neptune", "dvclive")]
        print(hooks, backends, sorted(m for m in {LIBRARIES!r} if m in sys.modules))
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] == (
        "[True, True, True, True] "
        "['WandbBackend', 'MlflowBackend', 'NeptuneBackend', 'DvcliveBackend'] []"
    )


@pytest.mark.parametrize(
    ("absent", "build", "message"),
    [
        ("wandb", "hooks_logging.WandbBackend('x')", f'pip install "{LOGGING}[wandb]"'),
        ("mlflow", "hooks_logging.MlflowBackend('x')", f'pip install "{LOGGING}[mlflow]"'),
        ("neptune", "hooks_logging.NeptuneBackend()", f'pip install "{LOGGING}[neptune]"'),
        ("dvclive", "hooks_logging.DvcliveBackend('x')", f'pip install "{LOGGING}[dvclive]"'),
        ("comet_ml", "hooks_logging.CometBackend('x')", f'pip install "{LOGGING}[comet]"'),
        ("clearml", "hooks_logging.ClearMLBackend('x')", f'pip install "{LOGGING}[clearml]"'),
        ("aim", "hooks_logging.AimBackend('x')", f'pip install "{LOGGING}[aim]"'),
        ("swanlab", "hooks_logging.SwanLabBackend('x')", f'pip install "{LOGGING}[swanlab]"'),
        ("pytorch_lightning", "hooks_logging.LightningLogger",
         f'pip install "{LOGGING}[lightning]"'),
        ("transformers", "hooks_logging.HFTrainerCallback",
         f'pip install "{LOGGING}[transformers]"'),
    ],
)  # fmt: skip
def test_a_missing_library_names_its_extra(
    tmp_path: Path, absent: str, build: str, message: str
) -> None:
    result = run_python(
        f"""
        import sys
        sys.modules[{absent!r}] = None  # how Python marks a module as absent
        sys.modules["lightning"] = None
        import hooks_logging
        try:
            {build}
        except ImportError as err:
            print(err)
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(message)


def test_mlflow_without_sqlalchemy_asks_for_the_full_package_or_a_server(tmp_path: Path) -> None:
    result = run_python(
        """
        import sys
        sys.modules["sqlalchemy"] = None  # as with mlflow-skinny
        import hooks_logging
        try:
            hooks_logging.MlflowBackend("x")
        except ImportError as err:
            print(err)
        """,
        tmp_path,
    )
    assert "mlflow-skinny has no SQLAlchemy" in result.stdout, result.stderr
    assert not (tmp_path / "x" / "mlflow.db").exists()


def test_wheel_declares_one_extra_per_backend_and_adapter() -> None:
    from importlib.metadata import distribution

    metadata = distribution("hooks-logging").metadata
    extras = set(metadata.get_all("Provides-Extra") or [])
    assert {"wandb", "mlflow", "neptune", "dvclive", "lightning", "transformers"} <= extras
    requires = metadata.get_all("Requires-Dist") or []
    all_extra = " ".join(r for r in requires if r.endswith("extra == 'all'"))
    for library in ("wandb", "mlflow", "neptune", "dvclive", "pytorch-lightning", "transformers"):
        assert library in all_extra
    assert not [r for r in requires if r.startswith("torch")]  # never a second torch
