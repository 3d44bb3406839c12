"""The site page lists the users holding a seat there, by the same rule as the API (holds_seat)."""
from datetime import timedelta

from sqlalchemy import update

from portal import clock
from portal.domain.accounts import users
from portal.extensions import db
from portal.models import Organisation


def site_user_ids(page) -> set[int]:
    return {int(row.attrs["id"].removeprefix("site-user-")) for row in page.find_all("tr")
            if row.attrs.get("id", "").startswith("site-user-")}


def test_a_user_deactivated_during_a_trial_is_listed_until_the_trial_ends(demo, login_as, html, seats, api_as):
    trial_end = clock.today() + timedelta(days=30)
    db.session.execute(update(Organisation).where(Organisation.id == demo.acme.id).values(trial_ends_on=trial_end))
    db.session.commit()
    user = users.deactivate_user(demo.user("admin@acme.example"), demo.user("user1@acme.example"))
    assert user.access_until == trial_end and seats(demo.lyon, "essentials") == (5, 4)  # still holds the seat

    page = html(login_as("admin@acme.example").get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}"))

    assert user.id in site_user_ids(page)
    assert page.by_id(f"site-user-{user.id}").cells()[1:] == ["user1@acme.example", "Essentials", "Deactivated"]
    # The page and its API twin list the same people.
    listed = api_as("acme_admin").get(f"/api/v1/sites/{demo.lyon.id}/users").get_json()["items"]
    assert site_user_ids(page) == {item["id"] for item in listed}


def test_a_user_deactivated_outside_a_trial_is_no_longer_listed(demo, login_as, html, seats):
    user = users.deactivate_user(demo.user("admin@acme.example"), demo.user("user1@acme.example"))
    assert user.access_until is None and seats(demo.lyon, "essentials") == (5, 3)

    page = html(login_as("admin@acme.example").get(f"/clients/{demo.acme.id}/sites/{demo.lyon.id}"))

    assert user.id not in site_user_ids(page)
