"""Mask credentials in a config before any backend sees it.

A config often carries an API key or a password for a tracking service; a
logger that uploads the config must not upload those. Values under keys that
look like credentials are replaced by ``'******'``, and a password in a URL
(``scheme://user:password@host``) is masked wherever it appears in a string.
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["MASK", "mask_secrets", "is_secret_key"]

MASK = "******"

# Matched against the key lower-cased with '-' and ' ' read as '_'.
_SECRET_KEY = re.compile(
    r"(^|_)(api_?key|apikey|token|access_?token|auth|authorization|password|passwd|pwd|"
    r"secret|secret_?key|client_?secret|credentials?|private_?key|access_?key)(_|$)"
)
_URL_PASSWORD = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:)[^/\s@]+(?=@)")


def is_secret_key(key: object) -> bool:
    """Whether a config key names a credential (``api_key``, ``wandb_token``, ``PASSWORD``...)."""
    if not isinstance(key, str):
        return False
    normalised = key.lower().replace("-", "_").replace(" ", "_")
    return _SECRET_KEY.search(normalised) is not None


def mask_secrets(config: Any) -> Any:
    """Return a copy of `config` with credential values masked; the input is not changed.

    Mappings and sequences are copied recursively (tuples stay tuples); a value
    under a credential key is replaced whatever its type, except None, which
    is kept so that an unset option still reads as unset.

    Example:
        >>> mask_secrets({'wandb': {'api_key': 'abc123', 'project': 'demo'}})
        {'wandb': {'api_key': '******', 'project': 'demo'}}
    """
    from collections.abc import Mapping

    if isinstance(config, Mapping):
        return {
            key: (MASK if value is not None else None)
            if is_secret_key(key)
            else mask_secrets(value)
            for key, value in config.items()
        }
    if isinstance(config, (list, tuple)):
        items = [mask_secrets(item) for item in config]
        return items if isinstance(config, list) else tuple(items)
    if isinstance(config, str):
        return _URL_PASSWORD.sub(lambda match: match.group("head") + MASK, config)
    return config
