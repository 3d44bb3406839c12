"""``flask --app wsgi demo …``: the demo data and synthetic bulk data for benchmarks."""
import time

import click
from flask import current_app
from flask.cli import AppGroup

from portal.cli.progress import progress_bar
from portal.domain import demo as demo_data

demo = AppGroup("demo", help="Demo and benchmark data.")


@demo.command("load")
def demo_load():
    """Load the demo data of docs/rules.md section 7 (idempotent)."""
    if demo_data.load_demo():
        click.echo("Demo data loaded. Every demo login uses the password 'demo-password'.")
    else:
        click.echo("Demo data already present; nothing changed.")


@demo.command("reset")
@click.option("--yes", is_flag=True, help="Confirm: needed outside debug mode.")
def demo_reset(yes):
    """Delete every row and load the demo data again: the demo as on its first day.

    Refused outside debug mode without --yes: on a real database it deletes everything.
    """
    if not (current_app.debug or yes):
        raise click.ClickException(
            "demo reset deletes every organisation, user, invoice and audit event, then loads the demo "
            "data again. Outside debug mode, add --yes to confirm.")
    demo_data.reset_demo()
    click.echo("Demo data reset: everything else was deleted, everyone is logged out. "
               "Every demo login uses the password 'demo-password'.")


@demo.command("scale")
@click.option("--clients", type=click.IntRange(1, 100_000), required=True)
@click.option("--sites-per-client", type=click.IntRange(1, 100), default=5, show_default=True)
@click.option("--users-per-site", type=click.IntRange(0, 1000), default=20, show_default=True)
def demo_scale(clients, sites_per_client, users_per_site):
    """Add synthetic clients to Northwind Telecom (bulk inserts)."""
    started = time.perf_counter()
    try:
        with progress_bar("demo scale", "clients") as progress:
            users = demo_data.scale_demo(clients, sites_per_client, users_per_site, progress)
    except LookupError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Added {clients} clients, {clients * sites_per_client} sites, {users} users "
               f"in {time.perf_counter() - started:.1f} s.")
