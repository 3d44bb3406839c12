"""Requests per second of a logged-in page through one app server, then through two (docs/rules.md rule 44).

    .venv/bin/python bench/two_servers.py                   # new SQLite file in a temp dir
    .venv/bin/python bench/two_servers.py --database-url postgresql+psycopg://portal@127.0.0.1:55432/portal_bench \\
        --redis-url redis://127.0.0.1:6390/5

The topology of docs/deploy.md on one machine: a fresh database (``flask db
upgrade``, ``demo load`` with cheap password hashing, as the e2e tests do),
two gunicorn servers (``--workers 2 --threads 4`` each) with one SECRET_KEY
and one ``PORTAL_REDIS_URL`` (rate limits and task queue), and two ``flask
jobs run`` workers on that queue. ``--threads`` client threads, each with its
own login session of finance@northwind.example (opened on server A: it works
on both), GET ``--path`` (``/overview``) over kept-alive connections for
``--seconds`` each: every request to server A, or round robin across A and B
as a balancer would, ``--rounds`` times each (alternating which goes first).
Prints requests per second, p50 / p99 latency and the answers that were not
200, then the median rate of each. Not a test: it never fails on a figure.

The clients run on the same machine as the servers, the database and Redis:
on a small machine they all share the same CPUs (the table says how many).

``--database-url`` must name a THROW-AWAY database: on PostgreSQL its
``public`` schema is dropped and recreated. Redis: only keys containing this
run's own name (``portal-bench-…``) are written, and they are deleted at the end.
"""
from __future__ import annotations

import argparse
import http.client
import http.cookiejar
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jobs import redis_answers  # noqa: E402 - bench/jobs.py, beside this script
from run import reset_database  # noqa: E402 - bench/run.py, beside this script

FINANCE = "finance@northwind.example"
PASSWORD = "demo-password"  # docs/rules.md section 7
START_TIMEOUT = 60  # seconds for a server to answer


# ---------------------------------------------------------------- the topology


def _flask_command() -> list[str]:
    flask = ROOT / ".venv" / "bin" / "flask"
    return [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]


