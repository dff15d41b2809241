"""Saved views and viewer preferences in the admin: for looking and for clean-up; leads manage saved views on
/dashboards/views/, where the service checks names and queries."""

from django.contrib import admin

from dashboards.models import SavedView, ViewerPreference


@admin.register(SavedView)
class SavedViewAdmin(admin.ModelAdmin):
    list_display = ["name", "page", "created_by", "updated_at"]
    list_filter = ["page"]
    list_select_related = ["created_by"]
    search_fields = ["name", "query"]
    raw_id_fields = ["created_by"]
    # The query is checked by dashboards.services.saved_views when saved from the pages; here it is read-only so a
    # hand edit cannot store a view that would not open.
    readonly_fields = ["query", "created_at", "updated_at"]


@admin.register(ViewerPreference)
class ViewerPreferenceAdmin(admin.ModelAdmin):
    list_display = ["user", "time_zone"]
    list_select_related = ["user"]
    search_fields = ["user__username", "time_zone"]
    raw_id_fields = ["user"]
