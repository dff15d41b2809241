"""Escalation API routes under /api/v1/escalations (namespace api:escalations); each path also answers with a
trailing slash.

The include is `path("escalations", …)` (the list has no trailing slash), so the tickets' routes hang under one
`path("/", include(…))`: Django warns about a route that begins with a slash (urls.W002) unless it is an include's.
"""

from django.urls import include, path

from escalations.apis import EscalationRoute
from escalations.apis.outcomes import (
    AllocationDecideApi,
    AllocationProposeApi,
    AssigneesReassignApi,
    ClaimCreateApi,
    DecisionWriteApi,
    FollowUpCreateApi,
    SignOffCreateApi,
)
from escalations.apis.tickets import (
    EscalationCommentApi,
    EscalationCreateApi,
    EscalationDetailApi,
    EscalationListApi,
    EscalationUpdateApi,
)
from escalations.apis.transitions import TRANSITION_APIS
from novaops.routing import api_path

TICKET = "<int:number>"
# GET lists, POST raises; GET reads one, PATCH changes it.
escalation_list = EscalationRoute.of(EscalationListApi, EscalationCreateApi)

tickets = [
    # /api/v1/escalations/: the list's trailing-slash form.
    path("", escalation_list),
    *api_path(TICKET, EscalationRoute.of(EscalationDetailApi, EscalationUpdateApi), name="escalation-detail"),
    *api_path(f"{TICKET}/comments", EscalationCommentApi.as_view(), name="escalation-comments"),
    *api_path(f"{TICKET}/claims", ClaimCreateApi.as_view(), name="escalation-claims"),
    # GET is NovaOps' proposal, POST the decision.
    *api_path(
        f"{TICKET}/allocation",
        EscalationRoute.of(AllocationProposeApi, AllocationDecideApi),
        name="escalation-allocation",
    ),
    *api_path(f"{TICKET}/decision", DecisionWriteApi.as_view(), name="escalation-decision"),
    *api_path(f"{TICKET}/sign-off", SignOffCreateApi.as_view(), name="escalation-sign-off"),
    *api_path(f"{TICKET}/follow-ups", FollowUpCreateApi.as_view(), name="escalation-follow-ups"),
    *api_path(f"{TICKET}/assignees", AssigneesReassignApi.as_view(), name="escalation-assignees"),
]
# POST /api/v1/escalations/<number>/<transition>, one route (and operation) per transition.
for _name, _api in TRANSITION_APIS.items():
    tickets += api_path(f"{TICKET}/{_name}", _api.as_view(), name=f"escalation-{_name}")

urlpatterns = [
    path("", escalation_list, name="escalation-list"),
    path("/", include(tickets)),
]
