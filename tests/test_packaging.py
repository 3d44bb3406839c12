"""A pip install is a whole app (docs/rules.md rule 42): the wheel, in a fresh venv, serves its pages' scripts.

The newcomer's way, in an empty directory far from the clone: build the wheel of the
working tree, install it into a new venv, `flask --app portal db upgrade`, `demo load`,
`gunicorn 'portal:create_app()'`, then fetch every script and stylesheet the login page
references. Without htmx in the wheel that page asks for a script that answers 404.

- The wheel is built from a copy of the files git tracks or would add (ignored ones are
  left out, as in a clone), so neither a stale build/ folder nor node_modules can slip in.
  pip builds it as for any `pip install .`: setuptools comes through build isolation.
- The venv is new but borrows its dependencies: a .pth file names the site-packages of the
  interpreter running the tests, which has them all. Installing them from PyPI would take
  minutes and the network; what is under test is what the wheel carries. The wheel itself
  is installed with `--no-deps`, so `portal` comes from the venv and only from there
  (checked: the commands run from an empty directory, neither wsgi.py nor the clone's
  portal/ is importable).
- It runs once, in the SQLite run of `make test`: the installed app has its own SQLite
  database whatever TEST_DATABASE_URL says, so the PostgreSQL run would only repeat it.
"""
import os
import re
import secrets
import site
import subprocess
import sys
import urllib.request
import zipfile
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.pofile import read_po

from tests.e2e.conftest import _stop as stop
from tests.e2e.conftest import _wait_until_serving as wait_until_serving
from tests.mail_server import free_port

ROOT = Path(__file__).resolve().parents[1]
VENDORED_HTMX = ROOT / "portal" / "static" / "vendor" / "htmx.min.js"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")),
                       reason="the installed app has its own SQLite database: run once, in the SQLite run"),
]


def _run(command: list, cwd: Path, env: dict | None = None, timeout: int = 180) -> str:
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode:
        pytest.fail(f"{' '.join(map(str, command))} exited with {done.returncode}:\n{done.stdout}\n{done.stderr}",
                    pytrace=False)
    return done.stdout


def _copy_source_tree(target: Path) -> None:
    """The files of a clone: tracked, or new and not ignored (the working tree, as it would be committed)."""
    listing = _run(["git", "-c", "safe.directory=*", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                   cwd=ROOT)
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            (target / name).write_bytes(source.read_bytes())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("packaging")
    _copy_source_tree(work / "src")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(work / "dist"),
          str(work / "src")], cwd=work)
    (built,) = (work / "dist").glob("partner_portal-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory) -> SimpleNamespace:
    """A new venv with the wheel installed, its settings and an empty directory to run in."""
    work = tmp_path_factory.mktemp("installed")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=work)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", "--no-index",
          str(wheel)], cwd=work)
    (site_packages,) = (venv / "lib").glob("python*/site-packages")
    (site_packages / "_portal_test_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")

    cwd = work / "elsewhere"
    cwd.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PORTAL_", "FLASK_", "TEST_", "PYTHON"))
           and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATABASE_URL=f"sqlite:///{work / 'portal.sqlite'}", SECRET_KEY=secrets.token_hex(32),
               PORTAL_JOBS_SQLITE_PATH=str(work / "jobs.sqlite"), PORTAL_TRUSTED_HOSTS='["127.0.0.1"]',
               # A plain-HTTP test server (docs/rules.md rule 41b).
               PORTAL_SESSION_COOKIE_SECURE="false", PYTHONUNBUFFERED="1")
    return SimpleNamespace(python=python, venv=venv, cwd=cwd, env=env)


@pytest.fixture(scope="module")
def served(installed) -> str:
    """The installed app, migrated, with the demo data, under gunicorn: its base URL."""
    flask = [str(installed.python), "-m", "flask", "--app", "portal"]
    _run([*flask, "db", "upgrade"], cwd=installed.cwd, env=installed.env)
    _run([*flask, "demo", "load"], cwd=installed.cwd, env=installed.env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = installed.cwd / "gunicorn.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(installed.python), "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}",
             "portal:create_app()"],
            cwd=installed.cwd, env=installed.env, stdout=output, stderr=subprocess.STDOUT,
        )
    try:
        wait_until_serving(process, url, port, log)
        yield url
    finally:
        stop(process)


def _get(url: str, **headers) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


class _Assets(HTMLParser):
    """The `<script src>` and `<link rel="stylesheet" href>` of a page."""

    def __init__(self):
        super().__init__()
        self.scripts, self.stylesheets = [], []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script" and attrs.get("src"):
            self.scripts.append(attrs["src"])
        if tag == "link" and "stylesheet" in (attrs.get("rel") or "").split():
            self.stylesheets.append(attrs["href"])


def test_the_wheel_carries_the_built_assets_templates_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())

    expected = {"portal/static/vendor/htmx.min.js", "portal/static/portal.css", "portal/static/portal.js",
                "portal/templates/base.html", "portal/templates/auth/login.html",
                "portal/translations/fr/LC_MESSAGES/messages.mo", "portal/translations/pl/LC_MESSAGES/messages.mo",
                "portal/migrations/env.py", "portal/migrations/alembic.ini", "portal/migrations/script.py.mako"}
    assert expected - names == set()
    templates = {path.relative_to(ROOT).as_posix() for path in (ROOT / "portal" / "templates").rglob("*.html")}
    assert templates - names == set()
    migrations = {f"portal/migrations/versions/{path.name}" for path in (ROOT / "migrations" / "versions").glob("*.py")}
    assert migrations and migrations - names == set()
    assert not [name for name in names if "__pycache__" in name or name.startswith(("tests/", "migrations/"))]


def test_the_fresh_venv_imports_the_installed_portal_not_the_clone(installed):
    found = _run([str(installed.python), "-c", "import portal; print(portal.__file__)"],
                 cwd=installed.cwd, env=installed.env).strip()

    assert Path(found).is_relative_to(installed.venv), found
    assert not Path(found).is_relative_to(ROOT)


def test_the_installed_app_serves_every_script_and_stylesheet_of_its_pages(served):
    status, _type, page = _get(served + "/login")
    assert status == 200
    assets = _Assets()
    assets.feed(page.decode())

    assert [src.partition("?")[0] for src in assets.scripts] == ["/static/vendor/htmx.min.js", "/static/portal.js"]
    assert [href.partition("?")[0] for href in assets.stylesheets] == ["/static/portal.css"]
    for src in assets.scripts:
        status, content_type, body = _get(served + src)
        assert (status, content_type.partition(";")[0]) == (200, "text/javascript"), src
        if src.startswith("/static/vendor/htmx.min.js"):
            assert body.startswith(b"var htmx=function()") and body == VENDORED_HTMX.read_bytes()
    for href in assets.stylesheets:
        status, content_type, _body = _get(served + href)
        assert (status, content_type.partition(";")[0]) == (200, "text/css"), href


@pytest.mark.parametrize("language", ["fr", "pl"])
def test_the_installed_app_speaks_french_and_polish(served, language):
    with open(ROOT / "portal" / "translations" / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        log_in = read_po(po, locale=language)["Log in"].string

    _status, _type, page = _get(served + "/login", **{"Accept-Language": language})

    assert re.search(rf"<h1>\s*{re.escape(log_in)}\s*</h1>", page.decode())
