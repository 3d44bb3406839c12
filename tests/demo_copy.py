"""The demo data loaded once and copied back for the tests that ask for it (the ``demo`` fixture).

``load_demo`` goes through the business rules: about 0.1 s on SQLite and 0.2 s on PostgreSQL,
for some 3,000 tests per run. The first test of a run loads it for real and keeps every table's
rows; the next ones insert those rows again, one executemany per table (a few milliseconds).

A fresh load is made instead when the copy cannot stand for one:
- the service clock shows another day (the demo's periods and history are dated from it);
- the copy is older than MAX_AGE_SECONDS (its timestamps — invitations sent, sessions, audit
  events — should read "just now", as a fresh load's do);
- the test wrote rows before asking for the demo (the copy's ids could collide with them).

The copy keeps the ids of the load it was taken from. On PostgreSQL the sequences have already
passed them, so the test's own rows never collide with a copied id; on SQLite ids continue from
the largest.
"""
import time

from sqlalchemy import literal, select

from portal import clock
from portal.extensions import db

MAX_AGE_SECONDS = 30.0

# (database URL, today) -> (monotonic time taken, [(table, rows)])
_copies: dict[tuple[str, object], tuple[float, list]] = {}


def load(load_demo) -> None:
    """The demo in the database: the kept copy when it may stand for a load, else ``load_demo()``
    (and its rows kept). ``load_demo`` also marks the demo's events as handed on, and commits."""
    key = (str(db.engine.url), clock.today())
    kept = _copies.get(key)
    if kept and time.monotonic() - kept[0] < MAX_AGE_SECONDS and _tables_empty():
        _insert(kept[1])
        return
    load_demo()
    _copies.clear()  # one copy at a time: it holds the whole demo
    _copies[key] = (time.monotonic(), _rows())


def _rows() -> list:
    copied = []
    for table in db.metadata.sorted_tables:  # parents before children
        # In key order: the order the rows were made in, parents first where a table refers to itself
        # (an organisation's parent); PostgreSQL returns an updated row after the others.
        rows = [dict(row) for row in db.session.execute(table.select().order_by(*table.primary_key)).mappings()]
        if rows:
            copied.append((table, rows))
    return copied


def _insert(copied) -> None:
    for table, rows in copied:
        db.session.execute(table.insert(), rows)
    db.session.commit()


def _tables_empty() -> bool:
    """No row in any table (one statement)."""
    probes = [select(literal(1)).select_from(table).exists() for table in db.metadata.sorted_tables]
    return not any(db.session.execute(select(*probes)).one())
