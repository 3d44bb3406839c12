"""Partner Portal benchmark: SQL statements and wall time per page, at demo size and at scale.

    .venv/bin/python bench/run.py                                  # fresh SQLite file in a temp dir
    .venv/bin/python bench/run.py --database-url postgresql+psycopg://portal@127.0.0.1:55432/portal_h5
    .venv/bin/python bench/run.py --json out.json --explain --show-sql

Steps: a fresh database (PostgreSQL: the ``public`` schema is DROPPED and
recreated, so point it at a throw-away database), ``flask db upgrade``,
``demo load``; every entry of REQUESTS is measured; then ``demo scale`` (timed)
and every entry again; then COMMANDS_AT_SCALE (timed); then the task queue
(bench/jobs.py: user creation while SMTP hangs, webhook throughput of one
worker; ``--skip-jobs``, or ``--only-jobs`` for that section alone); then the write path
under load on PostgreSQL (bench/write_load.py, issue 17; ``--skip-write-load``,
``--only-write-load``). The targets are
printed PASS/MISS; the exit status is 0 whatever they say (only a broken setup
exits non-zero).

To add a measurement, append to REQUESTS, COMMANDS_AT_SCALE (and, for a new
kind of target, to ``targets``).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import billing as billing_bench  # noqa: E402 - bench/billing.py, beside this script
import history as history_bench  # noqa: E402 - bench/history.py, beside this script
import jobs as jobs_bench  # noqa: E402 - bench/jobs.py, beside this script
import write_load as write_load_bench  # noqa: E402 - bench/write_load.py, beside this script

FINANCE = "finance@northwind.example"
PASSWORD = "demo-password"  # docs/rules.md section 7


# ---------------------------------------------------------------- what is measured


@dataclass(frozen=True)
class Request:
    """One page or API call, measured at demo size and at scale.

    ``login``: e-mail of the demo user the request runs as (None: anonymous).
    ``auth``: "session" logs in through POST /login (cookie); "token" sends
    ``Authorization: Bearer`` with a token from ``api-token create EMAIL``.
    Targets (None: not checked): ``max_statements`` per request, the same at
    both sizes; ``max_growth``: median at scale / median at demo size;
    ``max_vs`` = (label of another request, factor): median at scale / that
    request's median at scale.
    """

    label: str
    method: str
    url: str
    login: str | None = None
    auth: str = "session"
    max_statements: int | None = 8
    max_growth: float | None = None
    max_vs: tuple[str, float] | None = None


REQUESTS = [
    Request("overview totals", "GET", "/overview", FINANCE, max_growth=2.0, max_vs=("login page", 3.0)),
    Request("overview clients", "GET", "/overview?tab=clients", FINANCE, max_growth=2.0,
            max_vs=("login page", 3.0)),
    Request("login page", "GET", "/login"),
    # Issue 17 names these two beside the overview, the client page and the site page: <= 3x the login page too.
    Request("api clients", "GET", "/api/v1/clients?per_page=50", FINANCE, auth="token", max_growth=2.0,
            max_vs=("login page", 3.0)),
    Request("api summary", "GET", "/api/v1/summary", FINANCE, auth="token", max_growth=2.0,
            max_vs=("login page", 3.0)),
    Request("price book", "GET", "/price-book", FINANCE, max_growth=2.0),
    Request("api price book", "GET", "/api/v1/price-book", FINANCE, auth="token", max_growth=2.0),
    # Issue 15: the partner's 12-month chart and the insight page, read from the seat history.
    Request("overview 12 months", "GET", "/overview?range=12m", FINANCE, max_vs=("login page", 3.0)),
    Request("insights page", "GET", "/insights", FINANCE, max_vs=("login page", 3.0)),
    Request("api usage", "GET", "/api/v1/usage", FINANCE, auth="token", max_growth=2.0),
    # Issue 17: the client page and the site page (a demo client's: the same client at both sizes).
    Request("client page", "GET", "/clients/{acme}", FINANCE, max_growth=2.0, max_vs=("login page", 3.0)),
    Request("site page", "GET", "/clients/{acme}/sites/{acme_site}", FINANCE, max_growth=2.0,
            max_vs=("login page", 3.0)),
    # Issue 17: deep pages, where OFFSET walks the client-list index past every earlier client: do they
    # need keyset pagination? The screen's last page (a page past the end shows the last one; six digits at
    # most, or it is read as page 1); the API's page 400 (of 50: the last at 20,000 clients; empty at demo
    # size, so its statements differ there).
    Request("overview clients, last page", "GET", "/overview?tab=clients&page=999999", FINANCE,
            max_vs=("login page", 3.0)),
    Request("api clients, page 400", "GET", "/api/v1/clients?per_page=50&page=400", FINANCE, auth="token",
            max_statements=None, max_vs=("login page", 3.0)),
]

# The demo objects a URL of REQUESTS names in braces, found by name (``demo_ids``).
DEMO_CLIENT, DEMO_SITE = "Acme Dental", "Lyon"


def demo_ids(app) -> dict[str, int]:
    """The ids behind the braces of REQUESTS' URLs: ``{acme}``, ``{acme_site}``."""
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import Organisation, Site

    with app.app_context():
        client_id, site_id = db.session.execute(
            select(Organisation.id, Site.id).join(Site, Site.client_id == Organisation.id)
            .where(Organisation.name == DEMO_CLIENT, Site.name == DEMO_SITE)).one()
        db.session.remove()
    return {"acme": client_id, "acme_site": site_id}


