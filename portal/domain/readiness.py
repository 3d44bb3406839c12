"""Whether this server can serve (docs/rules.md rule 43): the database answers and its schema is not behind.

A server whose code is newer than the database (started before ``flask db
upgrade`` ran) must not take traffic: its queries would fail on missing
columns. A server whose code is older than the database still serves: in a
rolling upgrade the database is migrated first, with migrations that only
add, and the old servers are replaced one at a time (docs/deploy.md).
"""
import functools

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from portal.extensions import db


def problems(migrations_directory: str) -> list[str]:
    """What stops this server from serving; empty when it is ready."""
    try:
        current = set(db.session.scalars(text("SELECT version_num FROM alembic_version")))
    except Exception as error:  # noqa: BLE001 - down, unreachable, or no schema at all: all mean "not ready"
        db.session.rollback()
        return [f"The database does not answer or has no schema: {type(error).__name__}."]
    finally:
        db.session.rollback()  # end the read: a health check holds no transaction open
    scripts = _scripts(migrations_directory)
    heads = frozenset(scripts.get_heads())
    if current == heads or (current and not current & _known(migrations_directory)):
        # At head; or newer than this code knows: a rolling upgrade migrated the database first, and
        # its migrations only add (docs/deploy.md), so this older server still serves.
        return []
    return [f"The database schema is at {', '.join(sorted(current)) or 'nothing'}, behind the code's "
            f"{', '.join(sorted(heads))}: run flask db upgrade."]


@functools.cache
def _scripts(migrations_directory: str) -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", migrations_directory)
    return ScriptDirectory.from_config(config)


@functools.cache
def _known(migrations_directory: str) -> frozenset[str]:
    """Every revision this code's migrations contain."""
    return frozenset(script.revision for script in _scripts(migrations_directory).walk_revisions())
