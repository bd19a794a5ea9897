"""Signing secrets: issued as ``whsec_<base64>`` (Standard Webhooks), kept encrypted at rest with
Fernet under a key derived by HKDF from the app's secret key (PMOFLOW_SECRET_KEY)."""

from __future__ import annotations

import base64
import secrets

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from engine.core.errors import InvalidInput

SECRET_PREFIX = "whsec_"  # noqa: S105 - a label, not a secret


def new_secret() -> str:
    """A Standard Webhooks secret: 'whsec_' and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise InvalidInput(
            "webhooks need PMOFLOW_SECRET_KEY (the same on web and worker processes) "
            "to keep their signing secrets encrypted",
            {"fields": {"_": "PMOFLOW_SECRET_KEY is not set"}},
        )
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"pmoflow webhook signing secrets").derive(
        secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt_secret(secret_key: str, secret: str) -> str:
    """The secret encrypted for storage; raises InvalidInput if PMOFLOW_SECRET_KEY is not set."""
    return _fernet(secret_key).encrypt(secret.encode()).decode()


def decrypt_secret(secret_key: str, token: str) -> str:
    """The signing secret; raises InvalidToken if the app's secret key changed since it was stored."""
    return _fernet(secret_key).decrypt(token.encode()).decode()
