"""``flask --app wsgi api-token …``."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import ApiToken
from portal.models.tokens import hash_token


def test_create_prints_the_token_once_and_it_works(runner, client_with, demo):
    result = runner.invoke(args=["api-token", "create", "finance@northwind.example"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().splitlines()[-1]
    assert len(secret) >= 40 and " " not in secret
    db.session.rollback()
    stored = db.session.scalar(select(ApiToken))
    assert stored.token_hash == hash_token(secret)
    assert secret not in repr(stored.__dict__)
    assert client_with(secret).get("/api/v1/summary").status_code == 200


def test_list_and_revoke(runner, client_with, demo):
    secret = runner.invoke(args=["api-token", "create", "admin@acme.example", "--name", "ERP"]).output.split()[-1]
    db.session.rollback()
    token_id = db.session.scalar(select(ApiToken.id))
    listing = runner.invoke(args=["api-token", "list", "admin@acme.example"])
    assert f"{token_id}\tERP\tactive" in listing.output and secret not in listing.output
    revoked = runner.invoke(args=["api-token", "revoke", str(token_id)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert client_with(secret).get("/api/v1/summary").status_code == 401
    again = runner.invoke(args=["api-token", "revoke", str(token_id)])
    assert again.exit_code != 0 and "already revoked" in again.output


def test_unknown_email_or_token(runner, demo):
    assert runner.invoke(args=["api-token", "create", "nobody@example.org"]).exit_code != 0
    assert runner.invoke(args=["api-token", "revoke", "999"]).exit_code != 0
