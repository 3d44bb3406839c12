"""The database does not answer: 503 with Retry-After and a page that needs no database (docs/rules.md rule 41b).

Without this, a lost database connection reached the 500 page, which itself
needs the database (its navigation reads the logged-in user), and the server
answered its bare "Internal Server Error". The JSON API answers the same
outage in its own shape (portal/blueprints/api/errors.py).
"""
from flask import Flask, current_app, g, render_template
from sqlalchemy.exc import InterfaceError, OperationalError

from portal.extensions import db, login_manager

# Errors that mean "the database is not reachable now" (down, restarting, locked too long).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30


def forget_failed_transaction() -> None:
    """Drop the session's broken connection state; never raise (the database is gone)."""
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the rollback itself needs the lost connection
        current_app.logger.debug("rollback after a database outage failed", exc_info=True)


def _unavailable(error):
    current_app.logger.warning("Database unavailable: %s", error)
    forget_failed_transaction()
    # Flask-Login's template context loads the user, which needs the database: be anonymous.
    g._login_user = login_manager.anonymous_user()
    body = render_template("errors/unavailable.html")
    return body, 503, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def init_app(app: Flask) -> None:
    for error_class in DATABASE_UNAVAILABLE:
        app.register_error_handler(error_class, _unavailable)
