"""Registry API routes under /api/v1/, namespace api:agents; each path also answers with a trailing slash."""

from django.urls import register_converter

from agents.apis import RegistryRoute
from agents.apis.agents import AgentCreateApi, AgentDetailApi, AgentListApi, AgentUpdateApi
from agents.apis.divisions import DivisionDetailApi, DivisionListApi
from agents.apis.domains import DomainDetailApi, DomainListApi
from agents.apis.fleet import FleetBulkApi, FleetExportApi, FleetImportApi
from agents.apis.heartbeats import HeartbeatApi
from agents.apis.lifecycle import AgentTransitionApi
from agents.services.lifecycle import TRANSITIONS
from novaops.routing import api_path


class TransitionConverter:
    """Only the six transition names, so agents/<handle>/<transition> leaves other agents/<handle>/… paths alone."""

    regex = "|".join(TRANSITIONS)

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(TransitionConverter, "transition")

urlpatterns = [
    # Fleet operations: before agents/<str:handle>, which would read "import" as a handle.
    *api_path("agents/import", FleetImportApi.as_view(), name="agent-import"),
    *api_path("agents/bulk", FleetBulkApi.as_view(), name="agent-bulk"),
    *api_path("agents/export", FleetExportApi.as_view(), name="agent-export"),
    *api_path("domains", DomainListApi.as_view(), name="domain-list"),
    *api_path("domains/<str:slug>", DomainDetailApi.as_view(), name="domain-detail"),
    *api_path("divisions", DivisionListApi.as_view(), name="division-list"),
    *api_path("divisions/<str:slug>", DivisionDetailApi.as_view(), name="division-detail"),
    # GET lists, POST creates; GET reads one, PATCH changes it.
    *api_path("agents", RegistryRoute.of(AgentListApi, AgentCreateApi), name="agent-list"),
    *api_path("agents/<str:handle>", RegistryRoute.of(AgentDetailApi, AgentUpdateApi), name="agent-detail"),
    *api_path("agents/<str:handle>/heartbeat", HeartbeatApi.as_view(), name="agent-heartbeat"),
    # The lifecycle: POST agents/<handle>/deploy, activate, degrade, recover, pause or retire.
    *api_path("agents/<str:handle>/<transition:transition>", AgentTransitionApi.as_view(), name="agent-transition"),
]
