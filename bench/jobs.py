"""Task-queue figures for bench/run.py (issue 14, docs/rules.md rules 30-33).

1. Creating a user with an invitation (``POST /api/v1/sites/{id}/users`` as a
   client admin, Flask test client): p50 / p99 with no mail server (mail to the
   log) and with PORTAL_MAIL_SERVER on a loopback server that accepts and never
   answers. Both run at once, one request of each per round, each app with its
   own queue and a real worker (``jobs run``) draining it, so the hanging setup's
   worker really is stuck on SMTP while its requests are timed.
2. Webhook throughput of one worker (one ``flask jobs run --workers 1`` process):
   N real changes (renaming a client) produce N ``client.updated`` events for an
   endpoint on a loopback receiver; the worker starts on that backlog and the
   receiver timestamps each delivery. Once on the embedded queue (Huey on
   SQLite), once on Redis when one answers.

Each function prints what it measured through ``log`` and returns figures;
``targets`` turns them into the report's checks. Nothing here is a test.
"""
from __future__ import annotations

import gc
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADMIN = "admin@acme.example"  # client admin of Acme Dental (demo data)
PARTNER_ADMIN = "admin@northwind.example"  # Acme's partner: integrations.manage
FINANCE = "finance@northwind.example"  # subscriptions.manage: buys the seats
SITE, SEAT_TYPE = "Lyon", "essentials"
WORKER_STOP_SECONDS = 15
MAX_P50_RATIO, MAX_P99_RATIO = 1.2, 2.0


# ---------------------------------------------------------------- loopback servers


class HangingSmtp:
    """A TCP server on loopback that accepts connections and never says a word (an SMTP server that hangs).

    Accepted sockets are kept open, so the client waits for the greeting until its own timeout.
    """

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:  # closed by stop()
                return
            self.held.append(connection)

    def stop(self) -> None:
        self.listener.close()
        for connection in self.held:
            connection.close()


