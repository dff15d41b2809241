from django.urls import path

from agents import views, views_tokens

app_name = "agents"
urlpatterns = [
    path("", views.domain_list, name="domain_list"),
    path("domains/<slug:slug>/", views.domain_detail, name="domain_detail"),
    path("divisions/<slug:slug>/", views.division_detail, name="division_detail"),
    path("agents/", views.agent_list, name="agent_list"),
    # <str:…>, not a handle converter: a malformed handle still needs sign-in first, then answers 404.
    path("agents/<str:handle>/", views.agent_detail, name="agent_detail"),
    path("agents/<str:handle>/edit/", views.agent_edit, name="agent_edit"),
    path("tokens/", views_tokens.token_list, name="token_list"),
    path("tokens/new/", views_tokens.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views_tokens.token_revoke, name="token_revoke"),
]
