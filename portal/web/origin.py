"""Hands the request's client address to the audit trail (the domain never reads the request)."""
from flask import Flask, request

from portal.domain import audit


def init_app(app: Flask) -> None:
    @app.before_request
    def _remember_origin():
        audit.set_origin(request.remote_addr)

    @app.teardown_request
    def _forget_origin(_error=None):
        audit.set_origin(None)
