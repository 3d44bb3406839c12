"""``flask --app wsgi api-token …``: create, list and revoke API tokens."""
import click
from flask.cli import AppGroup
from sqlalchemy import select

from portal.domain.accounts import api_tokens
from portal.domain.errors import DomainError
from portal.extensions import db
from portal.models import User

api_token = AppGroup("api-token", help="API tokens (bearer tokens of the /api/v1 JSON API).")


def _user(email: str) -> User:
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with the e-mail address {email}.")
    return user


@api_token.command("create")
@click.argument("email")
@click.option("--name", default=None, help="A label to recognise the token by (default: 'API token').")
@click.option("--read-only", is_flag=True, help="The token may only read: every write answers 403.")
@click.option("--expires-in-days", type=int, default=None, metavar="N",
              help=f"The token stops working N days from now (1 to {api_tokens.MAX_EXPIRY_DAYS}; "
                   "default: when revoked).")
def create(email, name, read_only, expires_in_days):
    """Create a token acting as EMAIL; it is printed once, on the last line (docs/rules.md rule 41)."""
    try:
        issued = api_tokens.create_token(None, _user(email), name, read_only=read_only,
                                         expires_in_days=expires_in_days)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    token = issued.token
    scope = "read-only" if token.read_only else "read and write"
    until = f"expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "never expires"
    click.echo(f"API token {token.id} for {email}, {scope}, {until} (shown once; store it now):", err=True)
    click.echo(issued.secret)


@api_token.command("list")
@click.argument("email")
def list_tokens(email):
    """List EMAIL's tokens (ids, names, access, expiry, last use; never the tokens themselves)."""
    for token in api_tokens.tokens_of(_user(email)):
        if token.revoked_at:
            state = f"revoked {token.revoked_at:%Y-%m-%d}"
        elif token.expired:
            state = f"expired {token.expires_at:%Y-%m-%d}"
        else:
            state = f"active until {token.expires_at:%Y-%m-%d}" if token.expires_at else "active"
        scope = "read-only" if token.read_only else "read-write"
        used = f"last used {token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
        click.echo(f"{token.id}\t{token.name}\t{state}\t{scope}\t{used}")


@api_token.command("revoke")
@click.argument("token_id", type=click.IntRange(1))
def revoke(token_id):
    """Revoke the token TOKEN_ID (see ``api-token list``) at once."""
    try:
        token = api_tokens.revoke_token(None, api_tokens.find_token(token_id))
    except DomainError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"API token {token.id} ({token.name}) revoked.")
