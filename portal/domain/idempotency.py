"""Idempotency keys for POST requests (docs/rules.md, API conventions): one change per key, replayed for 24 hours.

The key, the answer to replay and the change it guards are written in one
transaction (``portal.domain.transactions.held_transaction``): a request that
fails, or a database that goes away before the commit, leaves neither the
change nor the key, so a retry runs the request; a committed change always
has its answer. Concurrent requests with one key may all run, but only the
first to commit keeps its change: the others meet the unique constraint on
(user, key) when they store their answer, roll back, and replay the first
answer. A key sent again with another request (method, path or body) is
``IdempotencyMismatch``.
"""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select

from portal.domain.errors import Conflict, Invalid
from portal.extensions import db
from portal.i18n import gettext as _
from portal.models import IdempotencyKey
from portal.models.mixins import utcnow

REPLAY_WINDOW = timedelta(hours=24)
# A row without an answer can only be left by a version that reserved keys before acting.
ABANDONED_AFTER = timedelta(seconds=30)
MAX_KEY_LENGTH = 255


class IdempotencyMismatch(Invalid):
    code = "idempotency_mismatch"


@dataclass(frozen=True)
class Answer:
    """A stored answer to replay."""

    status: int
    body: str


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


def stored_answer(user_id: int, key: str, fingerprint: str) -> Answer | None:
    """The answer stored for ``key``, or None when the request is to run.

    Inside the caller's transaction. Forgets the user's keys older than 24
    hours, and any row left without an answer for 30 seconds (by a version
    that reserved keys before acting). Raises ``IdempotencyMismatch`` if the
    key was used for another request.
    """
    now = utcnow()
    db.session.execute(delete(IdempotencyKey).where(
        IdempotencyKey.user_id == user_id,
        (IdempotencyKey.created_at < now - REPLAY_WINDOW)
        | (IdempotencyKey.status.is_(None) & (IdempotencyKey.created_at < now - ABANDONED_AFTER))))
    row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                         IdempotencyKey.key == key))
    if row is None:
        return None
    if row.request_hash != fingerprint:
        raise IdempotencyMismatch(
            _("This Idempotency-Key was already used with another request; use a new key for a new request."),
            field="Idempotency-Key")
    if row.status is None:
        raise Conflict(_("A request with this Idempotency-Key is still being processed; retry in a moment."),
                       field="Idempotency-Key")
    return Answer(row.status, row.response_body)


def store_answer(user_id: int, token_id: int | None, key: str, method: str, path: str, fingerprint: str,
                 status: int, body: str) -> None:
    """Record ``key`` with its answer in the caller's transaction (the one holding the change).

    Raises IntegrityError when a concurrent request with the same key
    committed first: the caller rolls back and replays that answer.
    """
    db.session.add(IdempotencyKey(user_id=user_id, token_id=token_id, key=key, method=method, path=path[:255],
                                  request_hash=fingerprint, status=status, response_body=body))
    db.session.flush()
