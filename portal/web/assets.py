"""What a pip install must carry besides Python code (docs/rules.md rule 42), and where it finds it.

htmx (committed in ``static/vendor/``, pinned by package-lock.json, checked by
tests/test_assets.py) and the compiled catalogues (``translations/*/LC_MESSAGES/messages.mo``)
ship in the wheel as package data. Should one be missing all the same (a deleted file, a
wheel built from a tree without it), the app refuses to start with a sentence naming the
command that builds it: without it, every page would ask for a script that answers 404
(nothing updates in place) or show English to a French reader, and look fine doing so.
"""
import os

from flask import Flask

from portal.i18n import LANGUAGES

SOURCE_LANGUAGE = "en"  # the words in the code: no catalogue
BUILD_HTMX = "`make assets` (npm ci; htmx is pinned by package-lock.json)"
BUILD_CATALOGUES = "`make translations` (pybabel compile)"


def built_assets(app: Flask) -> list[tuple[str, str]]:
    """Each built file the app serves or reads, with the command that builds it."""
    files = [(os.path.join(app.static_folder, "vendor", "htmx.min.js"), BUILD_HTMX)]
    for language in LANGUAGES:
        if language != SOURCE_LANGUAGE:
            catalogue = os.path.join(app.root_path, "translations", language, "LC_MESSAGES", "messages.mo")
            files.append((catalogue, BUILD_CATALOGUES))
    return files


def check_built_assets(app: Flask) -> None:
    """Raise RuntimeError when a built file is missing, naming each one and the command that builds it."""
    missing = [f"{path} is missing: run {command}" for path, command in built_assets(app) if not os.path.isfile(path)]
    if missing:
        raise RuntimeError(
            "The portal cannot start without its built assets. " + "; ".join(missing)
            + ". After a pip install, run it in the clone and install again."
        )


def migrations_directory(app: Flask) -> str:
    """Alembic's scripts: inside the package when installed from a wheel (setup.py maps the
    top-level migrations/ to ``portal/migrations``), else the clone's migrations/ (a checkout
    or an editable install)."""
    packaged = os.path.join(app.root_path, "migrations")
    return packaged if os.path.isdir(packaged) else os.path.join(os.path.dirname(app.root_path), "migrations")
