"""`BaseStrategy`, what the runner asks of a strategy, and `SingleDeviceStrategy`, one process.

The runner calls a strategy at fixed points: `wrap_model` once the model is
built, `prepare_optim_wrapper` once the optimizer wrapper is built over the
wrapped model, `sync_weights` after ``init_weights()``, and the four state-dict
methods whenever a checkpoint is written or read. The defaults here are the
plain ones: the model's own ``state_dict``, the optimizer wrapper's own, loaded
as they are.
"""

from __future__ import annotations

from ...checkpoint._io import _load_state_dict, weights_to_cpu
from ...dist import broadcast
from ...model._wrapper import is_model_wrapper, unwrap_model, wrap_model
from ...registry._roots import STRATEGIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["BaseStrategy", "SingleDeviceStrategy"]

_REVISE_KEYS = ((r"^module\.", ""),)


class BaseStrategy:
    """How a run places and wraps its model and what its checkpoints hold.

    Subclasses implement `wrap_model`; the state-dict methods default to the
    unwrapped model's and the optimizer wrapper's own state dicts. A sharding
    strategy overrides them so that checkpoints still hold whole tensors.
    """

    def wrap_model(self, model: Any, model_wrapper_cfg: Mapping[str, Any] | None = None) -> Any:
        """Put the built `model` on its device and in its wrapper; return what the runner trains.

        Args:
            model: The built model.
            model_wrapper_cfg: The runner's ``model_wrapper_cfg`` (see `Runner.wrap_model`).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement wrap_model")

    def prepare_optim_wrapper(self, optim_wrapper: Any, model: Any) -> Any:
        """Check or adapt the optimizer wrapper built over the wrapped `model`; return it."""
        return optim_wrapper

    def sync_weights(self, model: Any) -> None:
        """Give every rank rank 0's weights (after ``init_weights()``); nothing when alone."""
        for value in unwrap_model(model).state_dict().values():
            broadcast(value)

    # ------------------------------------------------------------ checkpoints
    def model_state_dict(self, model: Any) -> dict[str, Any]:
        """The model's weights for a checkpoint: whole tensors on the CPU, without a wrapper prefix.

        Called on every rank; only rank 0's result is written.
        """
        return weights_to_cpu(unwrap_model(model).state_dict())  # type: ignore[no-any-return]

    def load_model_state_dict(
        self,
        model: Any,
        state_dict: dict[str, Any],
        *,
        strict: bool = False,
        revise_keys: Sequence[tuple[str, str]] = _REVISE_KEYS,
        logger: logging.Logger | None = None,
        resuming_from: str | None = None,
    ) -> tuple[list[str], list[str]]:
        """Load a checkpoint's weights (whole tensors) into `model`; return (missing, unexpected).

        Keys are renamed by `revise_keys`; a tensor of another shape is skipped
        with a warning in `logger`, unless `resuming_from` names the checkpoint a
        resume reads (then it is an error), and `strict` makes any mismatch one.
        """
        return _load_state_dict(
            model, state_dict, strict, logger, tuple(revise_keys), resuming_from
        )

    def optim_state_dict(self, model: Any, optim_wrapper: Any) -> dict[str, Any]:
        """The optimizer wrapper's state for a checkpoint (called on every rank)."""
        return optim_wrapper.state_dict()  # type: ignore[no-any-return]

    def load_optim_state_dict(
        self, model: Any, optim_wrapper: Any, state_dict: dict[str, Any]
    ) -> None:
        """Load a checkpoint's optimizer state into `optim_wrapper`."""
        optim_wrapper.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@STRATEGIES.register_module()
class SingleDeviceStrategy(BaseStrategy):
    """Train in this process alone: the model goes to the GPU when there is one, unwrapped.

    The runner's default without a launcher. Under ``torchrun`` every rank then
    trains its own copy (the weights start from rank 0's).
    """

    def wrap_model(self, model: Any, model_wrapper_cfg: Mapping[str, Any] | None = None) -> Any:
        """The model on its device; a model in a wrapper already is returned as it is."""
        if check_not_wrapped(model, model_wrapper_cfg):
            return model
        return wrap_model(model, False, {})


def check_not_wrapped(model: Any, model_wrapper_cfg: Mapping[str, Any] | None) -> bool:
    """Whether `model` is in a wrapper already (then `model_wrapper_cfg` must be None).

    Raises:
        TypeError: the model is wrapped and a `model_wrapper_cfg` asks to wrap it again.
    """
    if not is_model_wrapper(model):
        return False
    if model_wrapper_cfg is not None:
        raise TypeError(
            f"the model is already wrapped ({type(model).__name__}), so "
            f"model_wrapper_cfg must be None, got {model_wrapper_cfg!r}"
        )
    return True
