"""Two-step verification screens (docs/rules.md rule 38): enrolment, turning it off, the login's second step.

Fixed names (docs/rules.md section 13): ``/account/two-step`` shows the new
secret as base32 text inside a ``<code>`` element, its QR code (inline SVG: the
CSP allows no inline style or script) and a form with field ``code``; after a
correct password, ``/login/two-step`` asks for field ``code`` (a recovery code
too). The password step leaves only a pending-login marker (the user id and a
5-minute expiry) in the Flask session, which is signed with SECRET_KEY so the
browser cannot forge or change it; the login session starts after the code.

A user whose organisation requires two-step verification and who has not
enrolled is sent to ``/account/two-step`` by ``_send_to_enrolment`` before any
other page (the JSON API is not concerned: its tokens are separate).
"""
import time

import segno
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user
from flask_principal import Identity, identity_changed
from markupsafe import Markup

from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import CodeForm, DisableTwoStepForm
from portal.domain.accounts import authentication, two_step
from portal.extensions import htmx, limiter
from portal.i18n import gettext as _
from portal.rbac.decorators import login_redirect
from portal.web.errors import render_error
from portal.web.forms import submit

PENDING = "two_step_login"
PENDING_SECONDS = 300
# What a user who must enrol may still open: the enrolment itself, logging in and out, static files.
ALLOWED_BEFORE_ENROLMENT = {"static", "auth.two_step", "auth.logout", "auth.login", "auth.login_two_step",
                            "auth.forgot_password", "auth.reset_password", "auth.accept_invitation"}


def _retry_after(error) -> dict:
    if isinstance(error, two_step.TooManyAttempts):
        return {"Retry-After": str(error.extra["retry_after"])}
    return {}


@bp.before_app_request
def _send_to_enrolment():
    """docs/rules.md rule 38: required but not enrolled → ``/account/two-step`` before anything else."""
    if request.endpoint in ALLOWED_BEFORE_ENROLMENT or "api" in request.blueprints:
        return None
    if not current_user.is_authenticated or not two_step.must_enrol(current_user):
        return None
    target = url_for("auth.two_step")
    if htmx:
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


# --- the login's second step -------------------------------------------------------------


def redirect_to_second_step(user, target: str | None):
    """After a correct password (``authentication.log_in`` started no session): ask for the code."""
    session.clear()
    session[PENDING] = {"user_id": user.id, "until": int(time.time()) + PENDING_SECONDS, "next": target}
    return redirect(url_for("auth.login_two_step"), 303)


def _pending() -> dict | None:
    marker = session.get(PENDING)
    if not isinstance(marker, dict) or not isinstance(marker.get("user_id"), int):
        return None
    if not isinstance(marker.get("until"), int) or marker["until"] < time.time():
        return None
    return marker


@bp.route("/login/two-step", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login_two_step():
    if current_user.is_authenticated:
        return redirect(url_for("auth.home"))
    marker = _pending()
    if marker is None:
        if session.pop(PENDING, None) is not None:
            flash(_("The time to enter your code ran out. Log in again."), "error")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    submission = submit(form, lambda: authentication.log_in_second_step(
        marker["user_id"], form.code.data, request.remote_addr, request.user_agent.string), "code")
    if submission.done:
        user = submission.result
        session.clear()
        login_user(user)
        identity_changed.send(current_app._get_current_object(), identity=Identity(user.id))
        return redirect(marker.get("next") or url_for("auth.home"))
    page = render_template("auth/two_step_login.html", form=form)
    return page, submission.status, _retry_after(submission.error)


# --- enrolment and turning it off ----------------------------------------------------------


def _qr_code(uri: str) -> Markup:
    # segno draws paths with presentation attributes only (no style attribute): the CSP allows it.
    svg = segno.make(uri, error="m").svg_inline(scale=4, dark="#000", light="#fff",
                                                title=_("QR code for your authenticator app"))
    return Markup(svg)


def _status_page(*, form=None, status=200, headers=None):
    page = render_template("auth/two_step.html", enabled=True, disable_form=form or DisableTwoStepForm(formdata=None),
                           codes_left=two_step.recovery_codes_left(current_user),
                           required=two_step.required_for(current_user))
    return page, status, {"Cache-Control": "no-store", **(headers or {})}


@bp.route("/account/two-step", methods=["GET", "POST"], endpoint="two_step")
def two_step_page():
    """Enrol (secret, QR code, a code to confirm), then the recovery codes once; when on, how to turn it off."""
    if not current_user.is_authenticated:
        return login_redirect()
    if two_step.enabled(current_user):
        if request.method == "POST":
            return render_error(409, _("Two-step verification is already on."))
        return _status_page()
    form = CodeForm()
    submission = submit(form, lambda: two_step.confirm_enrolment(current_user, form.code.data), "code")
    if submission.done:
        page = render_template("auth/two_step_recovery_codes.html", codes=submission.result)
        return page, 200, {"Cache-Control": "no-store"}
    if submission.status == 409:  # changed meanwhile (another tab): the page as it is now
        flash(submission.error.message, "error")
        return redirect(url_for("auth.two_step"), 303)
    secret = two_step.enrolment_secret(current_user)
    page = render_template("auth/two_step.html", enabled=False, form=form, secret=secret,
                           qr_code=_qr_code(two_step.provisioning_uri(current_user, secret)),
                           required=two_step.required_for(current_user))
    return page, submission.status, {"Cache-Control": "no-store", **_retry_after(submission.error)}


@bp.route("/account/two-step/disable", methods=["POST"])
def disable_two_step():
    """Turn it off with a current code or the password."""
    if not current_user.is_authenticated:
        return login_redirect()
    if not two_step.enabled(current_user):
        return render_error(409, _("Two-step verification is not on."))
    form = DisableTwoStepForm()
    submission = submit(form, lambda: two_step.disable(current_user, code=form.code.data,
                                                       password=form.password.data), "code")
    if submission.done:
        flash(_("Two-step verification is off. Your recovery codes no longer work."), "success")
        return redirect(url_for("auth.two_step"), 303)
    if submission.status == 409:
        return render_error(409, submission.error.message)
    return _status_page(form=form, status=submission.status, headers=_retry_after(submission.error))
