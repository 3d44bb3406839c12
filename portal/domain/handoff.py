"""Work handed to the task queue once the transaction that asked for it commits (docs/rules.md rule 31).

The domain never talks to the queue: inside a transaction it notes what to
run after the commit (``after_commit("send_mail", message_id)``), and
``portal.jobs`` hands the notes to the queue when that transaction commits, or
drops them when it rolls back. A note lost on the way (a queue that was down,
a process killed between the commit and the hand-over) loses nothing: the
rows it points at stay due in the database and the relay queues them again.
"""
from portal.extensions import db

KEY = "portal.handoff"


def after_commit(task: str, *args) -> None:
    """Run ``task(*args)`` on the queue once the current transaction commits (never if it rolls back)."""
    notes = db.session.info.setdefault(KEY, [])
    if (task, args) not in notes:
        notes.append((task, args))


def take(session) -> list[tuple[str, tuple]]:
    """The notes of ``session`` (a Session, not the scoped proxy), emptied."""
    return session.info.pop(KEY, None) or []
