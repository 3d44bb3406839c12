"""An Idempotency-Key and the change it guards commit together (docs/rules.md rule 41b).

Before, the key was reserved in its own transaction, the change committed in
the service's, and the answer stored in a third: a failure between the last
two left a committed change behind a 500 saying "nothing was changed", and a
key without an answer that refused every retry with 409 for 24 hours.
"""
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from portal.domain import idempotency
from portal.extensions import db
from portal.models import IdempotencyKey, Site
from portal.models.mixins import utcnow
from tests.helpers import assert_error


def _sites_named(fresh, name) -> int:
    fresh()
    return db.session.scalar(select(func.count(Site.id)).where(Site.name == name))


def _keys(fresh) -> int:
    fresh()
    return db.session.scalar(select(func.count(IdempotencyKey.id)))


def test_a_failure_after_the_change_commits_neither_the_change_nor_the_key(api_as, demo, monkeypatch, fresh):
    client = api_as("nw_admin")
    url = f"/api/v1/clients/{demo.acme.id}/sites"

    def database_gone(*args, **kwargs):
        raise OperationalError("INSERT INTO idempotency_keys", {}, Exception("server closed the connection"))

    monkeypatch.setattr(idempotency, "store_answer", database_gone)
    failed = client.post(url, json={"name": "Outage"}, headers={"Idempotency-Key": "outage-1"})
    assert_error(failed, 503, "unavailable")
    assert failed.headers["Retry-After"] == "30"
    assert _sites_named(fresh, "Outage") == 0  # "nothing was changed" is true
    assert _keys(fresh) == 0

    monkeypatch.undo()
    retried = client.post(url, json={"name": "Outage"}, headers={"Idempotency-Key": "outage-1"})
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    replayed = client.post(url, json={"name": "Outage"}, headers={"Idempotency-Key": "outage-1"})
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.get_json() == retried.get_json()
    assert _sites_named(fresh, "Outage") == 1


def test_a_key_left_without_an_answer_is_released_after_30_seconds(api_as, demo, fresh):
    """Rows reserved before acting (the old way) do not block retries for a day."""
    client = api_as("nw_admin")
    user = demo.user("admin@northwind.example")
    url = f"/api/v1/clients/{demo.acme.id}/sites"
    body = b'{"name": "Stale"}'
    fingerprint = idempotency.request_hash("POST", url, body)
    db.session.add(IdempotencyKey(user_id=user.id, key="stale", method="POST", path=url, request_hash=fingerprint,
                                  created_at=utcnow() - timedelta(seconds=5)))
    db.session.commit()

    busy = client.post(url, data=body, content_type="application/json", headers={"Idempotency-Key": "stale"})
    assert_error(busy, 409, "conflict", "Idempotency-Key")
    assert _sites_named(fresh, "Stale") == 0

    db.session.execute(IdempotencyKey.__table__.update().values(created_at=utcnow() - timedelta(seconds=31)))
    db.session.commit()
    ran = client.post(url, data=body, content_type="application/json", headers={"Idempotency-Key": "stale"})
    assert ran.status_code == 201 and "Idempotent-Replayed" not in ran.headers
    assert _sites_named(fresh, "Stale") == 1


def test_a_refusal_inside_a_keyed_request_keeps_nothing_of_the_refused_change(api_as, demo, seats, fresh):
    """The service's own transaction is a savepoint of the request's: its refusal undoes it, the answer is kept."""
    client = api_as("acme_admin")
    url = f"/api/v1/sites/{demo.lyon.id}/users"
    body = {"email": "full@example.org", "name": "Full", "subscription_type": "unlimited"}
    refused = client.post(url, json=body, headers={"Idempotency-Key": "refused"})
    assert_error(refused, 409, "no_free_seat")
    assert seats(demo.lyon, "unlimited") == (2, 2)
    assert _keys(fresh) == 1
