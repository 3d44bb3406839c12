"""One business action, one transaction — race-free on SQLite and PostgreSQL.

SQLite: pysqlite's own transaction handling is switched off so we emit BEGIN
ourselves; write transactions use ``BEGIN IMMEDIATE``, which takes the write
lock up front and waits for it (busy timeout) instead of failing with
"database is locked" when a read transaction later tries to write. WAL lets
readers go on while one writer works.

PostgreSQL: seat counters change only through conditional UPDATEs, which lock
the row and re-check their WHERE clause after waiting, so READ COMMITTED is
enough.
"""
import logging
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import event, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from portal.extensions import db

logger = logging.getLogger(__name__)
_immediate: ContextVar[bool] = ContextVar("sqlite_immediate", default=False)
# Set while a held transaction runs: write transactions inside it become savepoints.
_held: ContextVar[bool] = ContextVar("held_transaction", default=False)


def configure_engine(engine) -> None:
    if engine.dialect.name == "postgresql":
        _note_writes(engine)
        _autocommit_outside_writes(engine)
        return
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _immediate.get() else "BEGIN")


@contextmanager
def write_transaction(*, keep=()):
    """Run the block in a fresh write transaction; commit, or roll back on error.

    Any read transaction the request already holds is ended first, so the write
    starts from the latest committed state and, on SQLite, takes the write lock
    before reading anything it will base a decision on.

    ``keep``: objects loaded before whose columns the block only reads where they
    never change (ids, codes; a name for a message), as the actor and the site a
    user is created at. The commits do not expire them, nor what the block
    inserts: neither is read again, inside the transaction or in the caller's
    answer after it (a user creation: 8 statements fewer, issue 17).
    """
    session = db.session()  # the request's Session behind the scoped proxy
    if _held.get():
        # Part of a larger unit that commits once (see held_transaction): a refusal
        # here undoes this block only, and nothing is committed yet.
        with session.begin_nested():
            yield session
        return
    with _committed(held=False, keep=keep) as session:
        yield session


@contextmanager
def held_transaction():
    """One write transaction around a whole unit of work, committed once at its end.

    The write transactions of the services called inside become savepoints:
    a refusal undoes its own block, and everything else commits together or
    not at all. The API runs a request sent with an Idempotency-Key this way,
    so the key, its stored answer and the change it guards can never be
    committed apart (docs/rules.md rule 41b). Call ``session.rollback()`` inside
    to commit nothing.
    """
    with _committed(held=True) as session:
        yield session


@contextmanager
def _committed(*, held: bool, keep=()):
    """A top-level write transaction (BEGIN IMMEDIATE on SQLite): commit at the end, roll back on error."""
    session = db.session()
    kept = {id(instance): instance for instance in map(_unproxied, keep)}
    if session.in_transaction():
        _commit(session, kept)
    immediate, held_token = _immediate.set(True), _held.set(held)
    if kept:
        session.info[_KEPT] = kept
    try:
        session.connection()  # begin now, while the flag is set
        yield session
        _commit(session, kept)
    except BaseException:
        session.rollback()
        raise
    finally:
        session.info.pop(_KEPT, None)
        _held.reset(held_token)
        _immediate.reset(immediate)


# The objects a ``write_transaction(keep=…)`` keeps loaded, by id (held, so no id is reused meanwhile);
# what it inserts joins them.
_KEPT = "portal.kept"


@event.listens_for(db.session, "pending_to_persistent")
def _note_inserted(session, instance) -> None:
    kept = session.info.get(_KEPT)
    if kept is not None:
        kept[id(instance)] = instance


def _commit(session, kept: dict) -> None:
    """Commit; every loaded object is expired but those ``kept`` (by id)."""
    if not kept:
        session.commit()
        return
    expire_on_commit, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire_on_commit
    for instance in list(session.identity_map.values()):
        if id(instance) not in kept:
            session.expire(instance)


def _unproxied(value):
    """The object behind a context-local proxy (``current_user``), else ``value``."""
    current = getattr(value, "_get_current_object", None)
    return current() if current is not None else value


def dialect_insert():
    """The INSERT construct of the session's database, for ``on_conflict_do_…`` upserts."""
    return pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert


# Below this many rows an executemany costs no more than COPY's exchange (a prorated invoice's one line).
COPY_FROM = 50


