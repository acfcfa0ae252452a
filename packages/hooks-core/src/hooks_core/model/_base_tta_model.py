"""`BaseTTAModel`: test-time augmentation, testing each augmented copy and merging the results."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from collections.abc import Mapping

from torch import nn

from ..registry._roots import MODELS
from ._base_model import BaseModel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BaseTTAModel"]


@MODELS.register_module()
class BaseTTAModel(BaseModel, metaclass=ABCMeta):
    """Wrap a model to test a batch given as several augmented copies, then merge the predictions.

    With test-time augmentation each field of a batch holds one entry per
    augmentation, e.g. ``dict(inputs=[inputs_aug1, inputs_aug2],
    data_samples=[samples_aug1, samples_aug2])`` (or a list or tuple of such
    fields). `test_step` calls the wrapped model's ``test_step`` once per
    augmentation and hands `merge_preds` one tuple per sample holding that
    sample's predictions under every augmentation. Subclasses implement
    `merge_preds` (it is abstract); `PrepareTTAHook` puts the wrapper around
    the runner's model.

    Args:
        module: The model to test (anything with a ``test_step``), or its
            config for ``MODELS``.
        data_preprocessor: With a config `module`, its data preprocessor (it
            replaces the config's own); ignored for a built `module`.

    Raises:
        TypeError: `module` is neither a module nor a config dict, or has no ``test_step``.

    Example:
        >>> class MeanTTA(BaseTTAModel):
        ...     def merge_preds(self, data_samples_list):
        ...         return [sum(preds) / len(preds) for preds in data_samples_list]
    """

    def __init__(
        self, module: nn.Module | Mapping[str, Any], data_preprocessor: Any = None
    ) -> None:
        super().__init__()
        if isinstance(module, Mapping):
            cfg = dict(module)
            if data_preprocessor is not None:
                cfg["data_preprocessor"] = data_preprocessor
            module = MODELS.build(cfg)
        if not isinstance(module, nn.Module):
            raise TypeError(
                f"{type(self).__name__} wraps an nn.Module or its config dict, got "
                f"{type(module).__name__}"
            )
        if not callable(getattr(module, "test_step", None)):
            raise TypeError(
                f"{type(self).__name__} needs a model with test_step(); "
                f"{type(module).__name__} has none (subclass hooks_core.BaseModel)"
            )
        self.module: Any = module

    @abstractmethod
    def merge_preds(self, data_samples_list: list[tuple[Any, ...]]) -> Any:
        """Merge each sample's predictions under every augmentation into one.

        Args:
            data_samples_list: One tuple per sample of the batch, holding its
                predictions in augmentation order.

        Returns:
            The merged predictions, one per sample, for the evaluator.
        """

    def test_step(self, data: Any) -> Any:
        """Test every augmented copy of the batch with the wrapped model and merge the results."""
        if isinstance(data, Mapping):
            count = len(next(iter(data.values())))
            copies: list[Any] = [
                {key: value[index] for key, value in data.items()} for index in range(count)
            ]
        elif isinstance(data, (list, tuple)):
            count = len(data[0])
            copies = [[field[index] for field in data] for index in range(count)]
        else:
            raise TypeError(
                f"{type(self).__name__}.test_step expects a batch as a dict, list or tuple of "
                f"fields with one entry per augmentation, got {type(data).__name__}"
            )
        predictions = [self.module.test_step(copy) for copy in copies]
        return self.merge_preds(list(zip(*predictions, strict=True)))

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Not used: testing goes through `test_step`, which calls the wrapped model."""
        raise NotImplementedError(
            f"{type(self).__name__}.forward is not called in testing (test_step is); "
            "implement it in your subclass to use it"
        )
