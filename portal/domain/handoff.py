"""Work handed to the task queue once the transaction that asked for it commits (docs/rules.md rule 31).

The domain never talks to the queue: inside a transaction it notes what to
run after the commit (``after_commit("send_mail", message_id)``), and
``portal.jobs`` hands the notes to the queue when that transaction commits, or
drops them when it rolls back. A note lost on the way (a queue that was down,
a process killed between the commit and the hand-over) loses nothing: the
rows it points at stay due in the database and the relay queues them again.
"""
from sqlalchemy import inspect

from portal.extensions import db

KEY = "portal.handoff"


def after_commit(task: str, *args) -> None:
    """Run ``task(*args)`` on the queue once the current transaction commits (never if it rolls back).

    An argument may be a row the transaction adds: the task gets its key, known once the commit
    has flushed it (so the caller need not flush to learn it).
    """
    notes = db.session.info.setdefault(KEY, [])
    if (task, args) not in notes:
        notes.append((task, args))


def take(session) -> list[tuple[str, tuple]]:
    """The notes of ``session`` (a Session, not the scoped proxy), emptied; rows become their keys, and a
    note about a row never written (its savepoint rolled back) is dropped."""
    taken = []
    for task, args in session.info.pop(KEY, None) or []:
        keys = tuple(_key_of(arg) for arg in args)
        if None not in keys:
            taken.append((task, keys))
    return taken


def _key_of(value):
    """A row's primary key (None while it is not written); any other value as it is."""
    if not isinstance(value, db.Model):
        return value
    identity = inspect(value).identity
    return identity[0] if identity else None
