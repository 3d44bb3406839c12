"""``/healthz`` (the process lives), ``/readyz`` (it can serve: database and schema) and ``/metrics``.

None of them needs a session, and only ``/readyz`` touches the database, so
a load balancer can tell a live server from a ready one while the database is
down. ``/metrics`` answers 401 without the ``PORTAL_METRICS_TOKEN`` bearer
token (and to everyone when no token is set: the metrics are not public).
"""
import hmac
import os

from flask import Response, current_app, jsonify, request

from portal import jobs, metrics
from portal.blueprints.health import bp
from portal.domain import readiness


@bp.route("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz():
    problems = readiness.problems(_migrations_directory())
    if problems:
        return jsonify(status="unavailable", problems=problems), 503, {"Retry-After": "30"}
    return jsonify(status="ok")


@bp.route("/metrics")
def metrics_text():
    if not _bearer_matches(current_app.config.get("METRICS_TOKEN")):
        return (jsonify(error={"code": "unauthorized", "message": "Send the metrics token as a Bearer token."}),
                401, {"WWW-Authenticate": 'Bearer realm="metrics"'})
    waiting = jobs.jobs_of().waiting()
    body = metrics.exposition(None if waiting is None else waiting.pending + waiting.scheduled)
    return Response(body, content_type=metrics.CONTENT_TYPE)


def _bearer_matches(token: str | None) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return bool(token) and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(),
                                                                              str(token).encode())


def _migrations_directory() -> str:
    return current_app.extensions["migrate"].directory or os.path.join(os.path.dirname(current_app.root_path),
                                                                        "migrations")
