from django.contrib import admin, messages

from agents.models import Agent, Division, DivisionToken, Domain, Person
from agents.services.tokens import division_token_create, division_token_revoke


class DivisionInline(admin.TabularInline):
    model = Division
    fields = ["name", "slug", "tier", "lead"]
    raw_id_fields = ["lead"]
    extra = 0


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "lead"]
    search_fields = ["name", "slug"]
    raw_id_fields = ["lead"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [DivisionInline]


@admin.register(Division)
class DivisionAdmin(admin.ModelAdmin):
    list_display = ["name", "domain", "tier", "lead"]
    list_filter = ["domain", "tier"]
    list_select_related = ["domain", "lead"]
    search_fields = ["name", "slug"]
    raw_id_fields = ["lead"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["handle", "callsign", "division", "tier", "role_title", "lifecycle_state"]
    list_filter = ["lifecycle_state", "tier", "division__domain", "division"]
    list_select_related = ["division"]
    search_fields = ["handle", "callsign", "role_title"]
    # The lifecycle moves only through its transitions (the agent page, the API), which check who may and record
    # why; liveness is written by heartbeats and landed metrics.
    readonly_fields = ["lifecycle_state", "deployed_version", "last_seen_at", "status_message"]


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "agent", "division", "domain"]
    list_filter = ["role", "domain"]
    list_select_related = ["user", "agent", "division", "domain"]
    search_fields = ["user__username", "agent__handle", "agent__callsign"]
    raw_id_fields = ["user", "agent"]


@admin.register(DivisionToken)
class DivisionTokenAdmin(admin.ModelAdmin):
    """Tokens are minted by the service (the secret is shown once, in a message) and revoked, never edited."""

    list_display = ["name", "division", "prefix", "state", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["division__domain", "division"]
    list_select_related = ["division"]
    search_fields = ["name", "prefix", "division__name"]
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        return (
            ["division", "name", "expires_at"]
            if obj is None
            else ["division", "name", "prefix", "created_by", "created_at", "expires_at", "last_used_at", "revoked_at"]
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def save_model(self, request, obj, form, change):
        if change:
            return
        token, secret = division_token_create(
            division=obj.division, name=obj.name, expires_at=obj.expires_at, created_by=request.user
        )
        obj.pk, obj.prefix, obj.secret_sha256, obj.created_at = (
            token.pk,
            token.prefix,
            token.secret_sha256,
            token.created_at,
        )
        messages.warning(request, f"Copy this token now; it is not stored and will not be shown again: {secret}")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset:
            division_token_revoke(token=token)
        messages.success(request, f"Revoked {queryset.count()} token(s).")