@dataclass(frozen=True)
class Command:
    """A CLI command run once through ``app.test_cli_runner()`` and timed.

    ``{today}`` in ``args`` is replaced by today's ISO date.
    """

    label: str
    args: tuple[str, ...]
    max_seconds: float | None = None


# Issue 17: ``demo scale`` at most 60 s on SQLite and 120 s on PostgreSQL.
SCALE_SECONDS = {"sqlite": 60.0, "postgresql": 120.0}


def scale_command(args, dialect: str = "sqlite") -> Command:
    return Command("demo scale", ("demo", "scale", "--clients", str(args.clients),
                                  "--sites-per-client", str(args.sites_per_client),
                                  "--users-per-site", str(args.users_per_site)),
                   max_seconds=SCALE_SECONDS.get(dialect, 120.0))


# Run once, timed, after the requests at scale (they may change data).
COMMANDS_AT_SCALE: list[Command] = [
    # Every scaled client's first period starts today, not yet invoiced: an invoice per client. Its limit is
    # per client (BILLING_MS_PER_CLIENT, below): the 10 s of issue 9 were for 2,000 clients.
    Command("billing run", ("billing", "run", "--today", "{today}")),
]

# Issue 17: the billing run's time per client at scale (set-based work, not a transaction per client).
BILLING_MS_PER_CLIENT = {"sqlite": 1.0, "postgresql": 2.0}

# Clients of the extra, separate billing-run measurement: is the run linear in clients?
LINEARITY_SIZES = (500, 2000)


