"""A transaction that only read ends with COMMIT on PostgreSQL (issue 17): psycopg forgets its prepared
statements on ROLLBACK, so ended that way no page ever ran one. A transaction that wrote is still rolled back."""
import pytest
from sqlalchemy import func, select, text

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
