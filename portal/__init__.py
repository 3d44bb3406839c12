"""Partner Portal: the console a reseller uses to run its clients' seats."""
import os
import sys

from flask import Flask, request_started, request_tearing_down
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal import cli, jobs, rbac, web
from portal.config import DEV_SECRET_KEY, Config, flag, from_environment, proxy_count
from portal.domain.transactions import serving_request
from portal.extensions import csrf, db, htmx, limiter, migrate
from portal.web import assets, probes, request_log


def create_app(test_config: dict | None = None) -> Flask:
    """Build the app; ``test_config`` (a mapping) overrides the environment."""
    app = Flask(__name__, instance_relative_config=True)
    assets.check_built_assets(app)  # htmx and the catalogues, or a sentence naming the command (rule 42)
    load_config(app, test_config)
    trust_proxies(app)
    probes.init_app(app)  # after the host check is configured: probes answer whatever Host they send
    # The request id before any other hook, so every log line of the request carries it (rule 43);
    # its after-request hook, registered first, runs last and logs the final status.
    request_log.init_app(app)
    # Identity first: its before-request hook must run before CSRF's, so that a
    # CSRF error page rendered for a logged-in user can still ask permissions.
    rbac.init_app(app)
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_security_headers(app)
    cli.register(app)
    jobs.init_app(app)
    web.init_app(app)
    return app


def load_config(app: Flask, test_config: dict | None) -> None:
    app.config.from_object(Config)
    app.config.update(from_environment())
    app.config.from_prefixed_env("PORTAL")
    if test_config:
        app.config.from_mapping(test_config)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "portal.sqlite")
    if app.config["SECRET_KEY"] in (None, "", DEV_SECRET_KEY) and not (app.debug or app.testing) and _serving():
        raise RuntimeError(
            "SECRET_KEY is not set: export a long random SECRET_KEY before starting the portal "
            "outside debug mode (python -c 'import secrets; print(secrets.token_hex(32))')."
        )
    check_link_host(app)
    share_rate_limits(app)
    secure = app.config.get("SESSION_COOKIE_SECURE")
    # docs/rules.md rule 41b: HTTPS-only cookies unless debugging, testing or told otherwise.
    secure = not (app.debug or app.testing) if secure is None else flag(secure, "SESSION_COOKIE_SECURE")
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = secure


def share_rate_limits(app: Flask) -> None:
    """With PORTAL_REDIS_URL, the rate limits count in Redis too, across every app server (docs/rules.md
    rule 44), unless PORTAL_RATELIMIT_STORAGE_URI names a store (memory:// counts per process)."""
    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"


def check_link_host(app: Flask) -> None:
    """Links in e-mails never come from an unchecked Host header (docs/rules.md rule 41b).

    With ``PORTAL_SERVER_NAME`` links use that host; with ``PORTAL_TRUSTED_HOSTS``
    a request for any other host is refused (400) before a link is built.
    Without either, a server outside debug and testing refuses to start;
    maintenance commands (``flask db upgrade``…) still run.
    """
    hosts = app.config.get("TRUSTED_HOSTS")
    if isinstance(hosts, str):  # PORTAL_TRUSTED_HOSTS=portal.example.com, not a JSON list
        app.config["TRUSTED_HOSTS"] = hosts = [host.strip() for host in hosts.split(",") if host.strip()]
    if app.config.get("SERVER_NAME") or hosts or app.debug or app.testing or not _serving():
        return
    raise RuntimeError(
        "Neither PORTAL_SERVER_NAME nor PORTAL_TRUSTED_HOSTS is set: links in e-mails would take their host "
        "from the request's Host header, which anyone can forge. Set PORTAL_SERVER_NAME=portal.example.com "
        "(the host of the links) or PORTAL_TRUSTED_HOSTS='[\"portal.example.com\"]' (the hosts the portal "
        "answers to) before starting the portal outside debug mode."
    )


def trust_proxies(app: Flask) -> None:
    """With PORTAL_PROXY_FIX=N, the client address and scheme come from the last N proxies' headers.

    Without it, X-Forwarded-For is ignored: the address (lockout, rate limits,
    audit) is the socket's peer, which a client cannot forge (docs/rules.md rule 41b).
    """
    proxies = app.config["PROXY_FIX"] = proxy_count(app.config.get("PROXY_FIX") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)


def _serving() -> bool:
    """True unless this is a maintenance command (``flask db upgrade``, ``demo load``…).

    Those never sign a cookie, so they may run without a SECRET_KEY; ``flask
    run`` and WSGI servers may not. Only ``run`` as the command counts:
    ``flask billing run`` is maintenance too (the daily job needs no link host).
    """
    return os.environ.get("FLASK_RUN_FROM_CLI") != "true" or _flask_command(sys.argv[1:]) == "run"


def _flask_command(args: list[str]) -> str | None:
    """The command of a ``flask`` command line (``db`` in ``flask --app wsgi db upgrade``)."""
    takes_value = {"--app", "-A", "--env-file", "-e"}
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg in takes_value:
            skip = True
        elif not arg.startswith("-"):
            return arg
    return None


def register_extensions(app: Flask) -> None:
    from portal.domain.transactions import configure_engine, end_read_transaction

    db.init_app(app)
    migrate.init_app(app, db, directory=assets.migrations_directory(app),
                     compare_type=True, render_as_batch=True)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)

    # PostgreSQL: a request's reads run without BEGIN/COMMIT, its writes in transactions (transactions.py).
    request_started.connect(_request_started, app)
    request_tearing_down.connect(_request_ended, app)

    # Registered after Flask-SQLAlchemy's (teardowns run last registered first): before the session is
    # removed, a transaction that only read ends with COMMIT on PostgreSQL (its prepared statements stay).
    @app.teardown_appcontext
    def _end_read(error):
        if error is None:
            end_read_transaction()


def _request_started(sender, **extra) -> None:
    serving_request(True)


def _request_ended(sender, **extra) -> None:
    serving_request(False)


class DatabaseId(IntegerConverter):
    """``<id:…>`` in the screens' URLs: ids fit a database integer, so a huge one is a 404,
    not an overflow. (The API checks its ids against its own documented maximum.)"""

    def __init__(self, url_map, **kwargs):
        super().__init__(url_map, **{"max": 2**31 - 1, **kwargs})


def register_blueprints(app: Flask) -> None:
    app.url_map.converters["id"] = DatabaseId
    from portal.blueprints import (audit, auth, clients, health, insights, integrations, invoices, members, operator,
                                   partners, prices, reports, seat_requests, sites)

    for module in (auth, partners, clients, sites, invoices, members, audit, operator, seat_requests, reports,
                   prices, integrations, insights, health):
        app.register_blueprint(module.bp)
    register_api(app)


def register_api(app: Flask) -> None:
    """The JSON API: token-authenticated, so exempt from the screens' CSRF check."""
    from portal.blueprints import api

    csrf.exempt(api.bp)
    app.register_blueprint(api.bp)


def register_error_handlers(app: Flask) -> None:
    from portal.web.errors import register

    register(app)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def _headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        return response
