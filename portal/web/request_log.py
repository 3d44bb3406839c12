"""Each request's id, its JSON log line and its metrics (docs/rules.md rule 43).

Every response carries ``X-Request-ID``: the caller's (a load balancer's),
when it is a sane token, else a new one. Logs are JSON lines on stderr, and
every line written while a request is handled carries that id as
``request_id``, whatever logger wrote it (the filter sits on the handler), so
one request can be followed through the logs of every server.
``PORTAL_LOG_FORMAT=text`` keeps Flask's plain lines for a developer's terminal.
"""
import logging
import re
import time
import uuid

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import inspect

from portal import metrics

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")  # no spaces, quotes or newlines: safe in a log line
access_log = logging.getLogger("portal.access")


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to every record written while a request is handled."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context() and "request_id" in g:
            record.request_id = g.request_id
        return True


class _PortalJsonHandler(logging.StreamHandler):
    """The root logger's JSON handler; its own class so that building many apps adds it once."""


def configure_logging(app: Flask) -> None:
    if str(app.config.get("LOG_FORMAT", "json")).lower() == "text":
        return
    root = logging.getLogger()
    if not any(isinstance(handler, _PortalJsonHandler) for handler in root.handlers):
        handler = _PortalJsonHandler()
        handler.setFormatter(JsonFormatter("{levelname}{name}{process}{message}", style="{", timestamp="time",
                                           rename_fields={"levelname": "level", "name": "logger"}))
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    if root.level > logging.INFO:
        root.setLevel(logging.INFO)  # the access lines are INFO
    app.logger.setLevel(logging.INFO)


def _request_id() -> str:
    given = request.headers.get(HEADER, "")
    return given if _SANE.fullmatch(given) else uuid.uuid4().hex


def init_app(app: Flask) -> None:
    configure_logging(app)

    @app.before_request
    def _start():
        g.request_id = _request_id()
        g.request_started = time.perf_counter()

    @app.after_request
    def _finish(response):
        request_id = g.get("request_id") or _request_id()
        response.headers[HEADER] = request_id
        seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
        endpoint = request.endpoint or "none"  # a 404 has no endpoint: one label for all of them
        metrics.HTTP_REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        metrics.HTTP_DURATION.labels(endpoint).observe(seconds)
        access_log.info("request", extra={
            "method": request.method, "path": request.path, "status": response.status_code,
            "duration_ms": round(seconds * 1000, 2), "user_id": _user_id(), "request_id": request_id})
        return response


def _user_id() -> int | None:
    """The logged-in user's (or the API token's) id, without a database read.

    Read from the identity map: after a failed transaction the user's attributes are expired, and
    ``user.id`` would reload them from a database that may be down (the 503 answer must still go out).
    """
    for user in (g.get("api_user"), g.get("_login_user")):  # Flask-Login's cache: set only if the request used it
        state = inspect(user, raiseerr=False) if user is not None else None
        if state is not None and state.identity:
            return state.identity[0]
    return None
