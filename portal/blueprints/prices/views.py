"""The partner's price book and a client's own prices (docs/rules.md rule 22), for ``prices.manage``.

Prices are typed in major units and reach each client at the start of its
next period; the screens say so, and show the coming price with its date.
Going back to the price book or to the list price asks for confirmation.
"""
from flask import abort, flash, redirect, url_for
from flask_login import current_user

from portal.blueprints.prices import bp
from portal.blueprints.prices.forms import ConfirmForm, PriceForm
from portal.domain.billing import price_book
from portal.domain.billing.money import decimal_text, parse_price
from portal.domain.seats.queries import subscription_type_by_code
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.rbac import permissions
from portal.rbac.decorators import login_required, require
from portal.rbac.scoping import get_client_or_404
from portal.web.forms import submit
from portal.web.rendering import render


def _own_partner():
    """The price book is the signed-in partner's own: anyone else has none (404)."""
    organisation = current_user.organisation
    if organisation.kind != "partner":
        abort(404)
    return organisation


def _type_or_404(code):
    return subscription_type_by_code(code) or abort(404)


def _typed_prices(form) -> tuple[int, int]:
    return (parse_price(form.monthly.data, "monthly", label=_l("monthly price")),
            parse_price(form.annual.data, "annual", label=_l("annual price")))


def _form_for(pair) -> PriceForm:
    return PriceForm(data=dict(monthly=decimal_text(pair.monthly), annual=decimal_text(pair.annual)))


@bp.route("/price-book")
@login_required
def book():
    partner = _own_partner()
    require(permissions.read_price_book(partner))
    return render("prices/book.html", items=price_book.price_book(current_user, partner), partner=partner)


@bp.route("/price-book/<code>", methods=["GET", "POST"])
@login_required
def edit_book_price(code):
    partner = _own_partner()
    require(permissions.manage_prices(partner))
    subscription_type = _type_or_404(code)
    item = next(each for each in price_book.price_book(current_user, partner)
                if each.subscription_type.id == subscription_type.id)
    form = _form_for(item.price)

    def save():
        return price_book.set_book_price(current_user, partner, subscription_type, *_typed_prices(form))

    submission = submit(form, save, "monthly")
    if submission.done:
        flash(_("Your price of %(type)s is saved. It reaches each client at the start of its next period.",
                type=subscription_type.name), "success")
        return redirect(url_for("prices.book"), 303)
    return render("prices/edit.html", submission.status, form=form, subscription_type=subscription_type,
                  item=item, client=None, back=url_for("prices.book"))


@bp.route("/price-book/<code>/clear", methods=["GET", "POST"])
@login_required
def clear_book_price(code):
    partner = _own_partner()
    require(permissions.manage_prices(partner))
    subscription_type = _type_or_404(code)
    form = ConfirmForm()
    if form.validate_on_submit():
        price_book.clear_book_price(current_user, partner, subscription_type)
        flash(_("%(type)s is back at the list price from each client's next period.", type=subscription_type.name),
              "success")
        return redirect(url_for("prices.book"), 303)
    return render("prices/confirm_clear.html", 422 if form.is_submitted() else 200, form=form,
                  subscription_type=subscription_type, client=None, back=url_for("prices.book"))


def _client_item(client, subscription_type):
    return next(each for each in price_book.client_prices(client)
                if each.subscription_type.id == subscription_type.id)


@bp.route("/clients/<id:client_id>/prices/<code>", methods=["GET", "POST"])
@login_required
def edit_client_price(client_id, code):
    client = get_client_or_404(client_id)
    require(permissions.manage_prices(client))
    subscription_type = _type_or_404(code)
    item = _client_item(client, subscription_type)
    book_item = next(each for each in price_book.price_book(current_user, client.parent)
                     if each.subscription_type.id == subscription_type.id)
    form = _form_for(item.own or book_item.price)

    def save():
        return price_book.set_client_price(current_user, client, subscription_type, *_typed_prices(form))

    submission = submit(form, save, "monthly")
    if submission.done:
        flash(_("The price of %(type)s for %(client)s is saved. It reaches the client at the start of its next "
                "period.", type=subscription_type.name, client=client.name), "success")
        return redirect(url_for("clients.detail", client_id=client.id) + "#prices", 303)
    return render("prices/edit.html", submission.status, form=form, subscription_type=subscription_type,
                  item=item, book_item=book_item, client=client,
                  back=url_for("clients.detail", client_id=client.id) + "#prices")


@bp.route("/clients/<id:client_id>/prices/<code>/clear", methods=["GET", "POST"])
@login_required
def clear_client_price(client_id, code):
    client = get_client_or_404(client_id)
    require(permissions.manage_prices(client))
    subscription_type = _type_or_404(code)
    form = ConfirmForm()
    if form.validate_on_submit():
        price_book.clear_client_price(current_user, client, subscription_type)
        flash(_("%(client)s is back at your price book for %(type)s from its next period.", client=client.name,
                type=subscription_type.name), "success")
        return redirect(url_for("clients.detail", client_id=client.id) + "#prices", 303)
    return render("prices/confirm_clear.html", 422 if form.is_submitted() else 200, form=form,
                  subscription_type=subscription_type, client=client,
                  back=url_for("clients.detail", client_id=client.id) + "#prices")