def _gunicorn_command() -> list[str]:
    gunicorn = ROOT / ".venv" / "bin" / "gunicorn"
    command = [str(gunicorn)] if gunicorn.exists() else [sys.executable, "-m", "gunicorn"]
    try:  # gunicorn >= 25 opens a control socket at one fixed path per user: two servers would clash
        from gunicorn.config import KNOWN_SETTINGS

        if "control_socket_disable" in {setting.name for setting in KNOWN_SETTINGS}:
            command.append("--no-control-socket")
    except ImportError:  # pragma: no cover
        pass
    return command


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Topology:
    """Two gunicorn servers and two workers on one database and one Redis; ``stop()`` ends them all."""

    def __init__(self, database_url: str, redis_url: str, scratch: Path, workers: int, threads: int, log):
        self.name = f"portal-bench-{uuid.uuid4().hex[:8]}"
        self.redis_url, self.scratch, self.log = redis_url, scratch, log
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith(("PORTAL_", "FLASK_")) and key not in ("DATABASE_URL", "SECRET_KEY")}
        self.env.update(DATABASE_URL=database_url, SECRET_KEY=secrets.token_hex(32), PYTHONUNBUFFERED="1",
                        PORTAL_TRUSTED_HOSTS='["127.0.0.1", "localhost"]', PORTAL_SESSION_COOKIE_SECURE="false",
                        PORTAL_REDIS_URL=redis_url, PORTAL_JOBS_QUEUE_NAME=self.name,
                        PORTAL_RATELIMIT_KEY_PREFIX=self.name)
        self.processes: list[subprocess.Popen] = []
        self.urls: list[str] = []
        self.workers, self.threads = workers, threads

    def prepare(self) -> None:
        cheap = {"PORTAL_PASSWORD_HASH_TIME_COST": "1", "PORTAL_PASSWORD_HASH_MEMORY_COST": "8192"}
        for args, extra in ((["db", "upgrade"], {}), (["demo", "load"], cheap)):
            started = time.perf_counter()
            result = subprocess.run([*_flask_command(), "--app", "wsgi", *args], cwd=ROOT,
                                    env={**self.env, **extra}, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"flask {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
            self.log(f"flask {' '.join(args)}: {time.perf_counter() - started:.1f} s")

    def start(self) -> None:
        for label in ("a", "b"):
            port = _free_port()
            with (self.scratch / f"gunicorn-{label}.log").open("wb") as out:
                self.processes.append(subprocess.Popen(
                    [*_gunicorn_command(), "--workers", str(self.workers), "--threads", str(self.threads),
                     "--bind", f"127.0.0.1:{port}", "wsgi:app"],
                    cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT))
            self.urls.append(f"http://127.0.0.1:{port}")
        for n in (1, 2):
            with (self.scratch / f"worker-{n}.log").open("wb") as out:
                self.processes.append(subprocess.Popen(
                    [*_flask_command(), "--app", "wsgi", "jobs", "run", "--workers", "2"],
                    cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT))
        for url in self.urls:
            self._wait_until_ready(url)
        self.log(f"servers ready: {', '.join(self.urls)}")

    def _wait_until_ready(self, url: str) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                raise RuntimeError(f"a server or worker exited; logs in {self.scratch}")
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{url} not ready within {START_TIMEOUT} s; logs in {self.scratch}")

    def stop(self) -> None:
        stopping = [threading.Thread(target=_stop, args=(process,)) for process in self.processes]
        for thread in stopping:
            thread.start()
        for thread in stopping:
            thread.join()
        forget_redis_keys(self.redis_url, self.name)


def forget_redis_keys(redis_url: str, name: str) -> None:
    """Delete a run's Redis keys: its queue and its rate-limit counts (every key containing its name)."""
    import redis

    connection = redis.Redis.from_url(redis_url)
    try:
        keys = list(connection.scan_iter(match=f"*{name}*", count=1000))
        if keys:
            connection.delete(*keys)
    finally:
        connection.close()


# ---------------------------------------------------------------- the clients


def login_cookie(url: str) -> str:
    """A new login session of FINANCE through the real form (CSRF token included): its Cookie header."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(url + "/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"csrf_token": token, "email": FINANCE, "password": PASSWORD}).encode()
    with opener.open(urllib.request.Request(url + "/login", data=body), timeout=30) as response:
        if "/login" in response.url:
            raise RuntimeError(f"login of {FINANCE} failed")
    return "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)


class Client:
    """One client thread's connections (one kept-alive connection per server) and its session cookie."""

    def __init__(self, cookie: str):
        self.cookie = cookie
        self.connections: dict[str, http.client.HTTPConnection] = {}

    def get(self, url: str, path: str) -> int:
        connection = self.connections.get(url)
        if connection is None:
            host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
            connection = self.connections[url] = http.client.HTTPConnection(host, port, timeout=60)
        try:
            connection.request("GET", path, headers={"Cookie": self.cookie})
            response = connection.getresponse()
            response.read()
            return response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            del self.connections[url]
            return 0

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()


def load(clients: list[Client], urls: list[str], path: str, seconds: float) -> dict:
    """Every client thread requests ``path`` in a loop for ``seconds``, going round its ``urls`` in turn."""
    latencies: list[list[float]] = [[] for _ in clients]
    failures: list[dict[int, int]] = [{} for _ in clients]
    barrier = threading.Barrier(len(clients) + 1)
    stop_at = [0.0]

    def run(n: int) -> None:
        client, turn = clients[n], n  # the threads start on different servers
        barrier.wait()
        while True:
            started = time.perf_counter()
            if started >= stop_at[0]:
                return
            status = client.get(urls[turn % len(urls)], path)
            turn += 1
            if status == 200:
                latencies[n].append(time.perf_counter() - started)
            else:
                failures[n][status] = failures[n].get(status, 0) + 1

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    done = sorted(latency for per_thread in latencies for latency in per_thread)
    errors: dict[int, int] = {}
    for per_thread in failures:
        for status, count in per_thread.items():
            errors[status] = errors.get(status, 0) + count
    return {"requests": len(done), "per_second": len(done) / elapsed,
            "p50_ms": statistics.median(done) * 1000 if done else None,
            "p99_ms": done[min(len(done) - 1, int(len(done) * 0.99))] * 1000 if done else None,
            "errors": errors}


# ---------------------------------------------------------------- main


def database_version(url: str) -> str:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                return "SQLite " + connection.execute(text("select sqlite_version()")).scalar()
            if engine.dialect.name == "postgresql":
                return "PostgreSQL " + connection.execute(text("show server_version")).scalar()
            return engine.dialect.name
    finally:
        engine.dispose()


def table(rows: list[list[str]]) -> str:
    headers = ["through", "gunicorn workers", "requests/s", "p50 ms", "p99 ms", "not 200"]
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL"),
                        help="SQLAlchemy URL of a THROW-AWAY database (env BENCH_DATABASE_URL; default: a new "
                             "SQLite file in a temp dir)")
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
                        help="Redis shared by the servers and workers (env BENCH_REDIS_URL)")
    parser.add_argument("--threads", type=int, default=16, help="client threads")
    parser.add_argument("--seconds", type=float, default=10, help="length of each measurement")
    parser.add_argument("--warmup", type=float, default=2, help="untimed seconds before each measurement")
    parser.add_argument("--rounds", type=int, default=2,
                        help="measurements of each setup, alternating which goes first (default 2)")
    parser.add_argument("--path", default="/overview", help="the page requested")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server")
    parser.add_argument("--server-threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (SQLite file, server logs)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    if not redis_answers(args.redis_url):
        log(f"no Redis answers at {args.redis_url} (--redis-url): the two servers need one to share")
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="portal-bench-two-"))
    url = args.database_url or "sqlite:///" + str(scratch / "portal.sqlite")
    reset_database(url)
    topology = Topology(url, args.redis_url, scratch, args.workers, args.server_threads, log)
    clients: list[Client] = []
    try:
        topology.prepare()
        topology.start()
        a, b = topology.urls
        clients = [Client(login_cookie(a)) for _ in range(args.threads)]
        rows, rates, load_before = [], {1: [], 2: []}, os.getloadavg()[0]
        setups = [("server A", [a]), ("servers A + B", [a, b])]
        for round_ in range(args.rounds):
            # A, A+B, then A+B, A…: a machine whose speed drifts favours neither.
            for label, urls in setups if round_ % 2 == 0 else setups[::-1]:
                load(clients, urls, args.path, args.warmup)
                result = load(clients, urls, args.path, args.seconds)
                rates[len(urls)].append(result["per_second"])
                log(f"round {round_ + 1}, {label}: {result['requests']} requests, {result['per_second']:.1f}/s")
                rows.append([f"{label} (round {round_ + 1})", str(args.workers * len(urls)),
                             f"{result['per_second']:.1f}",
                             f"{result['p50_ms']:.1f}" if result["p50_ms"] is not None else "-",
                             f"{result['p99_ms']:.1f}" if result["p99_ms"] is not None else "-",
                             ", ".join(f"{status or 'no answer'}: {count}"
                                       for status, count in sorted(result["errors"].items())) or "0"])
        print(f"\nGET {args.path} as {FINANCE}, {args.threads} client threads, {args.seconds:g} s each; "
              f"{database_version(url)}, Redis {args.redis_url}; gunicorn --workers {args.workers} "
              f"--threads {args.server_threads} per server; this machine: {os.cpu_count()} CPUs, shared by the "
              f"clients, the servers, the database and Redis (load average {load_before:.1f} before, "
              f"{os.getloadavg()[0]:.1f} after).\n")
        print(table(rows))
        one, two = statistics.median(rates[1]), statistics.median(rates[2])
        print(f"\nmedian requests/s: one server {one:.1f}, two servers {two:.1f} ({two / one:.2f}x)")
        return 0
    finally:
        for client in clients:
            client.close()
        topology.stop()
        if args.keep:
            log(f"kept: {scratch}")
        else:
            import shutil

            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
