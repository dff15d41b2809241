"""The admin is for Tier 1 leads (novaops.policies.is_lead, superusers included) who are also staff.

One AdminSite for the whole project (novaops.apps.LeadAdminConfig makes it `admin.site`), so no ModelAdmin has to
say it: a staff account that is not a lead is refused at the admin's sign-in and on every admin page.
"""

from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from novaops import policies

LEADS_ONLY_MESSAGE = "The admin is for Tier 1 leads. This account can use NovaOps, but not the admin."


class LeadAdminAuthenticationForm(AdminAuthenticationForm):
    """Staff and active (Django's checks), then a lead: a staff member who is not one learns why, not just no."""

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not policies.is_lead(user):
            raise ValidationError(LEADS_ONLY_MESSAGE, code="not_lead")


class LeadAdminSite(admin.AdminSite):
    login_form = LeadAdminAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        # Every admin view asks this; a signed-in staff member who is not a lead gets the admin's sign-in page,
        # which says that this account may not open it.
        return super().has_permission(request) and policies.is_lead(request.user)
