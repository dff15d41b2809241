from django.urls import path

from agents.views import lifecycle, registry, tokens

app_name = "agents"
urlpatterns = [
    path("", registry.domain_list, name="domain_list"),
    path("domains/<slug:slug>/", registry.domain_detail, name="domain_detail"),
    path("divisions/<slug:slug>/", registry.division_detail, name="division_detail"),
    path("agents/", registry.agent_list, name="agent_list"),
    # <str:…>, not a handle converter: a malformed handle still needs sign-in first, then answers 404.
    path("agents/<str:handle>/", registry.agent_detail, name="agent_detail"),
    path("agents/<str:handle>/edit/", registry.agent_edit, name="agent_edit"),
    path(
        "agents/<str:handle>/lifecycle/<slug:transition>/",
        lifecycle.agent_transition_view,
        name="agent_transition",
    ),
    path("tokens/", tokens.token_list, name="token_list"),
    path("tokens/new/", tokens.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
]
