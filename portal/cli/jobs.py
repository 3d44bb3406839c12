"""``flask --app wsgi jobs run [--until-empty]``: the worker of the task queue (docs/rules.md rule 31)."""
import logging
import time

import click
from flask import current_app
from flask.cli import AppGroup

from portal import jobs as queue
from portal.cli.progress import progress_bar

jobs = AppGroup("jobs", help="The task queue: e-mails and the outbox's relay.")


@jobs.command("run")
@click.option("--until-empty", is_flag=True,
              help="Do every job and retry due now, then exit (cron, tests); failed ones are rescheduled.")
@click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True,
              help="Worker threads of this process (run more processes on Redis to scale out).")
def jobs_run(until_empty, workers):
    """Run the queue's jobs: a worker until stopped (SIGINT, SIGTERM), or once with --until-empty."""
    app = current_app._get_current_object()
    if until_empty:
        started = time.perf_counter()
        with progress_bar("Jobs", "jobs") as progress:
            report = queue.run_until_empty(app, progress)
        click.echo(f"{report.tasks} tasks run; e-mails: {report.sent} sent, {report.retrying} to retry later, "
                   f"{report.failed} failed, in {time.perf_counter() - started:.1f} s.")
        return
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(f"Worker started ({workers} threads); stop it with Ctrl-C.")
    queue.run_worker(app, workers=workers)
