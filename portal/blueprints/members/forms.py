from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from portal.i18n import _l
from portal.web.forms import CheckboxesField

# docs/rules.md screen 15e: the role select starts on this empty option, which cannot be submitted.
NO_ROLE = SelectChoice("", _l("Choose a role…"))


class GrantRoleForm(FlaskForm):
    """Give a role to one member; one form per row, so each carries the member's prefix.

    Choices only fill the selects: whether the role exists, may be given by
    the caller and may be limited to those sites is the role service's rule
    (unknown role 422, a permission the caller lacks 403).
    """

    role = SelectField(_l("Role"), validate_choice=False, default="",
                       validators=[InputRequired(message=_l("Choose a role."))])
    site_ids = CheckboxesField(_l("Only at these sites (site manager, accountant)"), coerce=int, validate_choice=False)

    def __init__(self, member, grantable, sites, *args, **kwargs):
        super().__init__(*args, prefix=f"member-{member.id}", **kwargs)
        # Never the most powerful role by default (docs/rules.md screen 15e): the empty option comes first.
        self.role.choices = [NO_ROLE, *(SelectChoice(g.role.code, g.role.label) for g in grantable)]
        if sites:
            self.site_ids.choices = [SelectChoice(site.id, site.name) for site in sites]
        else:
            del self.site_ids  # partners and the operator have no sites


class RequireTwoStepForm(FlaskForm):
    """docs/rules.md rule 38: the members page's checkbox ``require_two_step``."""

    require_two_step = BooleanField(_l("Require two-step verification of every member"))


class InviteMemberForm(FlaskForm):
    """Invite someone into one's own organisation with a role and no seat (a client's accountant, rule 27b).

    The same choices as giving a role to a member; the role service decides what may be given.
    """

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    role = SelectField(_l("Role"), validate_choice=False, default="",
                       validators=[InputRequired(message=_l("Choose a role."))])
    site_ids = CheckboxesField(_l("Only at these sites (site manager, accountant)"), coerce=int, validate_choice=False)
    send_invitation = RadioField(_l("Invitation e-mail"), default="now", choices=[
        SelectChoice("now", _l("Send it now")), SelectChoice("later", _l("Send it later"))])

    def __init__(self, grantable, sites, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [NO_ROLE, *(SelectChoice(g.role.code, g.role.label) for g in grantable)]
        if sites:
            self.site_ids.choices = [SelectChoice(site.id, site.name) for site in sites]
        else:
            del self.site_ids
