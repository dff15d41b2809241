"""Tickets and their trail are read-only here: tickets change through their pages and API (which check who may
and record who did), trail rows cannot change at all (a database trigger refuses UPDATE and DELETE on them, also
for the admin). Leads edit the SLA policy here or on the SLA page."""

from django.apps import apps
from django.contrib import admin

from escalations.models import Escalation, SlaPolicy
from escalations.services.sla import sla_policy_update


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Escalation)
class EscalationAdmin(ReadOnlyAdmin):
    list_display = ["key", "kind", "title", "priority", "state", "level", "raised_division", "created_at"]
    list_filter = ["kind", "state", "priority", "level"]
    list_select_related = ["raised_division"]
    search_fields = ["title", "number"]


@admin.register(SlaPolicy)
class SlaPolicyAdmin(admin.ModelAdmin):
    list_display = ["priority", "acknowledge_within", "resolve_within"]

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        sla_policy_update(
            actor=request.user,
            priority=obj.priority,
            acknowledge_within=obj.acknowledge_within,
            resolve_within=obj.resolve_within,
        )


class TrailAdmin(ReadOnlyAdmin):
    list_display = ["pgh_created_at", "pgh_label", "pgh_obj_id", "pgh_context"]
    list_filter = ["pgh_label"]
    ordering = ["-pgh_created_at"]


for event_model in apps.get_app_config("escalations").get_models():
    if event_model.__name__.endswith("Event"):
        admin.site.register(event_model, TrailAdmin)
