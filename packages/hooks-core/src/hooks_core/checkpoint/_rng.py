"""The random states of Python, numpy and torch, captured for an exact resume and restored.

Each state is kept as text (bytes decoded as latin-1), which a safe
``torch.load`` restores and torch's pickler writes in one step. Torch and numpy
are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import ctypes
import struct

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["get_rng_state", "set_rng_state"]

# numpy's MT19937 state struct: uint32 key[624], then int pos.
_MT19937_STATE_BYTES = 624 * 4 + 4


def get_rng_state() -> dict[str, Any]:
    """Capture the state of python's, numpy's and torch's generators, for an exact resume.

    The result holds only numbers, strings, tuples, dicts and (for CUDA) tensors,
    so it survives a safe load. Each generator's state is one string: its bytes
    (little-endian 32-bit words for Python's and numpy's) decoded as latin-1, one
    character per byte. A tuple of ints costs a pickling step per int, a tensor a
    record of its own in the archive, and a `bytes` object, under torch's pickle
    protocol 2, this same string and a call to rebuild it. Numpy is skipped when
    it is not installed, CUDA when it is not available; numpy's state is read
    again only when its generator has moved (see `_NumpyStates`).
    """
    import random

    import torch

    version, internal, gauss_next = random.getstate()
    generator = torch.get_rng_state()  # a contiguous uint8 tensor on the CPU
    state: dict[str, Any] = {
        "python": (version, _text(struct.pack(f"<{len(internal)}I", *internal)), gauss_next),
        "torch": _text(ctypes.string_at(generator.data_ptr(), generator.nbytes)),
    }
    try:
        import numpy as np
    except ImportError:
        pass
    else:
        state["numpy"] = _numpy_states.get(np)
    if torch.cuda.is_available():
        state["torch_cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore generator states from `get_rng_state`, so the next draws repeat exactly.

    Only the generators present in `state` are restored. A numpy state is
    ignored when numpy is not installed (nothing could draw from it), and a CUDA
    state when CUDA is not available; with fewer GPUs than saved, the first ones
    are restored.
    """
    import random

    import torch

    if "python" in state:  # the words as text, or as a tensor or tuple (older checkpoints)
        version, internal, gauss_next = state["python"]
        if isinstance(internal, (str, bytes)):
            data = _bytes(internal)
            internal = struct.unpack(f"<{len(data) // 4}I", data)
        elif isinstance(internal, torch.Tensor):
            internal = internal.tolist()
        random.setstate((version, tuple(internal), gauss_next))
    if "torch" in state:
        generator = state["torch"]
        if isinstance(generator, (str, bytes)):
            generator = torch.frombuffer(bytearray(_bytes(generator)), dtype=torch.uint8)
        torch.set_rng_state(generator.cpu())
    if "numpy" in state:
        try:
            import numpy as np
        except ImportError:
            pass
        else:
            saved = state["numpy"]
            keys = saved["keys"]
            if isinstance(keys, (str, bytes)):
                keys = np.frombuffer(_bytes(keys), dtype="<u4")
            elif isinstance(keys, torch.Tensor):
                keys = keys.cpu().numpy()
            np.random.set_state(
                (
                    saved["bit_generator"],
                    np.asarray(keys, dtype=np.uint32),
                    int(saved["pos"]),
                    int(saved["has_gauss"]),
                    float(saved["cached_gaussian"]),
                )
            )
            _numpy_states.forget()
    if "torch_cuda" in state and torch.cuda.is_available():
        for device, device_state in enumerate(state["torch_cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(device_state.cpu(), device)


class _NumpyStates:
    """numpy's global generator state as `get_rng_state` saves it, read again only when it moved.

    ``np.random.get_state`` copies the 624 key words one Python-level step at a
    time (about 0.5M instructions). The generator's raw state, read through its
    public ctypes address, is a 2.5 KB copy. When it equals the raw state of the
    previous read and that read held no cached Gaussian, nothing has drawn since
    (every draw moves the position; only handing out a cached Gaussian changes
    the state without one), so the previous result still holds. A
    ``np.random.set_state`` by the caller to the very same words with a cached
    Gaussian added is the one change this cannot see.
    """

    def __init__(self) -> None:
        self._generator: Any = None
        self._raw = b""
        self._state: dict[str, Any] | None = None

    def get(self, np: Any) -> dict[str, Any]:
        """The state of numpy's global generator, in `get_rng_state`'s form (a new dict)."""
        generator, raw = _raw_mt19937(np)
        state = self._state
        if (
            state is None
            or raw is None
            or generator is not self._generator
            or raw != self._raw
            or state["has_gauss"]
        ):
            state = self._state = _numpy_state(np)
            self._generator, self._raw = generator, raw or b""
        return dict(state)

    def forget(self) -> None:
        """Drop the kept state: the generator was set, maybe to the same words with a Gaussian."""
        self._state = None


_numpy_states = _NumpyStates()


def _raw_mt19937(np: Any) -> tuple[Any, bytes | None]:
    """numpy's global bit generator and its raw state; None for the state if not an MT19937."""
    get_bit_generator = getattr(np.random, "get_bit_generator", None)  # numpy >= 1.25
    if get_bit_generator is None:
        return None, None
    generator = get_bit_generator()
    if not isinstance(generator, np.random.MT19937):
        return generator, None
    return generator, ctypes.string_at(generator.ctypes.state_address, _MT19937_STATE_BYTES)


def _numpy_state(np: Any) -> dict[str, Any]:
    """numpy's global (legacy) generator state read in full, its key words as text."""
    legacy: Any = np.random.get_state(legacy=True)  # typed as a union with the dict form
    bit_generator, keys, pos, has_gauss, cached_gaussian = legacy
    return {
        "bit_generator": str(bit_generator),
        "keys": _text(keys.astype("<u4").tobytes()),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached_gaussian),
    }


def _text(data: bytes) -> str:
    """`data` as the string `get_rng_state` stores: one latin-1 character per byte."""
    return data.decode("latin-1")


def _bytes(saved: str | bytes) -> bytes:
    """The bytes of a generator state saved by `get_rng_state` (or as bytes)."""
    return saved.encode("latin-1") if isinstance(saved, str) else saved
