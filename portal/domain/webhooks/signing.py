"""The endpoint's secret and the signature of each delivery (docs/rules.md rule 32).

Each delivery carries ``Portal-Signature: t=<unix seconds>,v1=<hex
HMAC-SHA256(secret, "<t>.<raw body>")>`` (Stripe's scheme) and
``Portal-Event-Id``. A receiver recomputes the HMAC over the raw body it
received with the secret it was shown once, compares in constant time, and
refuses a ``t`` too far from its clock (replays); ``verify`` does exactly
that.

The secret must be read back to sign, so it cannot be hashed: it is stored
encrypted (Fernet, with a key derived from PORTAL_WEBHOOK_KEY, else
SECRET_KEY), so a copy of the database alone does not give it. Changing that
key makes every stored secret unreadable: deliveries then fail until each
endpoint is created again.
"""
import hashlib
import hmac
import secrets
import time

from cryptography.fernet import Fernet, InvalidToken

from portal.domain import sealing

SIGNATURE_HEADER = "Portal-Signature"
EVENT_ID_HEADER = "Portal-Event-Id"
SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300


class UnreadableSecret(Exception):
    """The stored secret cannot be decrypted (the key it was encrypted with has changed)."""


def new_secret() -> str:
    """A fresh signing secret (about 256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _fernet() -> Fernet:
    return sealing.fernet(b"webhook secret", "WEBHOOK_KEY")


def seal(secret: str) -> str:
    """The secret as stored."""
    return _fernet().encrypt(secret.encode()).decode()


def unseal(stored: str) -> str:
    """The secret back from its stored form; raises ``UnreadableSecret``."""
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except (InvalidToken, ValueError) as error:
        raise UnreadableSecret("The endpoint's secret cannot be read with the current key.") from error


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` with ``secret``."""
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``Portal-Signature`` value for ``body`` sent at ``timestamp`` (now by default)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """What a receiver does: whether ``header`` signs ``body`` with ``secret``, at a time within ``tolerance``."""
    parts = {}
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in parts.get("v1", []))
