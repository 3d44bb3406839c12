"""``flask --app wsgi insights refresh``: build the insight baselines that are due (docs/rules.md rule 36)."""
import time

import click
from flask.cli import AppGroup

from portal.domain.insights import baselines

insights = AppGroup("insights", help="Insight for finance.")


@insights.command("refresh")
def insights_refresh():
    """Build each partner's baseline of the day that is missing, of another day or outdated (the worker
    does it every minute)."""
    started = time.perf_counter()
    built = baselines.refresh()
    click.echo(f"Insight baselines built for {len(built)} partners in {time.perf_counter() - started:.1f} s.")