class Receiver:
    """A webhook receiver on loopback answering 200 at once; keeps (monotonic time, Portal-Event-Id) per POST."""

    def __init__(self):
        self.received: list[tuple[float, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((time.monotonic(), self.headers.get("Portal-Event-Id", "")))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/bench"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# ---------------------------------------------------------------- queues and workers


def sqlite_queue(scratch: str, name: str) -> dict:
    """App settings of a fresh embedded queue (its own file: nothing left from another setup)."""
    return {"JOBS_SQLITE_PATH": os.path.join(scratch, f"jobs-{name}.sqlite")}


def redis_queue(url: str) -> dict:
    """App settings of a Redis queue under a name of its own (flushing it touches no other queue)."""
    return {"REDIS_URL": url, "JOBS_QUEUE_NAME": f"portal-bench-{uuid.uuid4().hex[:8]}"}


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def start_worker(app, settings: dict, threads: int, log_path: str) -> subprocess.Popen:
    """A real ``flask --app wsgi jobs run`` process on the same database and queue as ``app``.

    ``settings`` (the queue's and the mail server's) are passed as PORTAL_*; anything PORTAL_ or
    FLASK_ in our own environment is left out, so the worker sees only this setup. The secret key is
    the bench app's: the worker must read the webhook secrets it sealed.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PORTAL_", "FLASK_"))}
    env.update({f"PORTAL_{key}": str(value) for key, value in settings.items()})
    env.update(DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"], SECRET_KEY=app.config["SECRET_KEY"],
               PORTAL_WEBHOOK_ALLOW_PRIVATE="true", PYTHONUNBUFFERED="1")
    # ``python -m`` puts the checkout first on sys.path: the worker runs this tree's ``portal``.
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "jobs", "run", "--workers", str(threads)]
    with open(log_path, "ab") as out:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)


def stop_worker(worker: subprocess.Popen) -> None:
    """SIGTERM (Huey's immediate shutdown), then kill if a thread stuck on SMTP holds it up."""
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=WORKER_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _dispose(app) -> None:
    from portal.extensions import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()


# ---------------------------------------------------------------- 1. user creation with an invitation


def _user(email: str):
    from sqlalchemy import select

    from portal.extensions import db
    from portal.models import User

    return db.session.scalar(select(User).where(User.email == email))


def prepare_seats(app, needed: int) -> int:
    """Buy ``needed`` more seats at Acme's Lyon site (finance, the domain's one purchase path); the site's id."""
    from sqlalchemy import select

    from portal.domain.seats import allocations, counters
    from portal.domain.seats.queries import subscription_type_by_code
    from portal.extensions import db
    from portal.models import Site

    with app.app_context():
        admin = _user(ADMIN)
        site = db.session.scalar(select(Site).where(Site.client_id == admin.organisation_id, Site.name == SITE))
        seat_type = subscription_type_by_code(SEAT_TYPE)
        before = counters.allocation_row(site.id, seat_type.id).allocated
        allocations.set_allocation(_user(FINANCE), site, seat_type, before + needed)
        site_id = site.id
        db.session.remove()
    return site_id


def api_token(app, email: str) -> str:
    result = app.test_cli_runner().invoke(args=["api-token", "create", email])
    if result.exit_code != 0:
        raise RuntimeError(f"api-token create {email}: {result.output}")
    return result.output.split()[-1]


def _percentile(times: list[float], n: int) -> float:
    return statistics.quantiles(times, n=100, method="inclusive")[n - 1]


def time_creations(apps: dict, url: str, headers: dict, count: int, warmup: int) -> dict[str, list[float]]:
    """Milliseconds of each timed creation per setup: one request of each setup per round."""
    clients = {label: app.test_client() for label, app in apps.items()}
    times: dict[str, list[float]] = {label: [] for label in apps}
    numbers = itertools.count()
    gc.collect()
    for n in range(warmup + count):
        for label, client in clients.items():
            body = {"email": f"bench-{next(numbers)}@acme.example", "name": "Bench User",
                    "subscription_type": SEAT_TYPE}
            started = time.perf_counter()
            response = client.post(url, json=body, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code != 201:
                raise RuntimeError(f"create user ({label}): HTTP {response.status_code} {response.get_data()[:300]}")
            if n >= warmup:
                times[label].append(elapsed * 1000)
    return times


def user_creation(make_app, scratch: str, count: int, warmup: int, log=print) -> dict:
    """p50 / p99 of creating an invited user through the API, without and with a hanging SMTP server.

    The two setups run at once, round robin (this VM's speed drifts, and other
    work may share it): each has its own app (its queue, its mail setting) and
    its own worker of two threads, as ``make run`` starts. With the hanging
    server, that worker is stuck in SMTP (PORTAL_MAIL_TIMEOUT, 10 s per try)
    the whole time; the request must not notice.
    """
    smtp = HangingSmtp()
    hanging = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port}
    setups = {"no mail server": sqlite_queue(scratch, "log"),
              "SMTP hangs": {**sqlite_queue(scratch, "smtp"), **hanging}}
    apps = {label: make_app(**settings) for label, settings in setups.items()}
    first = next(iter(apps.values()))
    site_id = prepare_seats(first, len(setups) * (count + warmup))
    headers = {"Authorization": f"Bearer {api_token(first, ADMIN)}"}
    logs = {label: os.path.join(scratch, f"worker-{n}.log") for n, label in enumerate(setups)}
    workers = {label: start_worker(apps[label], setups[label], 2, logs[label]) for label in setups}
    try:
        times = time_creations(apps, f"/api/v1/sites/{site_id}/users", headers, count, warmup)
        for label, worker in workers.items():
            if worker.poll() is not None:
                raise RuntimeError(f"the worker of '{label}' exited ({worker.returncode}):\n{_tail(logs[label])}")
        held = len(smtp.held)
    finally:
        smtp.stop()  # first: its closed connections free the stuck worker, which then stops at once
        for worker in workers.values():
            stop_worker(worker)
        for app in apps.values():
            _dispose(app)
    figures = {label: {"p50_ms": round(statistics.median(t), 2), "p99_ms": round(_percentile(t, 99), 2),
                       "max_ms": round(max(t), 2), "requests": len(t)} for label, t in times.items()}
    base, hang = figures["no mail server"], figures["SMTP hangs"]
    figures["ratio_p50"] = round(hang["p50_ms"] / base["p50_ms"], 3)
    figures["ratio_p99"] = round(hang["p99_ms"] / base["p99_ms"], 3)
    figures["smtp_connections_held"] = held
    for label in setups:
        f = figures[label]
        log(f"  create user + invitation, {label:<14} p50 {f['p50_ms']:7.2f} ms  p99 {f['p99_ms']:7.2f} ms  "
            f"max {f['max_ms']:7.2f} ms over {f['requests']}")
    log(f"  SMTP hangs / no mail server: p50 {figures['ratio_p50']:.2f}x  p99 {figures['ratio_p99']:.2f}x  "
        f"(hanging server held {held} connections of the worker meanwhile)")
    return figures


# ---------------------------------------------------------------- 2. webhook throughput of one worker


def register_endpoint(app, url: str) -> tuple[int, int]:
    """Northwind's endpoint for ``client.updated`` on ``url``, and a client of its own to rename; their ids."""
    from portal.domain.orgs import clients
    from portal.domain.webhooks import endpoints

    with app.app_context():
        admin = _user(PARTNER_ADMIN)
        endpoint = endpoints.create(admin, admin.organisation, url, ["client.updated"], "bench receiver")
        client = clients.create_client(admin, admin.organisation, "Bench webhooks", "monthly")
        ids = endpoint.endpoint.id, client.id
    _dispose(app)
    return ids


def make_events(app, client_id: int, count: int, batch: str) -> set[str]:
    """Rename the client ``count`` times (each a committed change: an audit event and its outbox event).

    Returns the new events' ids, as the receiver sees them (``Portal-Event-Id``).
    """
    from sqlalchemy import select

    from portal.domain.orgs import clients
    from portal.extensions import db
    from portal.models import Organisation, OutboxEvent

    with app.app_context():
        admin = _user(PARTNER_ADMIN)
        last = db.session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
        for n in range(count):
            clients.rename_client(admin, db.session.get(Organisation, client_id), f"Bench webhooks {batch} {n}")
        ids = db.session.scalars(select(OutboxEvent.id).where(OutboxEvent.id > last,
                                                              OutboxEvent.type == "client.updated")).all()
        db.session.remove()
    return {str(event_id) for event_id in ids}


def _succeeded(app, endpoint_id: int, event_ids: set[str]) -> int:
    from sqlalchemy import func, select

    from portal.extensions import db
    from portal.models import WebhookDelivery

    with app.app_context():
        done = db.session.scalar(select(func.count(WebhookDelivery.id)).where(
            WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "succeeded",
            WebhookDelivery.event_id.in_([int(i) for i in event_ids])))
        db.session.remove()
    return done


def drain(app, settings: dict, receiver: Receiver, endpoint_id: int, event_ids: set[str], log_path: str,
          timeout: float) -> dict:
    """Start one worker (one thread) on the backlog; wait until every delivery succeeded; the figures.

    The rate is the receiver's: deliveries between its first and last POST, so
    the worker's start-up (Python, the app) is left out; ``wall_s`` includes it.
    """
    start = len(receiver.received)
    started = time.monotonic()
    worker = start_worker(app, settings, 1, log_path)
    try:
        deadline = started + timeout
        # The receiver counts first (no database reads while the worker works), the delivery log then confirms.
        while (len(receiver.received) - start < len(event_ids)
               or _succeeded(app, endpoint_id, event_ids) < len(event_ids)):
            if worker.poll() is not None:
                raise RuntimeError(f"the worker exited ({worker.returncode}):\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        wall = time.monotonic() - started
    finally:
        stop_worker(worker)
    got = receiver.received[start:]
    ids = [event_id for _, event_id in got]
    span = got[-1][0] - got[0][0] if len(got) > 1 else 0.0
    succeeded = _succeeded(app, endpoint_id, event_ids)
    return {"events": len(event_ids), "received": len(got), "distinct": len(set(ids)), "succeeded": succeeded,
            "each_once": sorted(ids) == sorted(event_ids) and succeeded == len(event_ids),
            "per_second": round((len(got) - 1) / span, 1) if span else None, "wall_s": round(wall, 2)}


def webhook_throughput(make_app, scratch: str, events: int, redis_url: str | None, log=print,
                       timeout: float = 120.0) -> dict:
    """Deliveries per second of one worker on the SQLite queue and on Redis (``skipped`` without Redis)."""
    receiver = Receiver()
    figures: dict[str, dict] = {}
    try:
        # Its own queue, never drained: the relay of these two changes waits for the first worker below.
        setup = make_app(WEBHOOK_ALLOW_PRIVATE=True, **sqlite_queue(scratch, "setup"))
        endpoint_id, client_id = register_endpoint(setup, receiver.url)
        setups = {"SQLite queue": sqlite_queue(scratch, "webhooks")}
        if redis_url and redis_answers(redis_url):
            setups["Redis queue"] = redis_queue(redis_url)
        else:
            figures["Redis queue"] = {"skipped": "no Redis" + (f" at {redis_url}" if redis_url else "")}
            log("  webhooks, Redis queue: skipped: no Redis")
        for n, (label, settings) in enumerate(setups.items()):
            app = make_app(WEBHOOK_ALLOW_PRIVATE=True, **settings)
            huey = _flushed_queue(app)
            try:
                event_ids = make_events(app, client_id, events, str(n))
                figures[label] = result = drain(app, settings, receiver, endpoint_id, event_ids,
                                                os.path.join(scratch, f"webhook-worker-{n}.log"), timeout)
            finally:
                huey.flush()
                _dispose(app)
            log(f"  webhooks, {label:<12}: {result['received']}/{result['events']} received "
                f"({result['distinct']} distinct), {result['succeeded']} succeeded in the log, "
                f"{_rate(result)} per second, {result['wall_s']:.1f} s from the worker's start")
    finally:
        receiver.stop()
    return figures


def _flushed_queue(app):
    """The app's queue, emptied first (a Redis queue of an earlier run; a SQLite file is new anyway)."""
    from portal.jobs import jobs_of

    huey = jobs_of(app).huey
    huey.flush()
    return huey


def _rate(result: dict) -> str:
    return "-" if result.get("per_second") is None else f"{result['per_second']:.1f}"


# ---------------------------------------------------------------- the section and its checks


def run(make_app, scratch: str, *, count: int, warmup: int, events: int, redis_url: str | None, log=print) -> dict:
    log(f"task queue: create user + invitation, {count} after {warmup} warm-up per setup ...")
    users = user_creation(make_app, scratch, count, warmup, log)
    log(f"task queue: webhook throughput of one worker, {events} events ...")
    webhooks = webhook_throughput(make_app, scratch, events, redis_url, log)
    return {"user_creation": users, "webhooks": webhooks}


def lines(figures: dict) -> list[str]:
    """The section's lines of the printed report."""
    users, webhooks = figures["user_creation"], figures["webhooks"]
    out = [("\ntask queue — create a user with an invitation (POST /api/v1/sites/{id}/users as a client admin, "
            "a worker of 2 threads beside each setup):")]
    for label in ("no mail server", "SMTP hangs"):
        f = users[label]
        out.append(f"  {label:<15} p50 {f['p50_ms']:7.2f} ms  p99 {f['p99_ms']:7.2f} ms  max {f['max_ms']:7.2f} ms  "
                   f"({f['requests']} requests)")
    out.append(f"  SMTP hangs / no mail server: p50 {users['ratio_p50']:.2f}x, p99 {users['ratio_p99']:.2f}x; "
               f"the hanging server held {users['smtp_connections_held']} worker connections meanwhile")
    out.append("\ntask queue — webhook deliveries of one worker (`jobs run --workers 1`, a backlog of renames, "
               "receiver on loopback):")
    for label, result in webhooks.items():
        if "skipped" in result:
            out.append(f"  {label:<13} skipped: {result['skipped']}")
        else:
            out.append(f"  {label:<13} {_rate(result):>7} deliveries/s (receiver, first to last)  "
                       f"{result['received']}/{result['events']} received, each once: "
                       f"{'yes' if result['each_once'] else 'NO'}; {result['wall_s']:.1f} s from the worker's start")
    return out


def targets(figures: dict) -> list[tuple[str, str, str, bool | None]]:
    """(label, measured, target, passed) for run.py's table; passed None: not measured."""
    users, checks = figures.get("user_creation") or {}, []
    for key, limit in (("ratio_p50", MAX_P50_RATIO), ("ratio_p99", MAX_P99_RATIO)):
        value = users.get(key)
        checks.append((f"create user + invitation while SMTP hangs: {key[6:]} / no mail server",
                       "-" if value is None else f"{value:.2f}x", f"<= {limit:g}x",
                       None if value is None else value <= limit))
    for label, result in (figures.get("webhooks") or {}).items():
        measured = "skipped" not in result
        checks.append((f"webhooks, one worker, {label}: each event delivered once",
                       f"{result['received']}/{result['events']} at {_rate(result)}/s" if measured
                       else result["skipped"], "each once", result["each_once"] if measured else None))
    return checks
