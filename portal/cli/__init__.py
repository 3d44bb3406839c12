"""Command-line interface, grouped by domain; commands call services."""
import time

import click
from flask import Flask
from flask.cli import AppGroup

from portal.domain import demo as demo_service
from portal.domain.accounts import invitations as invitations_service
from portal.domain.billing import invoices as billing_service

demo = AppGroup("demo", help="Demo and benchmark data.")


@demo.command("load")
def demo_load():
    """Load the demo data of DESIGN.md section 7 (idempotent)."""
    if demo_service.load_demo():
        click.echo("Demo data loaded. Every demo login uses the password 'demo-password'.")
    else:
        click.echo("Demo data already present; nothing changed.")


@demo.command("scale")
@click.option("--clients", type=click.IntRange(1, 100_000), required=True)
@click.option("--sites-per-client", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--users-per-site", type=click.IntRange(0, 1000), default=20, show_default=True)
def demo_scale(clients, sites_per_client, users_per_site):
    """Add synthetic clients to Northwind Telecom (bulk inserts)."""
    started = time.perf_counter()
    try:
        users = demo_service.scale_demo(clients, sites_per_client, users_per_site)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Added {clients} clients, {clients * sites_per_client} sites, {users} users "
               f"in {time.perf_counter() - started:.1f} s.")


billing = AppGroup("billing", help="Invoicing.")


@billing.command("run")
@click.option("--today", "today", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Run as of this date (YYYY-MM-DD); default: today (UTC).")
def billing_run(today):
    """Close ended periods, apply pending cycles and issue period invoices (idempotent)."""
    started = time.perf_counter()
    report = billing_service.run_billing(today.date() if today else None)
    click.echo(f"Billing run for {report.today}: {report.clients} clients rolled forward, "
               f"{len(report.invoices)} invoices issued, {report.cycles_applied} cycle changes applied, "
               f"{report.seats_released} trial seats released in {time.perf_counter() - started:.1f} s.")


invitations = AppGroup("invitations", help="Invitation housekeeping.")


@invitations.command("expire")
def invitations_expire():
    """Close pending invitations whose link expired and free their seats (run daily)."""
    count = invitations_service.expire_invitations()
    click.echo(f"{count} expired invitation{'s' if count != 1 else ''} closed; their seats are free.")


def register(app: Flask) -> None:
    from portal.cli.api_tokens import api_token

    app.cli.add_command(demo)
    app.cli.add_command(billing)
    app.cli.add_command(invitations)
    app.cli.add_command(api_token)
