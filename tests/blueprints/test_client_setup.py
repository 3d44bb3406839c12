"""A partner admin creates clients (with an optional trial) and their sites."""
from sqlalchemy import func, select

from portal.extensions import db
from portal.models import Invoice, Organisation, Site


def organisations():
    return db.session.scalar(select(func.count(Organisation.id)))


def test_a_partner_admin_creates_a_client_with_a_trial_and_then_a_site(demo, login_as):
    admin = login_as("admin@northwind.example")
    created = admin.post("/clients/new", data={"name": "Zed Clinic", "billing_cycle": "annual", "trial_days": "14"})
    assert created.status_code == 303
    client = db.session.scalar(select(Organisation).where(Organisation.name == "Zed Clinic"))
    assert (client.parent.name, client.billing_cycle) == ("Northwind Telecom", "annual")
    assert client.trial_ends_on is not None
    assert db.session.scalar(select(func.count(Invoice.id)).where(Invoice.client_id == client.id)) == 0
    assert created.headers["Location"].endswith(f"/clients/{client.id}/sites/new")
    assert admin.post(created.headers["Location"], data={"name": "HQ"}).status_code == 303
    db.session.rollback()  # see what the request committed
    assert db.session.scalar(select(Site.name).where(Site.client_id == client.id)) == "HQ"


def test_a_client_without_trial_gets_its_first_period_invoice_at_once(demo, login_as):
    login_as("admin@northwind.example").post("/clients/new", data={"name": "Now Clinic", "billing_cycle": "monthly"})
    client = db.session.scalar(select(Organisation).where(Organisation.name == "Now Clinic"))
    assert db.session.scalar(select(Invoice.kind).where(Invoice.client_id == client.id)) == "period"


def test_bad_client_input_is_explained_and_creates_nothing(demo, login_as):
    admin = login_as("admin@northwind.example")
    before = organisations()
    for data, status in [({"name": "Acme Dental", "billing_cycle": "monthly"}, 409),
                         ({"name": "Q", "billing_cycle": "weekly"}, 422),
                         ({"name": "Q", "billing_cycle": "monthly", "trial_days": "-3"}, 422),
                         ({"name": "Q", "billing_cycle": "monthly", "trial_days": "ten"}, 422),
                         ({"name": "", "billing_cycle": "monthly"}, 422)]:
        assert admin.post("/clients/new", data=data).status_code == status, data
    assert organisations() == before


def test_a_duplicate_site_name_is_refused(demo, login_as):
    response = login_as("admin@northwind.example").post(f"/clients/{demo.acme.id}/sites/new", data={"name": "Lyon"})
    assert response.status_code == 409 and "already has a site named" in response.get_data(as_text=True)


def test_only_clients_manage_may_create_clients_and_sites(demo, login_as):
    assert login_as("finance@northwind.example").get("/clients/new").status_code == 200  # finance is also partner admin
    assert login_as("support@northwind.example").get("/clients/new").status_code == 403
    assert login_as("admin@acme.example").get("/clients/new").status_code == 404
    assert login_as("support@northwind.example").post(f"/clients/{demo.acme.id}/sites/new",
                                                       data={"name": "Nice"}).status_code == 403
    assert login_as("admin@southwind.example").post(f"/clients/{demo.acme.id}/sites/new",
                                                    data={"name": "Nice"}).status_code == 404
