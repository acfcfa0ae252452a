"""The ``compile`` config key: `torch.compile` the model's ``train_step`` (or ``forward``).

As in MMEngine's runner, ``cfg.compile`` is ``True`` (torch's defaults) or a dict
of `torch.compile` keywords (``mode``, ``fullgraph``, ``backend``, ``dynamic``,
``options``...), and ``train()`` compiles ``runner.model.train_step`` after
loading or resuming, just before the loop; validation and testing are not
compiled. The dict's ``target`` (MMEngine FlexibleRunner's key) picks what is
compiled: ``'train_step'`` (the default, MMEngine Runner's) or ``'forward'``,
the model's own forward (the module inside a DDP wrapper), which validation
and testing then use too. The bound method is compiled in place, so
``runner.model`` stays the user's module (or DDP wrapper): hooks and
checkpoints see its own state-dict keys, without the ``_orig_mod.`` prefix of a
compiled module, and checkpoints of compiled and uncompiled runs load into each
other.
"""

from __future__ import annotations

import contextlib

from ..config._config_dict import to_plain
from ..registry._build import _check_options, add_note
from ..registry._first_party import pip_install

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Iterator
    from typing import Any

__all__ = ["compile_options", "compiled_step"]

_MISSING = object()
_TARGETS = ("train_step", "forward")


def compile_options(value: Any) -> tuple[str, dict[str, Any]] | None:
    """What ``cfg.compile`` asks to compile and the `torch.compile` keywords; None: nothing.

    Checked when the runner is made, so a typo fails before anything is built:
    torch is asked to build (not run) a compiled function with these keywords,
    which checks the backend, the mode and the options.

    Args:
        value: ``cfg.compile``: None or False (no compiling), True, or a dict.

    Raises:
        TypeError: `value` is of another type, or has a key `torch.compile` does not take.
        ValueError: `value`'s ``target`` is neither ``'train_step'`` nor ``'forward'``.
        RuntimeError: torch has no `torch.compile` (torch < 2.0).
    """
    if value is None or value is False:
        return None
    if value is True:
        options: dict[str, Any] = {}
    elif isinstance(value, dict):
        options = to_plain(value)  # a copy: the config stays as given
    else:
        raise TypeError(
            f"compile={value!r}: give True (torch.compile's defaults), False or None, or a dict "
            "of torch.compile keywords, e.g. compile=dict(backend='inductor', mode='default')"
        )
    target = options.pop("target", "train_step")
    if target not in _TARGETS:
        raise ValueError(
            f"compile has target={target!r}: give 'train_step' (the model's train_step, "
            "MMEngine Runner's choice) or 'forward' (the model's forward, also in validation "
            "and testing)"
        )
    compile_fn = _torch_compile()
    try:
        _check_options(compile_fn, options, "torch.compile")
        compile_fn(_probe, **options)
    except Exception as err:  # torch's own error, as raised, with the config named
        add_note(err, f"raised for the runner's compile={value!r}: fix or remove that key")
        raise
    return target, options


def _torch_compile() -> Any:
    """`torch.compile`, or an error saying which torch has it."""
    import torch

    compile_fn = getattr(torch, "compile", None)
    if compile_fn is None:
        raise RuntimeError(
            f"compile needs torch.compile, which torch {torch.__version__} does not have "
            f"(it came in torch 2.0): {pip_install('hooks-core[torch]', upgrade=True)}"
        )
    return compile_fn


def _probe() -> None:
    """The function `compile_options` has torch compile (but never calls) to check the keywords."""


@contextlib.contextmanager
def compiled_step(
    model: Any, spec: tuple[str, dict[str, Any]] | None, logger: logging.Logger
) -> Iterator[None]:
    """Run the block with the method `spec` names compiled (as is with None); the model is as
    it was after.

    The compiled bound method is set on the model object itself (as MMEngine
    does): ``train_step`` on `model`, ``forward`` on the module a DDP wrapper
    holds. Overrides in subclasses are compiled and the model keeps its type
    and state-dict keys. Afterwards the instance attribute goes, and a copy or
    pickle of the model holds no compiled function.

    Args:
        model: ``runner.model``.
        spec: What `compile_options` returned: the method's name and the
            `torch.compile` keywords, or None.
        logger: Where to say that the method is compiled.
    """
    if spec is None:
        yield
        return
    step, options = spec
    if step == "forward":
        from ..model._wrapper import unwrap_model

        model = unwrap_model(model)
    compile_fn = _torch_compile()
    before = vars(model).get(step, _MISSING)
    setattr(model, step, compile_fn(getattr(model, step), **options))
    logger.info(
        "%s.%s is compiled with torch.compile(%s); the first iterations are slow while it compiles",
        type(model).__name__,
        step,
        ", ".join(f"{key}={value!r}" for key, value in options.items()),
    )
    try:
        yield
    finally:
        if before is _MISSING:
            delattr(model, step)
        else:
            setattr(model, step, before)
