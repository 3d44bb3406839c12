"""The operator's partners and their discounts (``partners.manage``; docs/rules.md section 8)."""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.pagination import page_body, page_of
from portal.blueprints.api.registry import operation, read_body, read_query
from portal.blueprints.api.schemas import DiscountUpdate, Page, PageQuery, PartnerOut
from portal.domain.orgs import partners
from portal.models import Organisation
from portal.rbac import permissions
from portal.rbac.scoping import get_partner_or_404

# No tenant owns the operator's area: without the permission, 403 whatever the id (as the operator screens).
MANAGE_PARTNERS = "partners.manage"


def partner_out(partner: Organisation) -> dict:
    return {"id": partner.id, "name": partner.name, "discount_bp": partner.discount_bp}


@operation("GET", "/partners", summary="The operator's partners, with their discounts", permission=MANAGE_PARTNERS,
           response=Page[PartnerOut], query=PageQuery, errors=(403,))
def list_partners():
    """Every partner by name, with ``discount_bp``: the discount off the list price, in basis points."""
    user = actor()
    require(permissions.manage_partners())
    params = read_query()
    page = page_of(partners.partners_query(user), params)
    return page_body([partner_out(partner) for partner in page.rows], page)


@operation("PUT", "/partners/{partner_id}/discount", summary="Set a partner's discount", permission=MANAGE_PARTNERS,
           response=PartnerOut, body=DiscountUpdate, errors=(403,))
def set_partner_discount(partner_id):
    """``{discount_bp: 0..10000}``: applies at once to the documents issued afterwards; issued lines keep
    their cost (docs/rules.md rule 23)."""
    user = actor()
    require(permissions.manage_partners())
    partner = get_partner_or_404(partner_id, user)
    body = read_body()
    return partner_out(partners.set_discount(user, partner, body.discount_bp))
