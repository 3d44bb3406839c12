"""Static files cached for a year, with the file's content hash in every URL (issue 11, defect 13).

Flask sends static files with ``Cache-Control: no-cache``, so every page view
revalidated portal.css, portal.js and htmx. Every ``url_for("static", …)`` now
carries ``?v=<hash of the file>``: a changed file is a new URL, so the old one
may be cached for ever (``max-age`` a year, ``immutable``).
"""
import hashlib
import os
from functools import lru_cache

from flask import Flask

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
            response.cache_control.immutable = True
        return response
