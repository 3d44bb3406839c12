"""PATCH /api/v1/users/{id}: rename a user or move their seat (docs/rules.md rule 27)."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import RoleAssignment, User
from tests.helpers import assert_error


def essentials_holder_at(site) -> User:
    return db.session.scalar(select(User).where(User.site_id == site.id).order_by(User.id))


def test_a_move_to_a_free_seat_answers_the_moved_user(api_as, demo, seats):
    user = essentials_holder_at(demo.lyon)
    response = api_as("acme_admin").patch(f"/api/v1/users/{user.id}",
                                          json={"site_id": demo.paris.id, "subscription_type": "support"})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["site_id"], body["subscription_type"]) == (demo.paris.id, "support")
    assert seats(demo.paris, "support") == (2, 1) and seats(demo.lyon, "essentials") == (5, 3)


def test_no_free_seat_is_a_409_with_free_and_changes_nothing(api_as, demo, seats):
    user = essentials_holder_at(demo.lyon)
    response = api_as("acme_admin").patch(f"/api/v1/users/{user.id}", json={"subscription_type": "unlimited"})
    body = assert_error(response, 409, "no_free_seat", "subscription_type")
    assert body["free"] == 0
    assert seats(demo.lyon, "unlimited") == (2, 2) and seats(demo.lyon, "essentials") == (5, 4)


def test_add_seat_needs_subscription_management(api_as, demo, seats):
    user = essentials_holder_at(demo.lyon)
    url = f"/api/v1/users/{user.id}"
    assert_error(api_as("acme_admin").patch(url, json={"subscription_type": "unlimited", "add_seat": True}),
                 403, "forbidden", "add_seat")
    moved = api_as("nw_finance").patch(url, json={"subscription_type": "unlimited", "add_seat": True})
    assert moved.status_code == 200
    assert seats(demo.lyon, "unlimited") == (3, 3) and seats(demo.lyon, "essentials") == (5, 3)


def test_a_rename_changes_only_the_name(api_as, demo):
    user = essentials_holder_at(demo.lyon)
    response = api_as("acme_admin").patch(f"/api/v1/users/{user.id}", json={"name": "Renée Dupont"})
    assert response.status_code == 200 and response.get_json()["name"] == "Renée Dupont"
    assert response.get_json()["site_id"] == demo.lyon.id


def test_a_site_manager_cannot_move_a_client_admin_holding_a_seat_at_their_site(api_as, demo, fresh):
    """Nobody manages up (docs/rules.md rule 41b): the client admin holds permissions a site manager lacks."""
    boss = essentials_holder_at(demo.lyon)
    db.session.add(RoleAssignment(user_id=boss.id, role="client_admin"))
    db.session.commit()
    response = api_as("acme_frontdesk").patch(f"/api/v1/users/{boss.id}",
                                              json={"name": "Demoted", "subscription_type": "unlimited"})
    assert_error(response, 403, "forbidden")
    fresh()
    moved = db.session.get(User, boss.id)
    assert moved.name != "Demoted" and moved.subscription_type.code == "essentials"


def test_bad_targets_are_422_naming_the_field(api_as, demo, seats):
    user = essentials_holder_at(demo.lyon)
    client = api_as("acme_admin")
    url = f"/api/v1/users/{user.id}"
    globex_site = demo.site("Globex Clinic", "Main")
    assert_error(client.patch(url, json={"site_id": globex_site.id}), 422, "validation_error", "site_id")
    assert_error(client.patch(url, json={"subscription_type": "platinum"}), 422, "validation_error",
                 "subscription_type")
    assert_error(client.patch(url, json={"site_id": "one"}), 422, "validation_error", "site_id")
    assert_error(client.patch(url, json={"name": "Line\u2028break"}), 422, "validation_error", "name")
    assert seats(demo.lyon, "essentials") == (5, 4)


def test_the_audit_log_says_who_moved_whom_where(api_as, demo, login_as):
    user = essentials_holder_at(demo.lyon)
    api_as("nw_finance").patch(f"/api/v1/users/{user.id}", json={"subscription_type": "unlimited", "add_seat": True})
    page = login_as("admin@acme.example").get("/audit?action=user.seat_moved").get_data(as_text=True)
    assert f"Felix Finance moved {user.name} from Essentials to Unlimited at Lyon" in page
