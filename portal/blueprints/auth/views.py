from urllib.parse import urlsplit

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from flask_principal import AnonymousIdentity, Identity, identity_changed
from wtforms.fields.choices import SelectChoice

from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import (AcceptInvitationForm, ChangePasswordForm, LanguageForm, LoginForm,
                                         NewTokenForm, NotificationsForm)
from portal.blueprints.auth.two_step import redirect_to_second_step
from portal.domain import notifications
from portal.domain.accounts import api_tokens, authentication, invitations, preferences, two_step
from portal.domain.accounts import sessions as account_sessions
from portal.domain.errors import DomainError, NotFound
from portal.extensions import limiter
from portal.i18n import gettext as _
from portal.i18n import ngettext, refresh_language
from portal.rbac import permissions
from portal.rbac.decorators import login_redirect, login_required
from portal.rbac.needs import has_any_role
from portal.rbac.roles import ROLES
from portal.web.forms import add_error, submit


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths: ``//evil.example`` and ``https://…`` are dropped."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


def _config_limit(name):
    return lambda: current_app.config[name]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_config_limit("LOGIN_RATE_LIMIT"), methods=["POST"])
def login():
    form = LoginForm()
    # A refusal is about the pair e-mail / password, not one field: the page shows it above the form.
    submission = submit(form, lambda: authentication.log_in(form.email.data, form.password.data,
                                                            request.remote_addr, request.user_agent.string), None)
    if submission.done:
        user = submission.result
        if user.session_token is None:  # two-step verification (docs/rules.md rule 38): the code comes next
            return redirect_to_second_step(user, _safe_next(request.args.get("next")))
        _log_in_browser(user)
        return redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
    refused, headers = submission.error, {}
    if isinstance(refused, authentication.LockedOut):
        headers["Retry-After"] = str(refused.extra["retry_after"])
    page = render_template("auth/login.html", form=form, error=refused and refused.message)
    return page, submission.status, headers


def _log_in_browser(user) -> None:
    """This browser is ``user``'s, whose login session ``authentication`` started: a new Flask session."""
    session.clear()
    login_user(user)
    identity_changed.send(current_app._get_current_object(), identity=Identity(user.id))


@bp.route("/logout", methods=["POST"])
def logout():
    if current_user.is_authenticated:
        authentication.log_out(current_user.session_token)
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


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    """The user's profile and password change (which ends their other sessions)."""
    form = ChangePasswordForm()
    submission = submit(form, lambda: authentication.change_password(
        current_user, form.current_password.data, form.new_password.data, keep_session=current_user.session_token),
        "new_password")
    if submission.done:
        flash(_("Password changed. Your other sessions were logged out."), "success")
        return redirect(url_for("auth.account"), 303)
    if submission.status == 422 and form.current_password.data and not form.current_password.errors:
        # Refused for the new password alone: say too whether the current one was right, so that
        # the user does not fix one mistake only to be told of the other (issue 11, defect 2).
        try:
            authentication.check_current_password(current_user, form.current_password.data)
        except DomainError as error:
            add_error(form, error, "current_password")
    return _account_page(form=form, status=submission.status)


def _account_page(*, form=None, token_form=None, language_form=None, notifications_form=None, new_secret=None,
                  status=200):
    return render_template("auth/account.html", form=form or ChangePasswordForm(formdata=None),
                           notifications_form=notifications_form or _notifications_form(formdata=None),
                           token_form=token_form or NewTokenForm(formdata=None), new_secret=new_secret,
                           language_form=language_form or LanguageForm(
                               formdata=None, language=current_user.language or ""), roles=ROLES,
                           tokens=api_tokens.tokens_of(current_user),
                           sessions=account_sessions.list_sessions(current_user, current_user.session_token)), status


@bp.route("/account/language", methods=["POST"])
@login_required
def set_language():
    """The language the portal speaks to this user (docs/rules.md rule 37): "" follows the browser."""
    language_form = LanguageForm()
    submission = submit(language_form, lambda: preferences.set_language(current_user, language_form.language.data),
                        "language")
    if not submission.done:  # the refusal under the field, and the choice still stored selected
        language_form.language.data = current_user.language or ""
        return _account_page(language_form=language_form, status=submission.status)
    refresh_language()  # the message in the language just chosen: this request began in the one before it
    flash(_("Language saved.") if submission.result else
          _("Language saved: the portal follows your browser's language."), "success")
    return redirect(url_for("auth.account", _anchor="language"), 303)


def _notifications_form(*, posted: bool = False, **kwargs) -> NotificationsForm:
    """The topics that concern the user, each ticked unless they turned it off (docs/rules.md rule 33).

    ``posted``: the form as submitted, where no box ticked means every topic off (never the stored state).
    """
    topics = notifications.topics_for(current_user)
    if posted:
        form = NotificationsForm(**kwargs)
    else:
        off = notifications.turned_off(current_user)
        form = NotificationsForm(**kwargs, notifications=[topic.code for topic in topics if topic.code not in off])
    form.notifications.choices = [SelectChoice(topic.code, topic.label,
                                               render_kw={"aria-describedby": f"hint-{topic.code}"})
                                  for topic in topics]
    form.hints = {topic.code: topic.hint for topic in topics}
    return form


