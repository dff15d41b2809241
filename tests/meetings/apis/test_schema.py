"""The meetings API in the OpenAPI schema: every path and operation, problems documented, sessions only, and what a
body must hold."""

OCCURRENCE = "/api/v1/meetings/occurrences/{series_id}/{recurrence_id}"
OPERATIONS = {
    "/api/v1/meetings": {"get", "post"},
    "/api/v1/meetings/{series_id}": {"get"},
    "/api/v1/meetings/occurrences": {"get"},
    f"{OCCURRENCE}/agenda": {"get"},
    f"{OCCURRENCE}/minutes": {"get"},
    f"{OCCURRENCE}/action-items": {"post"},
}


def test_every_operation_is_in_the_schema_once(schema):
    paths = {path: set(item) - {"parameters"} for path, item in schema["paths"].items() if "/meetings" in path}

    assert paths == OPERATIONS
    operation_ids = [
        schema["paths"][path][method]["operationId"] for path, methods in OPERATIONS.items() for method in methods
    ]
    assert len(set(operation_ids)) == len(operation_ids)
    assert all(operation_id.startswith("meetings_") for operation_id in operation_ids)


def test_every_operation_documents_its_problems_and_takes_a_session_only(schema):
    for path, methods in OPERATIONS.items():
        for method in methods:
            operation = schema["paths"][path][method]
            assert {"401", "403"} <= set(operation["responses"]), (path, method)
            if "{" in path:
                assert "404" in operation["responses"], (path, method)
            assert next(iter(operation["responses"]["403"]["content"])) == "application/problem+json"
            assert operation["security"] == [{"cookieAuth": []}], (path, method)
    assert "409" in schema["paths"][f"{OCCURRENCE}/action-items"]["post"]["responses"]


def test_bodies_and_parameters_state_what_they_need(schema):
    paths, components = schema["paths"], schema["components"]["schemas"]
    create = components["MeetingSeriesCreate"]

    assert set(create["required"]) == {
        "title",
        "kind",
        "rrule",
        "start_date",
        "start_time",
        "timezone",
        "duration_minutes",
    }
    assert create["additionalProperties"] is False
    assert (
        create["properties"]["duration_minutes"]["minimum"],
        create["properties"]["duration_minutes"]["maximum"],
    ) == (1, 1440)
    assert paths["/api/v1/meetings"]["post"]["requestBody"]["required"] is True
    assert paths[f"{OCCURRENCE}/action-items"]["post"]["requestBody"]["required"] is True
    assert set(components["MeetingActionItemCreate"]["required"]) == {"title", "owner"}
    window = {p["name"]: p for p in paths["/api/v1/meetings/occurrences"]["get"]["parameters"]}
    assert set(window) == {"start", "end"} and all(p["required"] for p in window.values())
    assert components["MeetingOccurrenceStatusEnum"]["enum"] == ["scheduled", "moved", "cancelled"]
    assert components["MeetingKindEnum"]["enum"] == ["weekly_sync", "monthly_deep_dive", "quarterly_review", "other"]
    recurrence_id = next(p for p in paths[f"{OCCURRENCE}/agenda"]["get"]["parameters"] if p["name"] == "recurrence_id")
    assert recurrence_id["schema"]["pattern"] == "^[0-9]{8}T[0-9]{6}Z$"
