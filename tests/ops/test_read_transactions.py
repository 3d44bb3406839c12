"""A transaction that only read ends with COMMIT on PostgreSQL (issue 17): psycopg forgets its prepared
statements on ROLLBACK, so ended that way no page ever ran one. A transaction that wrote is still rolled back.
While a request is served, its reads run in autocommit mode (no BEGIN, no COMMIT) and its writes in
transactions."""
import contextlib

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import event, func, select, text

from portal.extensions import db
from portal.models import Organisation


def _on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_reads_repeated_over_app_contexts_run_as_prepared_statements(app):
    if not _on_postgresql():
        pytest.skip("prepared statements are PostgreSQL's (psycopg prepares a query run often)")
    db.session.commit()  # the test's own context holds no connection meanwhile
    # Contexts take the pool's idle connections in turn: enough rounds for each to run the read
    # more often than psycopg's threshold.
    rounds = (db.engine.pool.checkedin() + 1) * 8
    for _ in range(rounds):
        with app.app_context():
            db.session.scalar(select(func.count(Organisation.id)).where(Organisation.kind == "partner"))
    with app.app_context():
        prepared = db.session.scalars(text("SELECT statement FROM pg_prepared_statements")).all()
    assert any("FROM organisations" in statement for statement in prepared), prepared


def test_a_transaction_that_wrote_is_rolled_back_when_its_context_ends(app):
    with app.app_context():
        db.session.add(Organisation(kind="operator", name="Never Committed"))
        db.session.flush()  # written, not pending: only the statement says so
    assert db.session.scalar(select(func.count()).where(Organisation.name == "Never Committed")) == 0


def test_a_read_does_not_commit_what_is_pending(app):
    with app.app_context():
        db.session.scalar(select(func.count(Organisation.id)))
        db.session.add(Organisation(kind="operator", name="Still Pending"))
    assert db.session.scalar(select(func.count()).where(Organisation.name == "Still Pending")) == 0


@contextlib.contextmanager
def _transaction_status_of_each_statement():
    """[(statement, psycopg's transaction status just after it)] of every statement run in the block."""
    seen = []

    def _after(connection, cursor, statement, parameters, context, executemany):
        seen.append((" ".join(statement.split())[:60], connection.connection.dbapi_connection.info.transaction_status))

    event.listen(db.engine, "after_cursor_execute", _after)
    try:
        yield seen
    finally:
        event.remove(db.engine, "after_cursor_execute", _after)


def test_a_requests_reads_run_without_a_transaction_and_its_writes_in_one(demo, login_as):
    if not _on_postgresql():
        pytest.skip("SQLite's transactions are BEGIN'd by transactions.py itself")
    admin = login_as("admin@acme.example")
    client_page, new_user = f"/clients/{demo.acme.id}", f"/clients/{demo.acme.id}/users/new"
    lyon = str(demo.lyon.id)  # a free Essentials seat there
    db.session.rollback()  # the requests share this test's app context: no transaction of its own left open
    commits = []

    def _commit(connection):
        commits.append(connection)

    event.listen(db.engine, "commit", _commit)
    try:
        with _transaction_status_of_each_statement() as read:
            assert admin.get(client_page).status_code == 200
    finally:
        event.remove(db.engine, "commit", _commit)
    assert read and {status for _statement, status in read} == {TransactionStatus.IDLE}, read
    assert commits == []  # nothing to end: no COMMIT asked of the session either (end_read_transaction)

    with _transaction_status_of_each_statement() as wrote:
        response = admin.post(new_user, data={
            "name": "Tx Person", "email": "tx.person@acme.example", "site_id": lyon,
            "subscription_type": "essentials"})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:500]
    inserts = [status for statement, status in wrote if statement.startswith("INSERT INTO users")]
    assert inserts == [TransactionStatus.INTRANS], wrote
    # Outside a request (the CLI, a worker, this test), reads are in a transaction again.
    with _transaction_status_of_each_statement() as outside:
        db.session.scalar(select(func.count(Organisation.id)))
    assert [status for _statement, status in outside] == [TransactionStatus.INTRANS]
    db.session.rollback()