@bp.route("/account/notifications", methods=["POST"])
@login_required
def set_notifications():
    """The e-mail notifications this user receives: the ticked topics stay on, the others are turned off."""
    form = _notifications_form(posted=True)
    submission = submit(form, lambda: preferences.set_notifications(current_user, form.notifications.data or []),
                        "notifications")
    if not submission.done:
        return _account_page(notifications_form=form, status=submission.status)
    flash(_("E-mail notifications saved."), "success")
    return redirect(url_for("auth.account", _anchor="notifications"), 303)


@bp.route("/account/sessions/<id:session_id>/end", methods=["POST"])
@login_required
def end_session(session_id):
    """End one of the user's own sessions ("End session", docs/rules.md rule 40); ending this one logs out."""
    try:
        was_current = account_sessions.end_session_of(current_user, session_id, current_user.session_token)
    except NotFound:  # someone else's session, or one that ended: nothing to say about it
        abort(404)
    if was_current:
        logout_user()
        session.clear()
        identity_changed.send(current_app._get_current_object(), identity=AnonymousIdentity())
        flash(_("This session has ended. Log in again to continue."), "success")
        return redirect(url_for("auth.login"), 303)
    flash(_("The session has ended: that device is logged out."), "success")
    return redirect(url_for("auth.account", _anchor="sessions"), 303)


@bp.route("/account/sessions/end-others", methods=["POST"])
@login_required
def end_other_sessions():
    """End every session of the user but this one ("End all other sessions", docs/rules.md rule 40)."""
    ended = account_sessions.end_other_sessions(current_user, current_user.session_token)
    flash(ngettext("%(num)d other session ended.", "%(num)d other sessions ended.", ended) if ended else
          _("You had no other sessions."), "success")
    return redirect(url_for("auth.account", _anchor="sessions"), 303)


@bp.route("/account/tokens", methods=["POST"])
@login_required
def create_token():
    """A new API token acting as the current user; its secret is shown on this response only."""
    token_form = NewTokenForm()
    submission = submit(token_form, lambda: api_tokens.create_token(
        current_user, current_user, token_form.name.data, read_only=token_form.read_only.data,
        expires_in_days=token_form.expires_in_days.data), "name")
    if not submission.done:
        return _account_page(token_form=token_form, status=submission.status)
    body, status = _account_page(new_secret=submission.result.secret)
    return body, status, {"Cache-Control": "no-store"}


@bp.route("/account/tokens/<id:token_id>/revoke", methods=["POST"])
@login_required
def revoke_token(token_id):
    token = next((t for t in api_tokens.tokens_of(current_user) if t.id == token_id), None)
    if token is None:  # someone else's token: not yours to know about
        abort(404)
    try:
        api_tokens.revoke_token(current_user, token)
    except DomainError as error:
        flash(error.message, "error")
    else:
        flash(_("The token “%(name)s” was revoked; programs using it are refused from now on.", name=token.name),
              "success")
    return redirect(url_for("auth.account"), 303)


@bp.route("/invitations/<token>", methods=["GET", "POST"])
@limiter.limit(_config_limit("INVITATION_RATE_LIMIT"))  # throttles token guessing per address
def accept_invitation(token):
    """Accept an invitation: choose a name and a password, and be logged in (issue 11, defect 13)."""
    visitor = current_user if current_user.is_authenticated else None
    try:
        row = invitations.check_token(token[:200])
    except invitations.InvitationRefused as refused:
        return _refused(refused)
    invited = row.invitation.user
    form = AcceptInvitationForm(name=invited.name)
    submission = submit(form, lambda: invitations.accept_invitation(token, form.name.data, form.password.data,
                                                                    current_user=visitor), "password")
    if isinstance(submission.error, invitations.InvitationRefused):  # the link went bad meanwhile
        return _refused(submission.error)
    if submission.done:
        # Logged in as by the login form: the password was just chosen, so it is not asked again.
        user = authentication.log_in_invited(submission.result, request.remote_addr, request.user_agent.string)
        if user.session_token is None:  # two-step verification already on (rule 38): the code comes next
            return redirect_to_second_step(user, None)
        _log_in_browser(user)
        flash(_("Welcome! Your account is ready."), "success")
        if two_step.must_enrol(user):  # required by the organisation (rule 38): set up first, as after a login
            return redirect(url_for("auth.two_step"), 303)
        return redirect(url_for("auth.home"), 303)
    page = render_template("auth/accept_invitation.html", form=form, invited=invited, visitor=visitor)
    return page, submission.status


def _refused(refused: invitations.InvitationRefused):
    return render_template("auth/invitation_refused.html", message=refused.message), refused.status
