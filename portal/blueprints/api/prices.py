"""A partner's price book and its clients' prices (docs/rules.md rule 22).

The price book is the caller's partner's. A change reaches each client at
the start of its next period; ``/clients/{id}/prices`` says what the current
period is billed at, and the coming price and its date.
"""
from portal.blueprints.api.auth import actor, require
from portal.blueprints.api.catalogue import subscription_type_named
from portal.blueprints.api.errors import ApiError
from portal.blueprints.api.registry import operation, read_body
from portal.blueprints.api.schemas import (
    ClientPriceOut,
    ClientPricesOut,
    PriceBookItem,
    PriceBookOut,
    PricesUpdate,
)
from portal.domain.billing import price_book
from portal.models import Organisation
from portal.rbac import permissions
from portal.rbac.permissions import permission_name
from portal.rbac.scoping import get_client_or_404

BOOK_READERS = f"{permission_name(permissions.manage_prices)} or {permission_name(permissions.view_margins)}"


def money(amount: int, currency: str) -> dict:
    return {"amount": amount, "currency": currency}


def pair_out(pair: price_book.Pair | None) -> dict | None:
    if pair is None:
        return None
    return {"monthly": money(pair.monthly, pair.currency), "annual": money(pair.annual, pair.currency)}


def book_item_out(item: price_book.BookItem) -> dict:
    return {"subscription_type": item.subscription_type.code, "list_price": pair_out(item.list_price),
            "cost": pair_out(item.cost), "price": pair_out(item.price)}


def client_price_out(item: price_book.ClientPriceItem) -> dict:
    return {"subscription_type": item.subscription_type.code, "price": money(item.price, item.currency),
            "next_price": money(item.next_price, item.currency) if item.next_price is not None else None,
            "next_price_from": item.next_price_from, "source": item.source}


def _own_partner() -> Organisation:
    """The caller's partner: the price book is a partner's own (the operator's prices are the catalogue)."""
    organisation = actor().organisation
    if organisation.kind != "partner":
        raise ApiError(403, "The price book is a partner's own; the operator sets the list prices in the "
                            "catalogue.", code="forbidden")
    return organisation


def _priced_body() -> dict:
    body = read_body()
    return {"monthly": body.monthly.model_dump(), "annual": body.annual.model_dump()}


@operation("GET", "/price-book", summary="The partner's price book",
           permission=BOOK_READERS, response=PriceBookOut, errors=(403,))
def get_price_book():
    """One item per catalogue type: the list price, the partner's price as now set (the list price without an
    entry) and, for margins.view only, the partner's unit cost now. Each client's coming price and its date
    are in ``/clients/{id}/prices``."""
    partner = _own_partner()
    require(permissions.read_price_book(partner))
    return {"items": [book_item_out(item) for item in price_book.price_book(actor(), partner)]}


@operation("PUT", "/price-book/{type_code}", summary="Set the partner's price of a type",
           permission=permissions.manage_prices, response=PriceBookItem, body=PricesUpdate, errors=(403,))
def set_book_price(type_code):
    """``{monthly: Money, annual: Money}`` in the type's currency (another currency: 422). Reaches each client
    at the start of its next period; the current period keeps its prices (rule 22)."""
    partner = _own_partner()
    require(permissions.manage_prices(partner))
    subscription_type = subscription_type_named(type_code, "type_code")
    body = _priced_body()
    item = price_book.set_book_price(actor(), partner, subscription_type, body["monthly"], body["annual"])
    return book_item_out(item)


@operation("DELETE", "/price-book/{type_code}", summary="Back to the list price for a type",
           permission=permissions.manage_prices, response=PriceBookItem, errors=(403,))
def clear_book_price(type_code):
    """Removes the partner's price of the type: each client pays the list price from its next period."""
    partner = _own_partner()
    require(permissions.manage_prices(partner))
    subscription_type = subscription_type_named(type_code, "type_code")
    return book_item_out(price_book.clear_book_price(actor(), partner, subscription_type))


@operation("GET", "/clients/{client_id}/prices", summary="What a client pays, now and from its next period",
           permission=permissions.view_client, response=ClientPricesOut, errors=(403,))
def get_client_prices(client_id):
    """Per catalogue type: ``price`` (what the current period is billed at), ``next_price`` and
    ``next_price_from`` (null when no change is coming), and ``source``: where the price comes from as now
    set (``client``, ``price_book`` or ``list``)."""
    client = get_client_or_404(client_id, actor())
    require(permissions.view_client(client))
    return {"items": [client_price_out(item) for item in price_book.client_prices(client)]}


@operation("PUT", "/clients/{client_id}/prices/{type_code}", summary="Set a client's own price of a type",
           permission=permissions.manage_prices, response=ClientPriceOut, body=PricesUpdate, errors=(403,))
def set_client_price(client_id, type_code):
    """``{monthly: Money, annual: Money}`` in the type's currency; reaches the client at its next period."""
    client = get_client_or_404(client_id, actor())
    require(permissions.manage_prices(client))
    subscription_type = subscription_type_named(type_code, "type_code")
    body = _priced_body()
    item = price_book.set_client_price(actor(), client, subscription_type, body["monthly"], body["annual"])
    return client_price_out(item)


@operation("DELETE", "/clients/{client_id}/prices/{type_code}", summary="Back to the price book for a type",
           permission=permissions.manage_prices, response=ClientPriceOut, errors=(403,))
def clear_client_price(client_id, type_code):
    """Removes the client's own price of the type: the price book applies from its next period."""
    client = get_client_or_404(client_id, actor())
    require(permissions.manage_prices(client))
    subscription_type = subscription_type_named(type_code, "type_code")
    return client_price_out(price_book.clear_client_price(actor(), client, subscription_type))
