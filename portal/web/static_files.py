"""Static files cached for a year, with the file's content hash in every URL (issue 11, defect 13).

Flask sends static files with ``Cache-Control: no-cache``, so every page view
revalidated portal.css, portal.js and htmx. Every ``url_for("static", …)`` now
carries ``?v=<hash of the file>``: a changed file is a new URL, so the old one
may be cached for ever (``max-age`` a year, ``immutable``). Only under its own
URL, though: during a rolling upgrade a page from a server of one release may
ask a server of another for ``?v=<its hash>``, and the file that server has
is not the one the URL names; it is sent uncached (``no-cache``), so no browser
or proxy keeps it under that URL (docs/deploy.md, "Upgrading while running").
"""
import hashlib
import os
from functools import lru_cache

from flask import Flask, request

ONE_YEAR = 365 * 24 * 3600


@lru_cache(maxsize=64)
def _version(path: str, modified: float) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:12]


def init_app(app: Flask) -> None:
    if app.config.get("SEND_FILE_MAX_AGE_DEFAULT") is None:  # Flask's default: revalidate every time
        app.config["SEND_FILE_MAX_AGE_DEFAULT"] = ONE_YEAR

    @app.url_defaults
    def add_version(endpoint, values):
        if endpoint != "static" or "v" in values or "filename" not in values:
            return
        path = os.path.join(app.static_folder, values["filename"])
        try:
            values["v"] = _version(path, os.path.getmtime(path))
        except OSError:  # a file that is not there: the URL answers 404 either way
            return

    @app.after_request
    def immutable(response):
        if response.status_code == 200 and response.cache_control.max_age == ONE_YEAR:
            if request.endpoint != "static" or request.args.get("v") == _current_version(app):
                response.cache_control.immutable = True
            else:  # another release's URL (or none): this file is not what it names
                response.cache_control.max_age = 0
                response.cache_control.no_cache = True
        return response


def _current_version(app: Flask) -> str | None:
    path = os.path.join(app.static_folder, request.view_args.get("filename", ""))
    try:
        return _version(path, os.path.getmtime(path))
    except OSError:
        return None
