"""Long commands show a progress bar on a terminal and one summary line anywhere (docs/rules.md rule 43b).

The commands run as an operator runs them: ``flask`` in a process of its
own, its output a real pseudo-terminal (``pty``) or a pipe.
"""
import datetime
import os
import pty
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = 1200  # two batches of demo scale's 1,000


def _flask_command() -> list[str]:
    flask = ROOT / ".venv" / "bin" / "flask"
    return [str(flask)] if flask.exists() else [sys.executable, "-m", "flask"]


def _on_a_terminal(args: list[str], env: dict) -> str:
    """What ``flask --app wsgi <args>`` writes to a pseudo-terminal (80 columns), once it has exited."""
    main, secondary = pty.openpty()
    process = subprocess.Popen([*_flask_command(), "--app", "wsgi", *args], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=secondary, stderr=secondary)
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the other end is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=120) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode(errors="replace")


def _piped(args: list[str], env: dict, quiet: bool = True) -> str:
    """What ``flask --app wsgi <args>`` writes to a pipe; with ``quiet``, nothing may go to stderr."""
    result = subprocess.run([*_flask_command(), "--app", "wsgi", *args], cwd=ROOT, env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not quiet or result.stderr == "", result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A migrated SQLite database with the demo data, for commands run in processes of their own."""
    tmp = tmp_path_factory.mktemp("progress")
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("PORTAL_", "FLASK_")) and key not in ("DATABASE_URL", "SECRET_KEY")}
    env.update(DATABASE_URL=f"sqlite:///{tmp / 'portal.sqlite'}", SECRET_KEY=secrets.token_hex(32),
               PORTAL_TRUSTED_HOSTS='["localhost"]', PORTAL_JOBS_SQLITE_PATH=str(tmp / "jobs.sqlite"),
               COLUMNS="100", LINES="24", TERM="xterm")
    _piped(["db", "upgrade"], env, quiet=False)  # Alembic logs each migration
    _piped(["demo", "load"], env)
    return env


def _bar_updates(output: str, label: str) -> list[str]:
    """The states the bar labelled ``label`` was drawn in (each redraw starts with a carriage return)."""
    return [part.replace("\x1b[?25l", "") for part in output.split("\r")
            if part.replace("\x1b[?25l", "").startswith(label)]


@pytest.fixture(scope="module")
def scaled(env) -> str:
    """``demo scale`` of CLIENTS clients (two batches) on a terminal: what it wrote there."""
    return _on_a_terminal(["demo", "scale", "--clients", str(CLIENTS), "--sites-per-client", "1",
                           "--users-per-site", "0"], env)


@pytest.mark.slow
def test_demo_scale_draws_a_bar_with_counts_and_rate_on_a_terminal(scaled):
    updates = _bar_updates(scaled, "demo scale")
    assert any(f"1000/{CLIENTS}" in update for update in updates), scaled
    assert re.search(rf"{CLIENTS}/{CLIENTS}\s+100%\s+[\d,]+ clients/s", updates[-1]), scaled
    assert f"Added {CLIENTS} clients, {CLIENTS} sites, 0 users in " in scaled


@pytest.mark.slow
def test_the_billing_run_and_the_jobs_draw_a_bar_on_a_terminal_and_only_their_line_in_a_pipe(env, scaled):
    later = (datetime.date.today() + datetime.timedelta(days=40)).isoformat()
    # Every client of the demo and of demo scale has a period to close by then.
    output = _on_a_terminal(["billing", "run", "--today", later], env)
    due = int(re.search(rf"Billing run for {later}: (\d+) clients rolled forward", output).group(1))
    assert due > CLIENTS
    assert re.search(rf"{due}/{due}\s+100%\s+[\d,]+ clients/s", _bar_updates(output, "Billing run")[-1]), output
    again = _piped(["billing", "run", "--today", later], env)
    assert again.count("\n") == 1 and again.startswith(f"Billing run for {later}: 0 clients"), again
    # The invoices issued tell the demo's finance staff by e-mail: jobs on the queue.
    jobs = _on_a_terminal(["jobs", "run", "--until-empty"], env)
    ran = int(re.search(r"(\d+) tasks run", jobs).group(1))
    assert ran > 0 and re.search(rf"{ran}/{ran}\s+100%\s+[\d,]+ jobs/s", _bar_updates(jobs, "Jobs")[-1]), jobs
    nothing = _piped(["jobs", "run", "--until-empty"], env)
    assert nothing.count("\n") == 1 and nothing.startswith("0 tasks run"), nothing


@pytest.mark.slow
def test_nothing_but_the_summary_line_goes_to_a_pipe(env):
    output = _piped(["demo", "scale", "--clients", "5", "--sites-per-client", "1", "--users-per-site", "1"], env)
    assert output.count("\n") == 1 and output.startswith("Added 5 clients, 5 sites, 5 users in "), output
