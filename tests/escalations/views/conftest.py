"""Page clients for the escalation pages: `page_as("runtime-lead")` signs the test client in as that person of the
org (anonymous for "anonymous")."""

import pytest

from tests.escalations.conftest import Org

# Usernames of the org fixture, by the attribute that holds each.
PEOPLE = {
    "core": "core",
    "meridian": "meridian",
    "runtime-lead": "runtime_lead",
    "tools-lead": "tools_lead",
    "workflow-lead": "workflow_lead",
    "runtime-member": "runtime_member",
    "tools-member": "tools_member",
    "workflow-member": "workflow_member",
    "viewer": "viewer",
}


@pytest.fixture
def page_as(client, org: Org):
    def make(username: str):
        client.logout()
        if username != "anonymous":
            client.force_login(org.user(PEOPLE[username]))
        return client

    return make