def export_peak(app, months_ahead: int = 0, log=print) -> dict:
    """Stream /invoices/export.csv as finance; peak Python memory and line count.

    ``months_ahead`` first runs the billing run that many months later, which
    catches up one invoice per month and client: more lines to export.
    """
    import tracemalloc

    if months_ahead:
        today = dt.date.today()
        month = today.month - 1 + months_ahead
        later = dt.date(today.year + month // 12, month % 12 + 1, min(today.day, 28))
        invoke(app, ("billing", "run", "--today", later.isoformat()))
    client = app.test_client()
    client.post("/login", data={"email": FINANCE, "password": PASSWORD})
    tracemalloc.start()
    started = time.perf_counter()
    response = client.get("/invoices/export.csv")
    lines = sum(chunk.count(b"\n") for chunk in response.iter_encoded()) - 1
    seconds = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    log(f"  export: {lines} lines, peak {peak / 1e6:.1f} MB, {seconds:.2f} s")
    return dict(lines=lines, peak_mb=round(peak / 1e6, 2), seconds=round(seconds, 2))


def billing_linearity(log=print) -> list[dict]:
    """Time the first billing run over fresh SQLite databases of different sizes."""
    from flask_migrate import upgrade

    from portal.extensions import db

    rows = []
    for clients in LINEARITY_SIZES:
        tmpdir = tempfile.mkdtemp(prefix="portal-bench-lin-")
        try:
            app = build_app("sqlite:///" + os.path.join(tmpdir, "portal.sqlite"),
                            JOBS_SQLITE_PATH=os.path.join(tmpdir, "jobs.sqlite"))
            with app.app_context():
                upgrade()
            invoke(app, ("demo", "load"))
            invoke(app, ("demo", "scale", "--clients", str(clients), "--sites-per-client", "5",
                         "--users-per-site", "1"))
            billing_bench.set_prices(app, clients // 4)  # price book + a quarter with their own price
            result = invoke(app, ("billing", "run", "--today", "{today}"))
            rows.append(dict(clients=clients, seconds=round(result.seconds, 2),
                             ms_per_client=round(1000 * result.seconds / clients, 2)))
            log(f"  billing run over {clients} clients: {result.seconds:.2f} s")
            with app.app_context():
                db.engine.dispose()
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return rows


# ---------------------------------------------------------------- results


@dataclass
class RequestResult:
    label: str
    method: str
    url: str
    login: str | None
    status: int | None = None
    statements: list[int] = field(default_factory=list)  # per timed request
    times_ms: list[float] = field(default_factory=list)
    sql: list[str] = field(default_factory=list)  # statements of the last timed request
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.times_ms)

    @property
    def statements_text(self) -> str:
        if not self.statements:
            return "-"
        low, high = min(self.statements), max(self.statements)
        return str(low) if low == high else f"{low}-{high}"

    @property
    def median(self) -> float | None:
        return statistics.median(self.times_ms) if self.times_ms else None

    @property
    def p95(self) -> float | None:
        if len(self.times_ms) < 2:
            return self.median
        return statistics.quantiles(self.times_ms, n=100, method="inclusive")[94]

    def summary(self) -> dict:
        return dict(label=self.label, method=self.method, url=self.url, login=self.login,
                    status=self.status, statements=self.statements_text, requests=len(self.times_ms),
                    median_ms=self.median, p95_ms=self.p95,
                    min_ms=min(self.times_ms, default=None), max_ms=max(self.times_ms, default=None),
                    error=self.error, sql=self.sql)


@dataclass
class CommandResult:
    label: str
    args: tuple[str, ...]
    seconds: float
    exit_code: int
    output: str
    max_seconds: float | None = None


@dataclass
class Results:
    phases: dict[str, dict[str, RequestResult]] = field(default_factory=dict)  # "demo" / "scale"
    commands: dict[str, CommandResult] = field(default_factory=dict)
    setup_seconds: dict[str, float] = field(default_factory=dict)
    plans: dict[str, list[dict]] = field(default_factory=dict)
    jobs: dict = field(default_factory=dict)  # bench/jobs.py's figures (issue 14)
    write_load: dict = field(default_factory=dict)  # bench/write_load.py's figures (issue 17)
    billing_ms_per_client: tuple[float, float] | None = None  # (measured, target), issue 17


@dataclass
class Check:
    label: str
    value: str
    target: str
    passed: bool | None  # None: could not be measured


def targets(results: Results) -> list[Check]:
    checks = []
    demo, scale = results.phases.get("demo", {}), results.phases.get("scale", {})
    for request in REQUESTS if results.phases else ():  # none measured: --only-jobs
        small, large = demo.get(request.label), scale.get(request.label)
        if request.max_statements is not None:
            measured = small and large and small.statements and large.statements
            same = measured and set(small.statements) == set(large.statements)
            checks.append(Check(
                f"{request.label}: statements, demo / scale",
                f"{small.statements_text if small else '-'} / {large.statements_text if large else '-'}",
                f"same, <= {request.max_statements}",
                bool(same and max(large.statements) <= request.max_statements) if measured else None))
        if request.max_growth is not None:
            value = _ratio(large, small)
            checks.append(Check(f"{request.label}: median at scale / at demo size",
                                _fmt_ratio(value), f"<= {request.max_growth:g}x",
                                None if value is None else value <= request.max_growth))
        if request.max_vs is not None:
            other, factor = request.max_vs
            value = _ratio(large, scale.get(other))
            checks.append(Check(f"{request.label} / {other}: median at scale",
                                _fmt_ratio(value), f"<= {factor:g}x",
                                None if value is None else value <= factor))
    for command in results.commands.values():
        if command.max_seconds is not None:
            checks.append(Check(f"{command.label}: seconds", f"{command.seconds:.1f} s",
                                f"<= {command.max_seconds:g} s",
                                command.seconds <= command.max_seconds if command.exit_code == 0 else None))
    if results.billing_ms_per_client:
        measured, target = results.billing_ms_per_client
        checks.append(Check("billing run: per client", f"{measured:.2f} ms", f"<= {target:g} ms",
                            measured <= target))
    if results.jobs:
        checks += [Check(*check) for check in jobs_bench.targets(results.jobs)]
    if results.write_load:
        checks += [Check(*check) for check in write_load_bench.targets(results.write_load)]
    return checks


def _ratio(a: RequestResult | None, b: RequestResult | None) -> float | None:
    if not (a and b and a.ok and b.ok and b.median):
        return None
    return a.median / b.median


def _fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


# ---------------------------------------------------------------- database and app


def reset_database(url: str) -> None:
    """Drop everything in the target database (PostgreSQL: schema ``public``)."""
    from sqlalchemy import MetaData, create_engine, text

    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            else:
                metadata = MetaData()
                metadata.reflect(connection)
                metadata.drop_all(connection)
    finally:
        engine.dispose()


def build_app(url: str, **overrides):
    """The app on ``url``; ``overrides``: settings of one measurement (a queue of its own, a mail server…).

    Give it JOBS_SQLITE_PATH (or REDIS_URL): by default the queue is the
    instance folder's, which a ``make run`` worker on this checkout would drain.
    """
    from portal import create_app
    from portal.config import TestingConfig

    # Testing-like settings, as tests/conftest.py: fixed secret, no CSRF, cheap Argon2.
    settings = {key: getattr(TestingConfig, key) for key in dir(TestingConfig) if key.isupper()}
    # Plain log lines: the JSON access line of every measured request would drown the figures (rule 43).
    settings.update(SQLALCHEMY_DATABASE_URI=url, SERVER_NAME=None, LOG_FORMAT="text", **overrides)
    return create_app(settings)


class StatementCounter:
    """Counts every statement sent to the database (``before_cursor_execute``), excluding nothing."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.engine = engine
        self.statements: list[tuple[str, object]] = []
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, _conn, _cursor, statement, parameters, _context, _executemany):
        self.statements.append((statement, parameters))

    def reset(self) -> None:
        self.statements = []


def invoke(app, args: tuple[str, ...], label: str | None = None,
           max_seconds: float | None = None) -> CommandResult:
    today = dt.date.today().isoformat()
    args = tuple(a.replace("{today}", today) for a in args)
    runner = app.test_cli_runner()
    started = time.perf_counter()
    result = runner.invoke(args=list(args))
    seconds = time.perf_counter() - started
    output = result.output.strip()
    if result.exception and not isinstance(result.exception, SystemExit):
        output += f"\n{type(result.exception).__name__}: {result.exception}"
    return CommandResult(label or " ".join(args[:2]), args, seconds, result.exit_code, output, max_seconds)


# ---------------------------------------------------------------- measuring requests


class Clients:
    """One Flask test client per (login, auth), logged in once per phase."""

    def __init__(self, app):
        self.app = app
        self.cache: dict[tuple, tuple] = {}

    def get(self, request: Request):
        key = (request.login, request.auth)
        if key not in self.cache:
            self.cache[key] = self._make(request)
        return self.cache[key]

    def _make(self, request: Request):
        client = self.app.test_client()
        headers = {}
        if request.login is None:
            return client, headers
        if request.auth == "session":
            response = client.post("/login", data={"email": request.login, "password": PASSWORD})
            if response.status_code != 302:
                raise RuntimeError(f"login as {request.login}: HTTP {response.status_code}")
        elif request.auth == "token":
            result = invoke(self.app, ("api-token", "create", request.login))
            lines = [line for line in result.output.splitlines() if line.strip()]
            if result.exit_code != 0 or not lines:
                raise RuntimeError(f"api-token create {request.login}: {result.output}")
            headers["Authorization"] = f"Bearer {lines[-1].split()[-1]}"
        else:
            raise ValueError(f"unknown auth {request.auth!r}")
        return client, headers


def measure(app, counter: StatementCounter, requests: list[Request], count: int, warmup: int,
            log, sequential: bool = False) -> dict[str, RequestResult]:
    # In production the set-up (demo load, demo scale) runs in another process. Here it ran in
    # this one and left a heap of short-lived objects behind: collect them, and freeze what
    # survives, so the garbage collector's cost reflects a serving process, not the set-up.
    gc.collect()
    gc.freeze()
    clients = Clients(app)
    ids = demo_ids(app)
    results, ready = {}, []
    for request in requests:
        result = RequestResult(request.label, request.method, request.url.format(**ids), request.login)
        results[request.label] = result
        try:
            ready.append((request, result, *clients.get(request)))
        except Exception as error:  # noqa: BLE001 - reported, the other entries still run
            result.error = f"{type(error).__name__}: {error}"
            log(f"  {request.label}: {result.error.splitlines()[0]}")
    # Round robin, one request of each kind per round: this VM's speed drifts by
    # ±25 % over a minute, and the targets compare pages with each other ("≤ 3×
    # the login page"), so each page is measured over the same moments.
    # --sequential: all the rounds of one page, then the next (each page warm).
    batches = [[entry] for entry in ready] if sequential else [ready]
    for batch in batches:
        for n in range(warmup + count):
            for request, result, client, headers in batch:
                if result.error:
                    continue
                counter.reset()
                started = time.perf_counter()
                response = client.open(result.url, method=request.method, headers=headers)
                elapsed = time.perf_counter() - started
                response.close()
                result.status = response.status_code
                if response.status_code >= 400:
                    result.error = f"HTTP {response.status_code}"
                    continue
                if n >= warmup:
                    result.times_ms.append(elapsed * 1000)
                    result.statements.append(len(counter.statements))
                if n == warmup + count - 1:
                    result.sql = [" ".join(statement.split()) for statement, _ in counter.statements]
    for request, result, _client, _headers in ready:
        log(f"  {request.label:<20} {result.statements_text:>3} statements  "
            f"median {_ms(result.median)}  p95 {_ms(result.p95)}" + (f"  ({result.error})" if result.error else ""))
    return results


def capture_selects(app, counter: StatementCounter, request: Request) -> list[tuple[str, object]]:
    client, headers = Clients(app).get(request)
    counter.reset()
    client.open(request.url.format(**demo_ids(app)), method=request.method, headers=headers).close()
    return [(s, p) for s, p in counter.statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def explain(app, counter: StatementCounter) -> dict[str, list[dict]]:
    """Query plans (and, on PostgreSQL, EXPLAIN ANALYZE timings) of every SELECT of each request."""
    dialect = counter.engine.dialect.name
    plans: dict[str, list[dict]] = {}
    for request in REQUESTS:
        selects = capture_selects(app, counter, request)
        raw = counter.engine.raw_connection()
        try:
            cursor = raw.cursor()
            entries = []
            for statement, parameters in selects:
                if dialect == "postgresql":
                    prefix = "EXPLAIN (ANALYZE, BUFFERS) "
                elif dialect == "sqlite":
                    prefix = "EXPLAIN QUERY PLAN "
                else:
                    prefix = "EXPLAIN "
                started = time.perf_counter()
                cursor.execute(prefix + statement, parameters)
                rows = cursor.fetchall()
                elapsed = (time.perf_counter() - started) * 1000
                if dialect == "sqlite":
                    lines = [str(row[-1]) for row in rows]
                else:
                    lines = [str(row[0]) for row in rows]
                entries.append(dict(sql=" ".join(statement.split()), parameters=repr(parameters),
                                    explain_ms=round(elapsed, 2), plan=lines))
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
        plans[request.label] = entries
    return plans


def time_selects(app, counter: StatementCounter, rounds: int = 20) -> dict[str, list[tuple[float, str]]]:
    """Median time of each SELECT of each request, run alone (raw DBAPI), to show where time goes."""
    timings = {}
    for request in REQUESTS:
        selects = capture_selects(app, counter, request)
        raw = counter.engine.raw_connection()
        try:
            cursor = raw.cursor()
            rows = []
            for statement, parameters in selects:
                samples = []
                for _ in range(rounds):
                    started = time.perf_counter()
                    cursor.execute(statement, parameters)
                    cursor.fetchall()
                    samples.append((time.perf_counter() - started) * 1000)
                rows.append((statistics.median(samples), " ".join(statement.split())))
            cursor.close()
            raw.rollback()
        finally:
            raw.close()
        timings[request.label] = rows
    return timings


# ---------------------------------------------------------------- output


def _ms(value: float | None) -> str:
    return "      -" if value is None else f"{value:7.2f} ms"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def report(results: Results, checks: list[Check], meta: dict) -> str:
    out = [f"Partner Portal benchmark — {meta['dialect']} {meta['server_version']}, "
           f"{meta['requests']} requests after {meta['warmup']} warm-up each, Python {meta['python']}",
           f"database: {meta['database']}"
           + ("; ANALYZE run after demo scale" if meta["analyze"] else ""), ""]
    rows = []
    for phase, label in (("demo", "demo"), ("scale", f"{meta['clients']} clients")):
        for result in results.phases.get(phase, {}).values():
            rows.append([label, result.label, f"{result.method} {result.url}", result.login or "anonymous",
                         str(result.status or "-"), result.statements_text,
                         _ms(result.median).strip(), _ms(result.p95).strip(),
                         (result.error or "").splitlines()[0][:100] if result.error else ""])
    if rows:  # none with --only-jobs
        out.append(table(["size", "measurement", "request", "as", "status", "stmts", "median", "p95", "error"],
                         rows))
        out.append("")
    rows = [[name, f"{seconds:.2f} s"] for name, seconds in results.setup_seconds.items()]
    rows += [[c.label + ("" if c.exit_code == 0 else f" (exit {c.exit_code})"), f"{c.seconds:.2f} s"]
             for c in results.commands.values()]
    out.append(table(["step", "time"], rows))
    out.append("")
    if results.phases:
        out.append("stmts: every before_cursor_execute on db.engine during the request, nothing excluded"
                   + ("; SQLite: includes the app's explicit BEGIN." if meta["dialect"] == "sqlite" else
                      "; PostgreSQL: psycopg's BEGIN and the ROLLBACK that ends the request are "
                      "round trips too but no cursor execution, so they are not counted."))
        out.append("")
    out.append(table(["target", "measured", "target", "result"],
                     [[c.label, c.value, c.target, {True: "PASS", False: "MISS", None: "n/a"}[c.passed]]
                      for c in checks]))
    return "\n".join(out)


# ---------------------------------------------------------------- main


def pages_and_billing(app, engine, counter: StatementCounter, args, results: Results, log) -> list[str]:
    """The pages at demo size and at scale, the billing run, exports, margin report and PDFs; the report's
    extra lines."""
    from sqlalchemy import text

    log("demo size:")
    results.phases["demo"] = measure(app, counter, REQUESTS, args.requests, args.warmup, log, args.sequential)
    small_export = export_peak(app, 0, log)

    command = scale_command(args, engine.dialect.name)
    log(f"{' '.join(command.args)} ...")
    scaled = invoke(app, command.args, command.label, command.max_seconds)
    results.commands[command.label] = scaled
    log(f"  {scaled.output} ({scaled.seconds:.1f} s wall)")
    if scaled.exit_code != 0:
        raise RuntimeError(f"demo scale failed: {scaled.output}")

    if args.analyze:
        started = time.perf_counter()
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
        results.setup_seconds["ANALYZE after demo scale (--analyze)"] = time.perf_counter() - started

    log(f"{args.clients} clients:")
    results.phases["scale"] = measure(app, counter, REQUESTS, args.requests, args.warmup, log, args.sequential)

    extra = history_bench.lines(history_bench.size(app, log))
    if args.show_sql:
        for result in results.phases["scale"].values():
            extra.append(f"\nSQL of one '{result.label}' request at scale ({len(result.sql)} statements):")
            extra += [f"  {n}. {sql}" for n, sql in enumerate(result.sql, 1)]
    if args.explain:
        results.plans = explain(app, counter)
        alone = time_selects(app, counter)
        for label, entries in results.plans.items():
            extra.append(f"\nPlans of the SELECTs of '{label}' at scale:")
            for entry, (median, _) in zip(entries, alone[label]):
                entry["alone_median_ms"] = round(median, 3)
                extra.append(f"  [{median:.2f} ms alone] {entry['sql']}")
                extra += [f"      {line}" for line in entry["plan"]]

    priced = billing_bench.set_prices(app)
    log(f"price book: {priced['price_book_entries']} entries, {priced['client_prices']} clients with their own "
        "price")
    for command in COMMANDS_AT_SCALE:
        log(f"{' '.join(command.args)} ...")
        results.commands[command.label] = invoke(app, command.args, command.label, command.max_seconds)
    run = results.commands["billing run"]
    if run.exit_code == 0:
        results.billing_ms_per_client = (1000 * run.seconds / args.clients,
                                         BILLING_MS_PER_CLIENT.get(engine.dialect.name, 2.0))
    extra.append(f"\nbilling run at scale, with price book, client prices and tax: {run.seconds:.2f} s, "
                 f"{1000 * run.seconds / args.clients:.2f} ms per client")

    log("invoice export (streamed):")
    exports = [small_export, export_peak(app, 0, log), export_peak(app, 9, log)]
    extra.append("\ninvoice export, streamed (peak Python memory while reading the whole response):")
    extra += [f"  {e['lines']:>7} lines  peak {e['peak_mb']:>6.1f} MB  {e['seconds']:.2f} s" for e in exports]
    log("margin report over 12 months (after 10 months of invoices):")
    report_figures = billing_bench.margin_report(app, counter, log)
    extra.append(f"\nmargin report over 12 months, {report_figures['documents']} documents:")
    extra += [f"  {label:<6} HTTP {f['status']}  {'/'.join(map(str, f['statements']))} statements  "
              f"median {f['median_ms']:.1f} ms" for label, f in report_figures.items() if label != "documents"]
    log("PDF rendering:")
    pdf = billing_bench.pdf_rendering(app, log)
    extra.append(f"\nPDF invoice ({pdf['lines']} lines, {pdf['bytes']} bytes): median {pdf['median_ms']:.0f} ms, "
                 f"max {pdf['max_ms']:.0f} ms")
    if not args.database_url:
        log("billing run linearity:")
        rows = billing_linearity(log)
        extra.append("\nbilling run, first invoices, fresh SQLite databases (target: linear in clients):")
        extra += [f"  {r['clients']:>5} clients  {r['seconds']:.2f} s  {r['ms_per_client']:.2f} ms per client"
                  for r in rows]
    return extra


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="SQLAlchemy URL of a THROW-AWAY database: everything in it is dropped "
                             "(env BENCH_DATABASE_URL; default: new SQLite file in a temp dir)")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per measurement")
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests before them")
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--sites-per-client", type=int, default=5)
    parser.add_argument("--users-per-site", type=int, default=20)
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--show-sql", action="store_true", help="print the statements of each request at scale")
    parser.add_argument("--explain", action="store_true",
                        help="at scale, print the plan of each SELECT (SQLite: EXPLAIN QUERY PLAN; "
                             "PostgreSQL: EXPLAIN ANALYZE) and its time when run alone")
    parser.add_argument("--analyze", action="store_true",
                        help="run ANALYZE after demo scale (fresh planner statistics, as autovacuum would "
                             "give a long-lived PostgreSQL database); off by default")
    parser.add_argument("--keep-db", action="store_true", help="keep the temporary SQLite file")
    parser.add_argument("--sequential", action="store_true",
                        help="measure all the requests of one page, then the next (default: round robin)")
    jobs = parser.add_argument_group("task queue (bench/jobs.py, issue 14)")
    skip = jobs.add_mutually_exclusive_group()
    skip.add_argument("--skip-jobs", action="store_true", help="leave out the task-queue section")
    skip.add_argument("--only-jobs", action="store_true",
                      help="only the task-queue section, at demo size (no pages, demo scale or billing)")
    jobs.add_argument("--jobs-requests", type=int, default=200,
                      help="timed user creations per mail setup (after --jobs-warmup)")
    jobs.add_argument("--jobs-warmup", type=int, default=20)
    jobs.add_argument("--webhook-events", type=int, default=500, help="events drained by one worker per queue")
    jobs.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
                      help="Redis of the second webhook measurement (env BENCH_REDIS_URL); only a queue "
                           "named portal-bench-* is written; skipped when it does not answer")
    write_load_bench.add_section_arguments(parser)
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    # The SQLite database (without --database-url) and the task queues' files.
    tmpdir = tempfile.mkdtemp(prefix="portal-bench-")
    url = args.database_url or "sqlite:///" + os.path.join(tmpdir, "portal.sqlite")
    results = Results()
    try:
        from flask_migrate import upgrade
        from sqlalchemy import text

        from portal.extensions import db

        started = time.perf_counter()
        reset_database(url)
        app = build_app(url, JOBS_SQLITE_PATH=os.path.join(tmpdir, "jobs.sqlite"))
        with app.app_context():
            upgrade()
            engine = db.engine
            dialect = engine.dialect.name
            with engine.connect() as connection:
                version = (connection.execute(text("select sqlite_version()")).scalar() if dialect == "sqlite"
                           else connection.execute(text("show server_version")).scalar()
                           if dialect == "postgresql" else "")
        results.setup_seconds["reset + db upgrade"] = time.perf_counter() - started
        log(f"database ready: {dialect} {version}")
        counter = StatementCounter(engine)

        load = invoke(app, ("demo", "load"))
        if load.exit_code != 0:
            raise RuntimeError(f"demo load failed: {load.output}")
        results.setup_seconds["demo load"] = load.seconds

        only_one = args.only_jobs or args.only_write_load
        extra = [] if only_one else pages_and_billing(app, engine, counter, args, results, log)
        if not (args.skip_jobs or args.only_write_load):
            results.jobs = jobs_bench.run(lambda **settings: build_app(url, **settings), tmpdir,
                                          count=args.jobs_requests, warmup=args.jobs_warmup,
                                          events=args.webhook_events, redis_url=args.redis_url, log=log)
            extra += jobs_bench.lines(results.jobs)
        if not (args.skip_write_load or args.only_jobs):
            results.write_load = write_load_bench.section(args, args.database_url, log)
            extra += write_load_bench.lines(results.write_load)

        meta = dict(dialect=dialect, server_version=version, database=engine.url.render_as_string(hide_password=True),
                    requests=args.requests, warmup=args.warmup, clients=args.clients,
                    sites_per_client=args.sites_per_client, users_per_site=args.users_per_site,
                    analyze=args.analyze, sequential=args.sequential,
                    python=platform.python_version(), machine=platform.machine(), cpus=os.cpu_count(),
                    date=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"))
        checks = targets(results)
        print(report(results, checks, meta))
        for line in extra:
            print(line)
        if args.json:
            payload = dict(
                meta=meta,
                phases={phase: [r.summary() for r in entries.values()] for phase, entries in results.phases.items()},
                setup_seconds=results.setup_seconds,
                commands=[asdict(c) for c in results.commands.values()],
                targets=[asdict(c) for c in checks],
                plans=results.plans,
                jobs=results.jobs,
            )
            Path(args.json).write_text(json.dumps(payload, indent=2, default=str) + "\n")
            log(f"wrote {args.json}")
        with app.app_context():
            db.engine.dispose()
        return 0
    finally:
        if not args.keep_db:
            shutil.rmtree(tmpdir, ignore_errors=True)
        else:
            log(f"kept {tmpdir}")


if __name__ == "__main__":
    sys.exit(main())
