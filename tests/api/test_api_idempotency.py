"""``Idempotency-Key`` on POST: one change per key, the first answer replayed for 24 hours."""
import threading
from datetime import timedelta

from api_helpers import assert_error
from sqlalchemy import func, select, update

from portal.extensions import db
from portal.models import IdempotencyKey, Site, User
from portal.models.mixins import utcnow


def new_user(email="idem@example.org", code="essentials"):
    return {"email": email, "name": "Idem Potent", "subscription_type": code}


def count_users(fresh, email):
    fresh()
    return db.session.scalar(select(func.count(User.id)).where(User.email == email))


def test_same_key_same_body_replays_and_changes_nothing(api_as, demo, seats, fresh):
    client = api_as("acme_admin")
    url = f"/api/v1/sites/{demo.lyon.id}/users"
    first = client.post(url, json=new_user(), headers={"Idempotency-Key": "abc-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post(url, json=new_user(), headers={"Idempotency-Key": "abc-1"})
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_users(fresh, "idem@example.org") == 1
    assert seats(demo.lyon, "essentials") == (5, 5)


def test_key_order_and_spacing_do_not_make_another_body(api_as, demo):
    client = api_as("nw_admin")
    url = f"/api/v1/clients/{demo.acme.id}/sites"
    first = client.post(url, data='{"name": "Nantes"}', content_type="application/json",
                        headers={"Idempotency-Key": "k"})
    again = client.post(url, data='{ "name" :"Nantes" }', content_type="application/json",
                        headers={"Idempotency-Key": "k"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"


def test_same_key_other_body_is_a_mismatch(api_as, demo, fresh):
    client = api_as("acme_admin")
    url = f"/api/v1/sites/{demo.lyon.id}/users"
    client.post(url, json=new_user(), headers={"Idempotency-Key": "abc-2"})
    other = client.post(url, json=new_user("other@example.org"), headers={"Idempotency-Key": "abc-2"})
    assert_error(other, 422, "idempotency_mismatch", "Idempotency-Key")
    assert count_users(fresh, "other@example.org") == 0


def test_same_key_on_another_path_is_a_mismatch(api_as, demo):
    client = api_as("nw_finance")
    client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "One"}, headers={"Idempotency-Key": "p"})
    globex = demo.org("Globex Clinic")
    other = client.post(f"/api/v1/clients/{globex.id}/sites", json={"name": "One"}, headers={"Idempotency-Key": "p"})
    assert_error(other, 422, "idempotency_mismatch")


def test_keys_belong_to_their_user(api_as, demo, fresh):
    url = f"/api/v1/clients/{demo.acme.id}/sites"
    assert api_as("nw_admin").post(url, json={"name": "A"}, headers={"Idempotency-Key": "shared"}).status_code == 201
    response = api_as("nw_finance").post(url, json={"name": "B"}, headers={"Idempotency-Key": "shared"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers


def test_refusals_are_replayed_too(api_as, demo, seats):
    """The first answer is the answer, even when it was a refusal."""
    client = api_as("acme_admin")
    url = f"/api/v1/sites/{demo.lyon.id}/users"
    first = client.post(url, json=new_user(code="unlimited"), headers={"Idempotency-Key": "full"})
    assert_error(first, 409, "no_free_seat")
    api_as("nw_finance").put(f"/api/v1/sites/{demo.lyon.id}/allocations/unlimited", json={"allocated": 3})
    again = client.post(url, json=new_user(code="unlimited"), headers={"Idempotency-Key": "full"})
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    assert seats(demo.lyon, "unlimited") == (3, 2)


def test_after_24_hours_a_key_starts_afresh(api_as, demo, fresh):
    client = api_as("nw_admin")
    url = f"/api/v1/clients/{demo.acme.id}/sites"
    client.post(url, json={"name": "Old"}, headers={"Idempotency-Key": "old"})
    fresh()
    db.session.execute(update(IdempotencyKey).values(created_at=utcnow() - timedelta(hours=25)))
    db.session.commit()
    response = client.post(url, json={"name": "Newer"}, headers={"Idempotency-Key": "old"})
    assert response.status_code == 201 and "Idempotent-Replayed" not in response.headers
    fresh()
    assert db.session.scalar(select(func.count(IdempotencyKey.id))) == 1


def test_a_malformed_key_is_refused(api_as, demo, snapshot):
    client = api_as("nw_admin")
    before = snapshot()
    for key in ("", "x" * 256, "caf\u00e9", "has space"):
        response = client.post(f"/api/v1/clients/{demo.acme.id}/sites", json={"name": "K"},
                               headers={"Idempotency-Key": key.encode("utf-8").decode("latin-1")})
        assert_error(response, 422, "validation_error", "Idempotency-Key")
    assert snapshot() == before


def test_without_a_key_each_post_acts(api_as, demo, fresh):
    client = api_as("nw_finance")
    url = f"/api/v1/clients/{demo.acme.id}/sync-seats"
    assert client.post(url).status_code == client.post(url).status_code == 200


def test_an_unexpected_failure_releases_the_key(api_as, demo, monkeypatch, fresh):
    from portal.domain.orgs import clients

    client = api_as("nw_admin")
    url = f"/api/v1/clients/{demo.acme.id}/sites"

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(clients, "create_site", broken)
    failed = client.post(url, json={"name": "Retry"}, headers={"Idempotency-Key": "retry"})
    assert_error(failed, 500, "internal_error")
    monkeypatch.undo()
    retried = client.post(url, json={"name": "Retry"}, headers={"Idempotency-Key": "retry"})
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers


def test_concurrent_requests_with_one_key_make_one_change(app, api_as, demo, fresh):
    """Eight simultaneous POSTs with one key: one site is created, every answer is that 201."""
    client = api_as("nw_admin")
    url = f"/api/v1/clients/{demo.acme.id}/sites"
    barrier = threading.Barrier(8)
    results = []

    def post():
        barrier.wait()
        response = client.post(url, json={"name": "Raced"}, headers={"Idempotency-Key": "race"})
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 8, results
    assert len({body["id"] for _, body in results}) == 1
    fresh()
    assert db.session.scalar(select(func.count(Site.id)).where(Site.name == "Raced")) == 1
