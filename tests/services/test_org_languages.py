"""The language of an organisation's invitations (docs/rules.md rule 37): chosen when a client or a
partner is created, checked before anything is written, and French for the demo's two clinics."""
import pytest
from sqlalchemy import func, select

from portal.domain.errors import Invalid
from portal.domain.orgs import clients, partners
from portal.extensions import db
from portal.models import AuditEvent, Invitation, InvoiceSequence, Organisation, User


def counts():
    db.session.rollback()
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Organisation, InvoiceSequence, User, Invitation, AuditEvent))


def test_a_client_created_in_french_keeps_its_language(demo):
    client = clients.create_client(demo.user("admin@northwind.example"), demo.org("Northwind Telecom"),
                                   "Zed Clinic", "monthly", language="fr")
    db.session.expire_all()
    assert db.session.get(Organisation, client.id).language == "fr"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "client.created")
                              .order_by(AuditEvent.id.desc()))
    assert event.after["language"] == "fr"


def test_a_client_is_english_unless_told(demo):
    client = clients.create_client(demo.user("admin@northwind.example"), demo.org("Northwind Telecom"),
                                   "Zed Clinic", "annual")
    assert client.language == "en"


@pytest.mark.parametrize("language", ["de", "", None, "FR", "fr-FR", 1])
def test_an_unknown_client_language_is_refused_with_nothing_written(demo, language):
    before = counts()
    with pytest.raises(Invalid) as refused:
        clients.create_client(demo.user("admin@northwind.example"), demo.org("Northwind Telecom"),
                              "Zed Clinic", "monthly", language=language)
    assert refused.value.field == "language" and "language" in refused.value.message
    assert counts() == before


def test_a_partner_created_in_polish_keeps_its_language(demo):
    partner = partners.create_partner(demo.user("operator@portal.example"), "Eastwind Telecom", "EW", "Eve East",
                                      "eve@eastwind.example", language="pl")
    db.session.expire_all()
    assert db.session.get(Organisation, partner.id).language == "pl"


def test_an_unknown_partner_language_is_refused_with_nothing_written(demo):
    before = counts()
    with pytest.raises(Invalid) as refused:
        partners.create_partner(demo.user("operator@portal.example"), "Eastwind Telecom", "EW", "Eve East",
                                "eve@eastwind.example", language="de")
    assert refused.value.field == "language"
    assert counts() == before  # no partner, no sequence, nobody invited


def test_the_demo_clinics_acme_and_globex_invite_in_french(demo):
    languages = dict(db.session.execute(select(Organisation.name, Organisation.language)).all())
    assert languages["Acme Dental"] == languages["Globex Clinic"] == "fr"
    assert {name: language for name, language in languages.items()
            if name not in ("Acme Dental", "Globex Clinic")} == dict.fromkeys(
        ("Portal Operator", "Northwind Telecom", "Southwind Networks", "Initech Vet"), "en")
