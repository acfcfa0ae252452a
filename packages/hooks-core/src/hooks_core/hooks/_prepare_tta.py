"""`PrepareTTAHook`: test with test-time augmentation by wrapping the model before testing."""

from __future__ import annotations

from collections.abc import Mapping

from ..engine._hook import Hook
from ..registry._roots import HOOKS, MODELS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


@HOOKS.register_module()
class PrepareTTAHook(Hook):
    """Replace ``runner.model`` by a test-time-augmentation model in ``before_test``.

    The model is built from `tta_cfg` through ``MODELS`` with ``module`` set to
    the runner's model, so `tta_cfg` names a `BaseTTAModel` subclass whose
    ``merge_preds`` merges the predictions of the augmented copies of each
    sample. The test dataloader must then yield those copies (a test-time
    augmentation pipeline). Testing again with the same hook keeps the model
    it built rather than wrapping it twice.

    Args:
        tta_cfg: The config of the TTA model, e.g. ``dict(type='MyTTAModel')``;
            it is not modified.

    Example:
        >>> custom_hooks = [dict(type='PrepareTTAHook', tta_cfg=dict(type='MyTTAModel'))]
    """

    def __init__(self, tta_cfg: Mapping[str, Any]) -> None:
        if not isinstance(tta_cfg, Mapping):
            raise TypeError(
                f"PrepareTTAHook tta_cfg must be a config dict such as "
                f"dict(type='MyTTAModel'), got {type(tta_cfg).__name__}"
            )
        self.tta_cfg = tta_cfg
        self._tta_model: Any = None

    def before_test(self, runner: Any) -> None:
        if self._tta_model is not None and runner.model is self._tta_model:
            return
        self._tta_model = MODELS.build({**self.tta_cfg, "module": runner.model})
        runner.model = self._tta_model
