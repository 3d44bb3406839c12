from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, StopValidation

from portal.i18n import LANGUAGE_NAMES, LANGUAGES, _l
from portal.web.forms import CheckboxesField

# docs/rules.md rule 40; the service checks the rest (common passwords, the e-mail).
PASSWORD_LENGTH = Length(min=12, message=_l("Choose a password of at least 12 characters."))


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1000)])


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[DataRequired(), Length(max=200)])
    password = PasswordField(_l("Choose a password (at least 12 characters, not a common one)"),
                             validators=[DataRequired(), PASSWORD_LENGTH, Length(max=1000)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1000)])
    new_password = PasswordField(_l("New password (at least 12 characters, not a common one)"),
                                 validators=[DataRequired(), PASSWORD_LENGTH, Length(max=1000)])


def _sent(form, field):
    """The field was in the request (its empty value "" is a choice: follow the browser)."""
    if not field.raw_data:
        raise StopValidation(_l("Choose a language from the list."))


class LanguageForm(FlaskForm):
    """docs/rules.md rule 37, fixed names: field ``language``, options "" (follow the browser), en, fr, pl.

    Each language is named in its own words (a French reader looks for "Français"); which
    values are allowed is the service's rule (``portal.domain.accounts.preferences``).
    """

    language = SelectField(_l("Language"), validators=[_sent], validate_choice=False, default="", choices=[
        SelectChoice("", _l("Follow my browser")),
        *(SelectChoice(code, LANGUAGE_NAMES[code], render_kw={"lang": code}) for code in LANGUAGES)])


class NotificationsForm(FlaskForm):
    """docs/rules.md rule 33: checkboxes ``notifications``, one per topic that concerns the user (the view
    gives the choices); the topics left unticked are turned off. Which codes exist is the service's rule."""

    notifications = CheckboxesField(_l("E-mail me when"), validate_choice=False)


class NewTokenForm(FlaskForm):
    """docs/rules.md rule 41: a token may be read-only and may expire (the service checks the days)."""

    name = StringField(_l("Token name"), validators=[DataRequired(), Length(max=100)])
    read_only = BooleanField(_l("Read-only: the token can read but not change anything"))
    expires_in_days = SelectField(_l("Expires"), validate_choice=False, default="", choices=[
        SelectChoice("", _l("Never (until revoked)")), SelectChoice("7", _l("In 7 days")),
        SelectChoice("30", _l("In 30 days")), SelectChoice("90", _l("In 90 days")),
        SelectChoice("365", _l("In a year"))])


class CodeForm(FlaskForm):
    """A code of two-step verification (docs/rules.md rule 38: field ``code``); its shape is the service's check."""

    code = StringField(_l("Code"), validators=[DataRequired(message=_l("Enter the code.")), Length(max=64)])


class DisableTwoStepForm(FlaskForm):
    """Turning two-step verification off: a current code or the password (the service wants one of them)."""

    code = StringField(_l("Code from your authenticator app (or a recovery code)"), validators=[Length(max=64)])
    password = PasswordField(_l("Or your password"), validators=[Length(max=1000)])


class ForgotPasswordForm(FlaskForm):
    """docs/rules.md rule 39: field ``email``."""

    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address.")),
                                                 Length(max=254)])


class ResetPasswordForm(FlaskForm):
    """docs/rules.md rule 39: field ``password``; its strength is the service's check."""

    password = PasswordField(_l("New password"), validators=[DataRequired(message=_l("Choose a new password.")),
                                                             Length(max=1000)])