def insert_rows(table, rows: list[dict]) -> None:
    """``rows`` (dicts with the same keys) into ``table``, in the caller's transaction.

    PostgreSQL, from ``COPY_FROM`` rows: COPY, several times faster than batched INSERTs (demo scale's
    millions of users, a billing run's invoice lines); the columns the rows leave out that have a default
    get it, worked out once for them all. Otherwise: one executemany.
    """
    if not rows:
        return
    if len(rows) < COPY_FROM or db.session.get_bind().dialect.name != "postgresql":
        db.session.execute(insert(table), rows)
        return
    given = list(rows[0])
    defaulted = {column.name: column.default.arg(None) if column.default.is_callable else column.default.arg
                 for column in table.columns
                 if column.name not in given and column.default is not None and not column.primary_key}
    names = given + list(defaulted)
    cursor = db.session.connection().connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([*(row[name] for name in given), *defaulted.values()])


# ---------------------------------------------------------------- a request's reads (PostgreSQL)
#
# A request's reads ran in a transaction of their own: psycopg sent BEGIN before the first statement and
# the request ended with COMMIT, two round trips of every page (0.15-0.25 ms, ~4 % of a page here). Under
# READ COMMITTED, PostgreSQL's default and ours, each statement of a transaction reads its own snapshot
# anyway, so the reads lose nothing in autocommit mode. Writes still run in transactions: whatever
# write_transaction() or held_transaction() begins (``_immediate``) turns autocommit off first.
# Only while a request is served: migrations, the CLI and the workers keep a transaction around all
# they do, as before.

_requests_read_in_autocommit: ContextVar[bool] = ContextVar("requests_read_in_autocommit", default=False)


def serving_request(serving: bool) -> None:
    """Called as a request starts (True) and ends (False): between, reads outside writes autocommit."""
    _requests_read_in_autocommit.set(serving)


def _autocommit_outside_writes(engine) -> None:
    @event.listens_for(engine, "begin")
    def _begin(connection):
        dbapi_connection = connection.connection.dbapi_connection
        wanted = _requests_read_in_autocommit.get() and not _immediate.get()
        if dbapi_connection.autocommit != wanted:  # a local switch: no round trip
            dbapi_connection.autocommit = wanted

    @event.listens_for(engine, "before_cursor_execute")
    def _stream_in_a_transaction(connection, cursor, statement, parameters, context, executemany):
        # A server-side cursor (``stream_results``: the CSV exports) lives only in a transaction: from it on,
        # the request's reads run in one, ended by end_read_transaction's COMMIT.
        if context is not None and context.execution_options.get("stream_results"):
            dbapi_connection = connection.connection.dbapi_connection
            if dbapi_connection.autocommit:
                dbapi_connection.autocommit = False

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, _record):  # back in the pool as any other user of it expects it
        if dbapi_connection is not None and dbapi_connection.autocommit:
            dbapi_connection.autocommit = False


# ---------------------------------------------------------------- ending a read with COMMIT (PostgreSQL)
#
# psycopg prepares a statement on the server once a connection has run it a few times (its
# ``prepare_threshold``), and forgets every prepared statement on ROLLBACK. A request that only read
# ended its transaction with the session's ROLLBACK, so no page ever ran a prepared statement:
# ``end_read_transaction`` ends such a transaction with COMMIT instead, which keeps them. (A request's reads
# now run in autocommit mode, above: there is no transaction to end then; the CLI and workers still need it.)

_WROTE = "portal.wrote"
_READS = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE")


def _note_writes(engine) -> None:
    """Mark a connection's transaction as written by any statement but a read (a WITH counts as a write)."""

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.info.pop(_WROTE, None)

    @event.listens_for(engine, "before_cursor_execute")
    def _note(connection, cursor, statement, parameters, context, executemany):
        if not statement.lstrip()[:9].upper().startswith(_READS):
            connection.info[_WROTE] = True


def end_read_transaction() -> None:
    """End the session's transaction with COMMIT if it only read (PostgreSQL; see above), else leave it
    to the usual ROLLBACK. Nothing pending, nothing flushed, no statement but reads: nothing to commit."""
    session = db.session()
    if not session.in_transaction() or session.new or session.dirty or session.deleted:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql" or connection.info.get(_WROTE):
        return
    if connection.connection.dbapi_connection.autocommit:  # a request's reads (above): no transaction to end
        return
    try:
        session.commit()
    except SQLAlchemyError:  # a transaction already failed: the session's ROLLBACK ends it, as before
        logger.warning("a read-only transaction could not commit", exc_info=True)
