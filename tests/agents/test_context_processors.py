"""The layout's user menu, fed by agents.context_processors.person."""

import re

import pytest
from django.urls import reverse

from agents.models import Person


@pytest.mark.parametrize(
    ("role", "badge"), [("lead", "Tier 1 lead"), ("member", "Division member"), ("viewer", "Viewer")]
)
def test_layout_shows_the_user_menu_with_role_and_a_post_sign_out(client_as, registry, role, badge, cast):
    response = client_as(role).get(reverse("agents:domain_list"))
    html = response.content.decode()

    assert cast.by_name(role).username in html
    assert f'role-badge--{Person.objects.get(user=cast.by_name(role)).role}">{badge}</span>' in html
    assert re.search(r'<form method="post" action="/accounts/logout/"[^>]*>\s*<input type="hidden" name="csrf', html)
    assert 'href="/registry/agents/" aria-current="page"' not in html
    assert 'href="/registry/" aria-current="page">Domains' in html


@pytest.mark.parametrize(("role", "sees_tokens"), [("lead", True), ("superuser", True), ("member", False)])
def test_only_leads_see_the_tokens_link(client_as, registry, role, sees_tokens):
    html = client_as(role).get(reverse("agents:domain_list")).content.decode()
    assert (f'href="{reverse("agents:token_list")}"' in html) is sees_tokens
