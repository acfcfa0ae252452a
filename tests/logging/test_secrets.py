"""Credentials in a config are masked before any backend sees it."""

from __future__ import annotations

import pytest

from hooks_logging import mask_secrets
from hooks_logging._secrets import MASK, is_secret_key


@pytest.mark.parametrize(
    "key",
    ["api_key", "apikey", "API-KEY", "token", "wandb_token", "access_token", "password",
     "db_password", "passwd", "secret", "client_secret", "aws_secret_access_key",
     "credentials", "private_key", "Authorization"],
)  # fmt: skip
def test_credential_keys_are_recognised(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key", ["tokenizer", "max_tokens", "author", "secretary_count", "lr", "passes", 3]
)
def test_ordinary_keys_are_left_alone(key: object) -> None:
    assert not is_secret_key(key)


def test_masking_is_recursive_and_does_not_change_the_input() -> None:
    config = {
        "model": {"type": "ResNet", "depth": 50},
        "log": [{"type": "wandb", "init_kwargs": {"api_key": "abc123", "project": "p"}}],
        "mlflow": ("uri", {"password": "hunter2", "token": None}),
        "tracking_uri": "postgresql://bob:hunter2@db.example:5432/runs",
    }
    masked = mask_secrets(config)
    assert masked == {
        "model": {"type": "ResNet", "depth": 50},
        "log": [{"type": "wandb", "init_kwargs": {"api_key": MASK, "project": "p"}}],
        "mlflow": ("uri", {"password": MASK, "token": None}),  # unset stays visibly unset
        "tracking_uri": f"postgresql://bob:{MASK}@db.example:5432/runs",
    }
    assert config["log"][0]["init_kwargs"]["api_key"] == "abc123"  # type: ignore[index]
