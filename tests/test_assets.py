"""Built assets (docs/rules.md rule 42): htmx as package-lock.json pins it, and no start without them.

htmx is a committed, vendored file (``portal/static/vendor/htmx.min.js``) rather than the
output of a setuptools build hook. A hook would need Node and npm (and the npm registry)
wherever a wheel is built, including on every `pip install` of a clone, and an `-e`
install would still serve nothing until someone ran it; a committed file makes every
install, editable or not, whole with no tool but pip, and its history shows each upgrade.

What the file must be is decided by ``package-lock.json``: its ``integrity`` is the sha512
of htmx's npm tarball, not of this one file, so it cannot be compared with the file
directly. `npm ci` (`make assets`, which `make test` runs, so CI too) refuses a tarball
that does not match it; this test then checks that what npm installed is what the lock
names (version and integrity, from npm's own record in node_modules/.package-lock.json)
and that the committed file is byte for byte the one in that tarball. `make assets` never
overwrites the committed file: in CI it would hide a version bump whose new file was not
committed. `make htmx` copies it after a bump.
"""
import json
import os
import re
from pathlib import Path

import pytest
from flask import Flask

from portal import create_app
from portal.web import assets

ROOT = Path(__file__).resolve().parents[1]
VENDORED = ROOT / "portal" / "static" / "vendor" / "htmx.min.js"
INSTALLED = ROOT / "node_modules" / "htmx.org"


def _locked_htmx(lock_file: Path) -> dict:
    return json.loads(lock_file.read_text())["packages"]["node_modules/htmx.org"]


def test_the_committed_htmx_is_the_version_package_lock_pins():
    version = _locked_htmx(ROOT / "package-lock.json")["version"]

    assert f'version:"{version}"' in VENDORED.read_text(), (
        f"{VENDORED.relative_to(ROOT)} is not htmx {version} (package-lock.json): run `make htmx` and commit it")


def test_the_committed_htmx_is_the_file_npm_installed_from_the_lock():
    if not (INSTALLED / "dist" / "htmx.min.js").is_file():
        message = "node_modules/htmx.org is not installed: run `make assets` (npm ci)"
        if os.environ.get("CI"):  # `make test` runs `make assets` first: never skipped in CI
            pytest.fail(message)
        pytest.skip(message)
    locked = _locked_htmx(ROOT / "package-lock.json")
    installed = _locked_htmx(ROOT / "node_modules" / ".package-lock.json")  # npm's record of what it installed

    assert (installed["version"], installed["integrity"]) == (locked["version"], locked["integrity"]), (
        "node_modules is not what package-lock.json pins: run `make assets` (npm ci)")
    assert json.loads((INSTALLED / "package.json").read_text())["version"] == locked["version"]
    assert VENDORED.read_bytes() == (INSTALLED / "dist" / "htmx.min.js").read_bytes(), (
        f"{VENDORED.relative_to(ROOT)} is not the htmx {locked['version']} of package-lock.json: "
        "run `make htmx` and commit it")


def _portal_tree(tmp_path: Path, *missing: str) -> Flask:
    """A Flask app rooted in a copy of the built files the portal needs, less ``missing``."""
    files = ["static/vendor/htmx.min.js", "translations/fr/LC_MESSAGES/messages.mo",
             "translations/pl/LC_MESSAGES/messages.mo"]
    for name in files:
        if name not in missing:
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(b"built")
    return Flask("portal", root_path=str(tmp_path))


def test_an_app_with_its_built_assets_starts(tmp_path):
    assets.check_built_assets(_portal_tree(tmp_path))


def test_without_htmx_the_app_refuses_to_start_naming_make_assets(tmp_path):
    with pytest.raises(RuntimeError) as refused:
        assets.check_built_assets(_portal_tree(tmp_path, "static/vendor/htmx.min.js"))

    message = str(refused.value)
    assert f"{tmp_path / 'static' / 'vendor' / 'htmx.min.js'} is missing: run `make assets` (npm ci" in message
    assert "translations" not in message


@pytest.mark.parametrize("language", ["fr", "pl"])
def test_without_a_compiled_catalogue_the_app_refuses_to_start_naming_make_translations(tmp_path, language):
    catalogue = f"translations/{language}/LC_MESSAGES/messages.mo"

    with pytest.raises(RuntimeError, match="is missing: run `make translations`") as refused:
        assets.check_built_assets(_portal_tree(tmp_path, catalogue))

    assert str(tmp_path / catalogue) in str(refused.value)
    assert "htmx" not in str(refused.value)


def test_create_app_checks_the_built_assets(monkeypatch, tmp_path):
    gone = tmp_path / "htmx.min.js"
    monkeypatch.setattr(assets, "built_assets", lambda app: [(str(gone), assets.BUILD_HTMX)])

    with pytest.raises(RuntimeError, match=re.escape(f"{gone} is missing: run `make assets`")):
        create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})


def test_the_real_portal_has_its_built_assets():
    """The clone itself: htmx is committed, and so are the compiled catalogues (rule 37)."""
    app = Flask("portal", root_path=str(ROOT / "portal"))

    assert [path for path, _command in assets.built_assets(app) if not os.path.isfile(path)] == []
    assert len(assets.built_assets(app)) == 3
