from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

# docs/rules.md rule 40; the service checks the rest (common passwords, the e-mail).
PASSWORD_LENGTH = Length(min=12, message="Choose a password of at least 12 characters.")


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


class AcceptInvitationForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Choose a password (at least 12 characters, not a common one)",
                             validators=[DataRequired(), PASSWORD_LENGTH, Length(max=1000)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=1000)])
    new_password = PasswordField("New password (at least 12 characters, not a common one)",
                                 validators=[DataRequired(), PASSWORD_LENGTH, Length(max=1000)])


class NewTokenForm(FlaskForm):
    """docs/rules.md rule 41: a token may be read-only and may expire (the service checks the days)."""

    name = StringField("Token name", validators=[DataRequired(), Length(max=100)])
    read_only = BooleanField("Read-only: the token can read but not change anything")
    expires_in_days = SelectField("Expires", validate_choice=False, default="", choices=[
        SelectChoice("", "Never (until revoked)"), SelectChoice("7", "In 7 days"), SelectChoice("30", "In 30 days"),
        SelectChoice("90", "In 90 days"), SelectChoice("365", "In a year")])


class CodeForm(FlaskForm):
    """A code of two-step verification (docs/rules.md rule 38: field ``code``); its shape is the service's check."""

    code = StringField("Code", validators=[DataRequired(message="Enter the code."), Length(max=64)])


class DisableTwoStepForm(FlaskForm):
    """Turning two-step verification off: a current code or the password (the service wants one of them)."""

    code = StringField("Code from your authenticator app (or a recovery code)", validators=[Length(max=64)])
    password = PasswordField("Or your password", validators=[Length(max=1000)])


class ForgotPasswordForm(FlaskForm):
    """docs/rules.md rule 39: field ``email``."""

    email = EmailField("E-mail", validators=[DataRequired(message="Enter your e-mail address."), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    """docs/rules.md rule 39: field ``password``; its strength is the service's check."""

    password = PasswordField("New password", validators=[DataRequired(message="Choose a new password."),
                                                         Length(max=1000)])
