"""The escalations API in the OpenAPI schema: every path and operation, problems documented, which operations a
division token may use, and what a body must hold."""

from escalations.constants import TRANSITIONS

TICKET = "/api/v1/escalations/{number}"
OPERATIONS = {
    "/api/v1/escalations": {"get", "post"},
    TICKET: {"get", "patch"},
    f"{TICKET}/comments": {"post"},
    f"{TICKET}/claims": {"post"},
    f"{TICKET}/allocation": {"get", "post"},
    f"{TICKET}/decision": {"post"},
    f"{TICKET}/sign-off": {"post"},
    f"{TICKET}/follow-ups": {"post"},
    f"{TICKET}/assignees": {"post"},
    **{f"{TICKET}/{name}": {"post"} for name in TRANSITIONS},
}


def test_every_operation_is_in_the_schema_once(schema):
    paths = {path: set(item) - {"parameters"} for path, item in schema["paths"].items() if "/escalations" in path}

    assert paths == OPERATIONS
    operation_ids = [
        schema["paths"][path][method]["operationId"] for path, methods in OPERATIONS.items() for method in methods
    ]
    assert len(set(operation_ids)) == len(operation_ids)


def test_every_operation_documents_its_problems(schema):
    for path, methods in OPERATIONS.items():
        for method in methods:
            responses = schema["paths"][path][method]["responses"]
            assert {"401", "403"} <= set(responses), (path, method)
            if path != "/api/v1/escalations":
                assert "404" in responses, (path, method)
            if method in ("post", "patch") and path not in ("/api/v1/escalations", f"{TICKET}/comments"):
                assert "409" in responses, (path, method)
            problem = next(iter(responses["403"]["content"]))
            assert problem == "application/problem+json"


def test_tokens_are_documented_where_they_may_act(schema):
    paths = schema["paths"]

    for path, method in [
        ("/api/v1/escalations", "get"),
        ("/api/v1/escalations", "post"),
        (TICKET, "get"),
        (f"{TICKET}/comments", "post"),
    ]:
        assert {"divisionToken", "cookieAuth"} <= {key for item in paths[path][method]["security"] for key in item}
    for path in (f"{TICKET}/acknowledge", f"{TICKET}/allocation"):
        assert paths[path]["post"]["security"] == [{"cookieAuth": []}]
    assert paths[TICKET]["patch"]["security"] == [{"cookieAuth": []}]


def test_bodies_state_what_they_need(schema):
    paths, components = schema["paths"], schema["components"]["schemas"]
    create = components["EscalationCreate"]

    assert set(create["required"]) == {"kind", "title", "description", "priority", "divisions"}
    assert create["additionalProperties"] is False
    assert paths["/api/v1/escalations"]["post"]["requestBody"]["required"] is True
    # A transition's body (only `version`) may be left out.
    assert not paths[f"{TICKET}/acknowledge"]["post"]["requestBody"].get("required", False)
    assert components["PatchedEscalationUpdate"]["required"] == ["version"]
    assert components["EscalationKindEnum"]["enum"] == ["friction", "resource_conflict", "strategic_alignment"]
    parameters = {p["name"] for p in paths["/api/v1/escalations"]["get"]["parameters"]}
    assert parameters == {
        "kind",
        "state",
        "priority",
        "level",
        "division",
        "assignee",
        "breached",
        "mine",
        "sort",
        "page",
        "page_size",
    }
