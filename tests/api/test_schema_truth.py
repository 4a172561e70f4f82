"""What schemathesis found, each as a test that failed before the fix: the schema documents
every answer an operation can give, and the API refuses what the schema forbids."""

from __future__ import annotations

import pytest

from tests.api.conftest import token_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    return client.get("/api/schema/", HTTP_ACCEPT="application/json").json()


def test_every_operation_documents_the_answers_every_api_url_can_give(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "414", "429"} <= codes, (method, path)
            if "{" in path:
                assert "404" in codes, (method, path)
            where = {p["in"] for p in operation.get("parameters", [])}
            if "requestBody" in operation or where & {"query", "header"}:
                assert "400" in codes, (method, path)
            headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
            if "If-Match" in headers:
                assert "412" in codes, (method, path)


def test_scheduling_an_sms_documents_201_and_the_replay(schema):
    codes = set(schema["paths"]["/api/v1/cases/{case_id}/reminders/"]["post"]["responses"])
    assert {"200", "201", "422"} <= codes


def test_the_idempotency_key_is_required_for_every_token_caller(schema, supervisor, make_case):
    (header,) = [
        p for p in schema["paths"]["/api/v1/cases/"]["post"]["parameters"]
        if p["name"] == "Idempotency-Key"
    ]  # fmt: skip
    assert header["required"] is True
    make_case()
    body = {"channel": "hotline", "phone": "+79161234567", "category": "gosuslugi"}
    response = token_client(supervisor).post("/api/v1/cases/", body, format="json")
    assert response.status_code == 400 and "Idempotency-Key" in response.json()


def test_a_text_field_refuses_a_number(chat_backend, make_case):
    case = make_case()
    body = {
        "external_id": 0,
        "author": "subscriber",
        "text": "Алло",
        "sent_at": "2026-11-24T10:00:00Z",
    }
    response = chat_backend.post(f"/api/v1/cases/{case.pk}/messages/", body, format="json")
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert response.json()["external_id"] == ["Ожидается строка."]


@pytest.mark.parametrize(
    "sent_at", ["0172-01-01T05:00:00Z", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z"]
)
def test_a_chat_line_from_another_century_is_refused(supervisor, make_case, sent_at):
    """Year 0172 came back as «+02:30:17» (Moscow's offset before 1919), which no client
    parses; the input is bounded to 2000–2100 and the schema says so with a pattern."""
    case = make_case()
    body = {"external_id": "m-1", "author": "subscriber", "text": "Алло", "sent_at": sent_at}
    response = token_client(supervisor).post(
        f"/api/v1/cases/{case.pk}/messages/", body, format="json"
    )
    assert response.status_code == 400
    assert "2000–2100" in response.json()["sent_at"][0]


def test_adding_an_identifier_answers_its_case_count(supervisor, make_case):
    first, second = make_case(), make_case()
    api = token_client(supervisor)
    for case in (first, second):
        body = {"kind": "phone", "value": "+79990001122"}
        response = api.post(f"/api/v1/cases/{case.pk}/identifiers/", body, format="json")
        assert response.status_code == 201
    assert response.json()["case_count"] == 2


@pytest.mark.parametrize("param", ["created_before", "channel"])
def test_an_empty_filter_is_no_filter_and_the_schema_says_so(
    schema, staff_api, supervisor, make_case, param
):
    make_case()
    (documented,) = [
        p for p in schema["paths"]["/api/v1/cases/"]["get"]["parameters"] if p["name"] == param
    ]
    assert {"type": "string", "maxLength": 0} in documented["schema"]["anyOf"]
    response = staff_api(supervisor).get("/api/v1/cases/", {param: ""})
    assert response.status_code == 200 and len(response.json()["results"]) == 1


def test_free_text_inputs_are_declared_free_of_nul(schema):
    """fraudcenter.api_schema: DRF refuses NUL in every CharField, and the schema says so."""
    from fraudcenter.api_schema import NO_NUL

    note = schema["components"]["schemas"]["NoteInputRequest"]["properties"]["text"]
    assert note["pattern"] == NO_NUL


def test_the_cli_config_runs_the_checks_ci_runs():
    """schemathesis.toml (for `st run` against an installation) leaves out exactly the check
    tests/api/test_schema_fuzz.py leaves out, and counts a proxy's 414 as a refusal."""
    import tomllib
    from pathlib import Path

    config = tomllib.loads((Path(__file__).resolve().parents[2] / "schemathesis.toml").read_text())
    assert config["checks"]["positive_data_acceptance"]["enabled"] is False
    assert "414" in config["checks"]["negative_data_rejection"]["expected-statuses"]
