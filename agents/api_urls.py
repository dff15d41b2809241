"""Registry API routes, included under /api/v1/ with the namespace api:agents (no trailing slashes)."""

from django.urls import path

from agents.api import (
    AgentCreateApi,
    AgentDetailApi,
    AgentListApi,
    AgentUpdateApi,
    DivisionDetailApi,
    DivisionListApi,
    DomainDetailApi,
    DomainListApi,
)
from novaops.api import MethodRoute

urlpatterns = [
    path("domains", DomainListApi.as_view(), name="domain-list"),
    path("domains/<str:slug>", DomainDetailApi.as_view(), name="domain-detail"),
    path("divisions", DivisionListApi.as_view(), name="division-list"),
    path("divisions/<str:slug>", DivisionDetailApi.as_view(), name="division-detail"),
    # GET lists, POST creates; GET reads one, PATCH changes it.
    path("agents", MethodRoute.of(AgentListApi, AgentCreateApi), name="agent-list"),
    path("agents/<str:handle>", MethodRoute.of(AgentDetailApi, AgentUpdateApi), name="agent-detail"),
]
