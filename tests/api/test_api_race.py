"""Many concurrent POST /sites/{id}/users on a few free seats (docs/rules.md rule 3, through the API)."""
import threading

from sqlalchemy import func, select

from portal.extensions import db
from portal.models import User

RACERS = 16


def test_concurrent_creations_fill_exactly_the_free_seats(api_as, demo, seats, fresh):
    client = api_as("nw_finance")
    client.put(f"/api/v1/sites/{demo.lyon.id}/allocations/essentials", json={"allocated": 7})  # 3 free
    free = 3
    url = f"/api/v1/sites/{demo.lyon.id}/users"
    barrier = threading.Barrier(RACERS)
    results = []

    def create(n):
        barrier.wait()
        response = client.post(url, json={
            "email": f"racer{n}@example.org", "name": f"Racer {n}", "subscription_type": "essentials",
            "send_invitation": "later"})
        results.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * free + [409] * (RACERS - free), results
    refusals = [body["error"] for status, body in results if status == 409]
    assert all(error["code"] == "no_free_seat" and error["free"] == 0 for error in refusals)
    assert seats(demo.lyon, "essentials") == (7, 7)
    fresh()
    created = db.session.scalar(select(func.count(User.id)).where(User.email.like("racer%@example.org")))
    assert created == free
