"""POST /api/v1/users/{id}/reactivate (docs/rules.md rule 28): the e-mail of a deactivated user is usable again."""
from sqlalchemy import select

from portal.extensions import db
from portal.models import Invitation, User
from tests.helpers import assert_error


def lyon_user(demo) -> User:
    return db.session.scalar(select(User).where(User.site_id == demo.lyon.id).order_by(User.id))


def test_a_deactivated_user_is_active_again_on_their_last_seat(api_as, demo, seats):
    client = api_as("acme_admin")
    user = lyon_user(demo)
    assert client.delete(f"/api/v1/users/{user.id}").status_code == 200
    assert seats(demo.lyon, "essentials") == (5, 3)
    response = client.post(f"/api/v1/users/{user.id}/reactivate", json={})
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert (body["status"], body["site_id"], body["subscription_type"]) == ("active", demo.lyon.id, "essentials")
    assert seats(demo.lyon, "essentials") == (5, 4)


def test_no_free_seat_refuses_and_another_seat_may_be_chosen(api_as, demo, seats, fresh):
    client = api_as("acme_admin")
    user = lyon_user(demo)
    client.delete(f"/api/v1/users/{user.id}")
    for n in (1, 2):  # the seat it left, and the one that was free, are taken
        filler = client.post(f"/api/v1/sites/{demo.lyon.id}/users",
                             json={"email": f"filler{n}@example.org", "name": "Filler", "subscription_type": "essentials"})
        assert filler.status_code == 201
    assert seats(demo.lyon, "essentials") == (5, 5)
    refused = client.post(f"/api/v1/users/{user.id}/reactivate", json={})
    assert assert_error(refused, 409, "no_free_seat", "subscription_type")["free"] == 0
    fresh()
    assert db.session.get(User, user.id).status == "deactivated"
    moved = client.post(f"/api/v1/users/{user.id}/reactivate",
                        json={"site_id": demo.paris.id, "subscription_type": "support"})
    assert moved.status_code == 200 and moved.get_json()["site_id"] == demo.paris.id
    assert seats(demo.paris, "support") == (2, 1)


def test_only_a_deactivated_user_is_reactivated(api_as, demo):
    response = api_as("acme_admin").post(f"/api/v1/users/{lyon_user(demo).id}/reactivate", json={})
    assert_error(response, 409, "conflict")


def test_a_revoked_invitation_comes_back_with_a_new_link(api_as, demo, fresh, seats, run_jobs):
    client = api_as("acme_admin")
    created = client.post(f"/api/v1/sites/{demo.lyon.id}/users",
                          json={"email": "late@example.org", "name": "Late", "subscription_type": "essentials"})
    user_id = created.get_json()["id"]
    client.delete(f"/api/v1/users/{user_id}")  # revokes the pending invitation
    again = client.post(f"/api/v1/users/{user_id}/reactivate", json={})
    assert again.status_code == 200 and again.get_json()["status"] == "invited"
    run_jobs()  # the worker sends the new link (to the log: no mail server in this test)
    fresh()
    invitation = db.session.scalar(select(Invitation).where(Invitation.user_id == user_id))
    assert invitation.status == "pending" and invitation.delivery == "sent"
    assert seats(demo.lyon, "essentials") == (5, 5)
