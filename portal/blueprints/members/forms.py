from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField
from wtforms.fields.choices import SelectChoice


class GrantRoleForm(FlaskForm):
    """Give a role to one member; one form per row, so each carries the member's prefix.

    Choices only fill the selects: whether the role exists, may be given by
    the caller and may be limited to those sites is the role service's rule
    (unknown role 422, a permission the caller lacks 403).
    """

    role = SelectField("Role", validate_choice=False)
    site_ids = SelectMultipleField("Only at these sites (site manager, accountant)", coerce=int,
                                   validate_choice=False)

    def __init__(self, member, grantable, sites, *args, **kwargs):
        super().__init__(*args, prefix=f"member-{member.id}", **kwargs)
        self.role.choices = [SelectChoice(g.role.code, g.role.label) for g in grantable]
        if sites:
            self.site_ids.choices = [SelectChoice(site.id, site.name) for site in sites]
        else:
            del self.site_ids  # partners and the operator have no sites


class RequireTwoStepForm(FlaskForm):
    """docs/rules.md rule 38: the members page's checkbox ``require_two_step``."""

    require_two_step = BooleanField("Require two-step verification of every member")
