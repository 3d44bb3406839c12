"""``flask --app wsgi billing run``: the daily billing run."""
import time

import click
from flask.cli import AppGroup

from portal.cli.progress import progress_bar
from portal.domain.billing.run import run_billing

billing = AppGroup("billing", help="Invoicing.")


@billing.command("run")
@click.option("--today", "today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Run as of this date (YYYY-MM-DD); default: today (UTC).")
def billing_run(today):
    """Close ended periods, apply pending cycles and issue period invoices (idempotent)."""
    started = time.perf_counter()
    with progress_bar("Billing run", "clients") as progress:
        report = run_billing(today.date() if today else None, progress)
    click.echo(f"Billing run for {report.today}: {report.clients} clients rolled forward, "
               f"{len(report.invoices)} invoices issued, {report.cycles_applied} cycle changes applied, "
               f"{report.seats_released} trial seats released in {time.perf_counter() - started:.1f} s.")
