"""``flask --app wsgi invitations expire``: invitation housekeeping."""
import click
from flask.cli import AppGroup

from portal.domain.accounts.invitations import expire_invitations

invitations = AppGroup("invitations", help="Invitation housekeeping.")


@invitations.command("expire")
def invitations_expire():
    """Close pending invitations whose link expired and free their seats (run daily)."""
    count = expire_invitations()
    click.echo(f"{count} expired invitation{'s' if count != 1 else ''} closed; their seats are free.")
