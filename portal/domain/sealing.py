"""Secrets the portal must read back (a TOTP secret, a webhook signing secret), encrypted at rest with Fernet.

Each purpose has its own key, derived from its setting (else SECRET_KEY) and
a label of the purpose, so a key leaked for one purpose opens nothing else.
"""
import base64
import hashlib

from cryptography.fernet import Fernet
from flask import current_app


def fernet(purpose: bytes, key_setting: str) -> Fernet:
    """The Fernet of ``purpose`` (e.g. ``b"webhook secret"``), keyed by the ``key_setting`` setting, else SECRET_KEY."""
    config = current_app.config
    key = config.get(key_setting) or config["SECRET_KEY"]
    derived = hashlib.sha256(b"partner-portal " + purpose + b"\x00" + str(key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(derived))
