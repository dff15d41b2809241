"""Saved views (a named explorer or comparison state, shared with everyone) and each viewer's time zone."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class SavedViewPage(models.TextChoices):
    EXPLORE = "explore", "Metric explorer"
    COMPARE = "compare", "Cross-domain comparison"


class SavedView(models.Model):
    """A lead's named view: the page and its query string (dashboards.state), listed on the overview for all."""

    Page = SavedViewPage

    name = models.CharField(max_length=80)
    page = models.CharField(max_length=10, choices=SavedViewPage.choices)
    query = models.CharField(max_length=2000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="saved_views"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name")]
        constraints = [
            # Names are shown side by side on the overview: two that differ only in case would be indistinguishable.
            models.UniqueConstraint(Lower("name"), name="saved_view_name_unique_ci"),
            models.CheckConstraint(condition=Q(page__in=SavedViewPage.values), name="saved_view_page_valid"),
            models.CheckConstraint(condition=~Q(name=""), name="saved_view_name_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class ViewerPreference(models.Model):
    """What a viewer chose over the defaults; today the time zone times are shown in (blank: the browser's)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="viewer_preference")
    time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.user}: {self.time_zone or 'browser time zone'}"
