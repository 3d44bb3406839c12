"""Password reset screens (docs/rules.md rule 39; fixed names of section 13).

``/password/forgot`` (field ``email``) answers every address the same way: a
303 to ``/login`` with one message, whether or not an account has it. The
e-mailed link ``/password/reset/<token>`` (field ``password``) works once, for
``PASSWORD_RESET_MAX_AGE`` seconds; a used, expired or forged link gets a page
saying so and changes nothing.
"""
from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from portal.blueprints.auth import bp
from portal.blueprints.auth.forms import ForgotPasswordForm, ResetPasswordForm
from portal.domain.accounts import password_reset
from portal.extensions import limiter
from portal.i18n import _l
from portal.i18n import gettext as _
from portal.web.forms import submit

SENT = _l("If an account uses this e-mail address, we have sent it a link to choose a new password. "
          "Check your inbox.")


def _config_limit(name):
    return lambda: current_app.config[name]


def _email_key() -> str:
    """Per e-mail address, known or not (so the limit tells nothing): nobody floods someone's mailbox."""
    return "password-forgot:" + request.form.get("email", "").strip().lower()[:254]


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_config_limit("PASSWORD_FORGOT_RATE_LIMIT"), methods=["POST"])
@limiter.limit(_config_limit("PASSWORD_FORGOT_EMAIL_RATE_LIMIT"), methods=["POST"], key_func=_email_key)
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        password_reset.request_reset(form.email.data)
        flash(str(SENT), "success")
        return redirect(url_for("auth.login"), 303)
    return render_template("auth/password_forgot.html", form=form), 422 if form.is_submitted() else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit(_config_limit("PASSWORD_RESET_RATE_LIMIT"))  # throttles token guessing per address
def reset_password(token):
    try:
        row = password_reset.check_token(token)
    except password_reset.ResetRefused as refused:
        return _refused(refused)
    form = ResetPasswordForm()
    submission = submit(form, lambda: password_reset.reset_password(token, form.password.data), "password")
    if isinstance(submission.error, password_reset.ResetRefused):  # the link went bad meanwhile
        return _refused(submission.error)
    if submission.done:
        if not current_user.is_authenticated or current_user.id == submission.result.id:
            logout_user()  # every session of the user ended, this browser's too
            session.clear()
        flash(_("Your password was changed and you were logged out everywhere. Log in with your new password."),
              "success")
        return redirect(url_for("auth.login", email=submission.result.email), 303)
    page = render_template("auth/password_reset.html", form=form, email=row.user.email)
    return page, submission.status, {"Cache-Control": "no-store"}


def _refused(refused: password_reset.ResetRefused):
    page = render_template("auth/password_reset_refused.html", message=refused.message)
    return page, refused.status, {"Cache-Control": "no-store"}
