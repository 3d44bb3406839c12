"""Idempotency keys for POST requests (docs/rules.md, API conventions): one change per key, replayed for 24 hours.

``reserve`` inserts the key's row in its own committed transaction *before*
the request acts: the unique constraint on (user, key) lets exactly one of
several concurrent requests through. The others wait briefly for its answer
and replay it, or get ``Conflict`` while it is still running. A key sent
again with another request (method, path or body) is
``IdempotencyMismatch``.
"""
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from portal.domain.errors import Conflict, Invalid
from portal.domain.transactions import write_transaction
from portal.extensions import db
from portal.models import IdempotencyKey
from portal.models.mixins import utcnow

REPLAY_WINDOW = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyMismatch(Invalid):
    code = "idempotency_mismatch"


@dataclass(frozen=True)
class Reservation:
    """Either a fresh reservation (``key_id``) or the stored answer to replay."""

    key_id: int | None = None
    status: int | None = None
    body: str | None = None

    @property
    def is_replay(self) -> bool:
        return self.key_id is None


def request_hash(method: str, path: str, body: bytes) -> str:
    """SHA-256 of the request: method, path and the body as canonical JSON.

    Two bodies that parse to the same JSON (key order, spacing) are the same
    request; a body that is not JSON is compared byte for byte.
    """
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
    except (ValueError, RecursionError):
        canonical = b"raw:" + body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()


def reserve(user_id: int, token_id: int | None, key: str, method: str, path: str, fingerprint: str, *,
            wait: float = 5.0) -> Reservation:
    """Claim ``key`` for this request, or return the answer stored for it.

    Expired keys (older than 24 hours) of the user are deleted on the way.
    Raises ``IdempotencyMismatch`` if the key was used for another request,
    ``Conflict`` if its first request is still running after ``wait`` seconds.
    """
    try:
        with write_transaction():
            db.session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.user_id == user_id, IdempotencyKey.created_at < utcnow() - REPLAY_WINDOW))
            row = IdempotencyKey(user_id=user_id, token_id=token_id, key=key, method=method, path=path[:255],
                                 request_hash=fingerprint)
            db.session.add(row)
            db.session.flush()
            key_id = row.id
        return Reservation(key_id=key_id)
    except IntegrityError:
        pass  # the key is taken: by this very request sent earlier, or by another one
    deadline = time.monotonic() + wait
    while True:
        db.session.rollback()  # a fresh snapshot: see what the first request committed
        row = db.session.scalar(select(IdempotencyKey).where(
            IdempotencyKey.user_id == user_id, IdempotencyKey.key == key))
        if row is None:  # expired and deleted meanwhile by a concurrent request: try again
            return reserve(user_id, token_id, key, method, path, fingerprint,
                           wait=max(0.0, deadline - time.monotonic()))
        if row.request_hash != fingerprint:
            raise IdempotencyMismatch(
                "This Idempotency-Key was already used with another request; use a new key for a new request.",
                field="Idempotency-Key")
        if row.status is not None:
            return Reservation(status=row.status, body=row.response_body)
        if time.monotonic() >= deadline:
            raise Conflict("A request with this Idempotency-Key is still being processed; retry in a moment.",
                           field="Idempotency-Key")
        time.sleep(0.05)


def complete(key_id: int, status: int, body: str) -> None:
    """Store the answer to replay for the reserved key."""
    with write_transaction():
        db.session.execute(update(IdempotencyKey).where(IdempotencyKey.id == key_id)
                           .values(status=status, response_body=body).execution_options(synchronize_session=False))


def release(key_id: int) -> None:
    """Forget a reservation whose request failed unexpectedly, so a retry can run."""
    with write_transaction():
        db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == key_id)
                           .execution_options(synchronize_session=False))


