"""The app factory and its configuration (docs/rules.md section 6), as flaskr tests them."""
import os
import subprocess
import sys
from pathlib import Path

import flask
import pytest

from portal import create_app
from portal.config import DEV_SECRET_KEY

MEMORY_DB = "sqlite://"
REAL_KEY = "k" * 64
# docs/rules.md rule 41b: a server outside debug and testing needs the host of its links.
HOSTS = {"TRUSTED_HOSTS": ["portal.example.com"]}
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def instance_path(monkeypatch, tmp_path):
    """Point Flask's instance folder at a temporary directory."""
    path = tmp_path / "instance"
    monkeypatch.setattr(flask.Flask, "auto_find_instance_path", lambda self: str(path))
    return path


def test_testing_config_builds_a_testing_app(production_env):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})

    assert app.testing
    assert app.test_client().get("/login").status_code == 200


def test_without_testing_the_app_is_not_in_testing_mode_and_checks_csrf(production_env):
    app = create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB, **HOSTS})

    assert not app.testing
    assert app.config.get("WTF_CSRF_ENABLED", True) is True


@pytest.mark.parametrize("secret", [DEV_SECRET_KEY, "", None])
def test_refuses_to_start_without_a_real_secret_key(secret, production_env):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": secret, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})


def test_flask_run_without_a_secret_key_is_refused(production_env, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "wsgi", "run"])

    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"SECRET_KEY": DEV_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})


def test_maintenance_commands_run_without_a_secret_key(production_env, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "wsgi", "db", "upgrade"])

    app = create_app({"SECRET_KEY": DEV_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})

    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY


@pytest.mark.parametrize("mode", ["DEBUG", "TESTING"])
def test_debug_and_testing_accept_the_development_key(mode, production_env):
    app = create_app({mode: True, "SECRET_KEY": DEV_SECRET_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})

    assert app.config["SECRET_KEY"] == DEV_SECRET_KEY


def test_portal_prefixed_environment_settings_are_read(production_env, monkeypatch):
    monkeypatch.setenv("PORTAL_CLIENTS_PER_PAGE", "10")

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})

    assert app.config["CLIENTS_PER_PAGE"] == 10


def test_database_url_defaults_to_a_sqlite_file_in_the_instance_folder(production_env, instance_path):
    app = create_app({"TESTING": True})

    assert app.instance_path == str(instance_path)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "sqlite:///" + str(instance_path / "portal.sqlite")
    assert instance_path.is_dir(), "the instance folder is created so SQLite can make the file"


# --- a fresh process, configured only through its environment ----------------------

START = """
import sys, flask
flask.Flask.auto_find_instance_path = lambda self: sys.argv[1]
from portal import create_app
app = create_app()
print(app.config["SQLALCHEMY_DATABASE_URI"])
print(app.config["SECRET_KEY"])
"""


def start(tmp_path, **env):
    clean = {name: value for name, value in os.environ.items()
             if not name.startswith(("FLASK_", "PORTAL_")) and name not in ("SECRET_KEY", "DATABASE_URL")}
    return subprocess.run([sys.executable, "-c", START, str(tmp_path / "instance")], cwd=ROOT,
                          env={**clean, **env}, capture_output=True, text=True, timeout=120)


def test_a_server_process_without_secret_key_refuses_to_start(tmp_path):
    result = start(tmp_path, DATABASE_URL="sqlite:///" + str(tmp_path / "x.sqlite"))

    assert result.returncode == 1, result.stderr  # the uncaught RuntimeError, not a crash of another kind
    assert "SECRET_KEY is not set" in result.stderr


def test_a_server_process_reads_secret_key_and_database_url_from_the_environment(tmp_path):
    url = "sqlite:///" + str(tmp_path / "elsewhere.sqlite")

    result = start(tmp_path, SECRET_KEY=REAL_KEY, DATABASE_URL=url, PORTAL_SERVER_NAME="portal.example.com")

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [url, REAL_KEY]


def test_a_server_process_without_database_url_uses_the_instance_folder(tmp_path):
    result = start(tmp_path, SECRET_KEY=REAL_KEY, PORTAL_TRUSTED_HOSTS='["portal.example.com"]')

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "sqlite:///" + str(tmp_path / "instance" / "portal.sqlite")


def test_create_app_reads_the_environment_when_called(production_env, instance_path, monkeypatch, tmp_path):
    url = "sqlite:///" + str(tmp_path / "from-env.sqlite")
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", REAL_KEY)
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", '["portal.example.com"]')

    app = create_app()

    assert (app.config["SQLALCHEMY_DATABASE_URI"], app.config["SECRET_KEY"]) == (url, REAL_KEY)


# --- docs/rules.md rule 41b: links in e-mails never come from an unchecked Host header --------

def test_a_server_refuses_to_start_without_a_server_name_or_trusted_hosts(production_env):
    with pytest.raises(RuntimeError, match="PORTAL_SERVER_NAME nor PORTAL_TRUSTED_HOSTS") as refused:
        create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})
    assert "Host header" in str(refused.value)


def test_flask_run_without_a_server_name_or_trusted_hosts_is_refused(production_env, monkeypatch):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "wsgi", "run"])

    with pytest.raises(RuntimeError, match="PORTAL_TRUSTED_HOSTS"):
        create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})


@pytest.mark.parametrize("setting", [{"SERVER_NAME": "portal.example.com"}, HOSTS])
def test_either_setting_lets_a_server_start(production_env, setting):
    app = create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB, **setting})

    assert not (app.debug or app.testing)


def test_maintenance_debug_and_testing_need_neither_setting(production_env, monkeypatch):
    for mode in ("DEBUG", "TESTING"):
        assert create_app({mode: True, "SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "wsgi", "db", "upgrade"])
    assert create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})


@pytest.mark.parametrize("command", [["billing", "run", "--today", "2027-01-01"], ["db", "upgrade"],
                                     ["invitations", "expire"]])
def test_maintenance_commands_run_without_either_setting(production_env, monkeypatch, command):
    monkeypatch.setenv("FLASK_RUN_FROM_CLI", "true")
    monkeypatch.setattr(sys, "argv", ["flask", "--app", "wsgi", *command])

    assert create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})


def test_trusted_hosts_may_be_given_as_a_comma_separated_list(production_env, monkeypatch):
    monkeypatch.setenv("PORTAL_TRUSTED_HOSTS", "portal.example.com, admin.example.com")

    app = create_app({"SECRET_KEY": REAL_KEY, "SQLALCHEMY_DATABASE_URI": MEMORY_DB})

    assert app.config["TRUSTED_HOSTS"] == ["portal.example.com", "admin.example.com"]
    assert app.test_client().get("/login", headers={"Host": "admin.example.com"}).status_code == 200
    assert app.test_client().get("/login", headers={"Host": "evil.example"}).status_code == 400


def test_a_server_process_without_either_setting_refuses_to_start(tmp_path):
    result = start(tmp_path, SECRET_KEY=REAL_KEY)

    assert result.returncode == 1, result.stderr
    assert "Neither PORTAL_SERVER_NAME nor PORTAL_TRUSTED_HOSTS is set" in result.stderr
