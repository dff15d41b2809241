"""App configurations of NovaOps' own making."""

import django.contrib.admin.apps as admin_apps


class LeadAdminConfig(admin_apps.AdminConfig):
    """Django's admin with our AdminSite as `admin.site` (where every ModelAdmin registers): only Tier 1 leads.

    Not the default configuration of the novaops app (`default = False`); INSTALLED_APPS names it in place of
    "django.contrib.admin". The site is named by path: it imports the auth forms, which need the app registry.
    """

    default = False
    default_site = "novaops.admin.LeadAdminSite"
