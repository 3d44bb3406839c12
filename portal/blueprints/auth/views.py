from urllib.parse import urlsplit

from flask import current_app, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_principal import AnonymousIdentity, Identity, identity_changed
from sqlalchemy import select

from ...extensions import db
from ...models import User
from ...rbac import permissions
from ...rbac.decorators import login_redirect, login_required
from ...rbac.needs import has_any_role
from ...rbac.sessions import end_session, start_session
from ...services import audit
from ...services.passwords import check_password
from . import bp
from .forms import LoginForm


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: ``//evil.example`` and ``https://…`` are dropped."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(select(User).where(User.email == email))
        # Same answer, and the same hashing cost, for an unknown e-mail and a wrong password.
        if check_password(user.password_hash if user else None, form.password.data) and user.is_active:
            token = start_session(user)
            audit.record(user, "auth.login", "user", user.id, user.organisation_id)
            db.session.commit()
            session.clear()
            login_user(user)
            identity_changed.send(current_app._get_current_object(), identity=Identity(user.id))
            return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
        audit.record(None, "auth.login_failed", "user", user.id if user else None,
                     user.organisation_id if user else None, after={"email": email})
        db.session.commit()
        error = "Wrong e-mail or password."
    status = 422 if error or form.errors else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        end_session(current_user.session_token)
        db.session.commit()
    logout_user()
    session.clear()
    identity_changed.send(current_app._get_current_object(), identity=AnonymousIdentity())
    return redirect(url_for("auth.login"))


@bp.route("/")
def home():
    """Send each user to the page their role starts from."""
    if not current_user.is_authenticated:
        return login_redirect()
    if not has_any_role(current_user):
        return redirect(url_for("auth.no_access"))
    organisation = current_user.organisation
    if organisation.kind in ("operator", "partner"):
        return redirect(url_for("partners.overview"))
    if permissions.view_client(organisation).can():
        return redirect(url_for("clients.detail", client_id=organisation.id))
    if permissions.view_invoices(organisation).can():
        return redirect(url_for("invoices.index"))
    return redirect(url_for("auth.account"))


@bp.route("/no-access")
def no_access():
    if not current_user.is_authenticated:
        return login_redirect()
    return render_template("auth/no_access.html")


@bp.route("/account")
@login_required
def account():
    return render_template("auth/account.html")
