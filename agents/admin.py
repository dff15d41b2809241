from django.contrib import admin

from agents.models import Agent, Division, Domain, Person


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


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["user", "role", "agent", "division", "domain"]
    list_filter = ["role", "domain"]
    list_select_related = ["user", "agent", "division", "domain"]
    search_fields = ["user__username", "agent__handle", "agent__callsign"]
    raw_id_fields = ["user", "agent"]
