"""Input that cannot be stored or answered gets a 400 naming the field, before anything is screened or written, and
the same answer on SQLite and PostgreSQL; stored rows of any content stay readable."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from screening.models import AuditEvent
from tests.test_api import assert_problem


def audit_rows(app: Flask) -> int:
    with app.extensions["db_sessionmaker"]() as session:
        return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def field_of(response) -> str:  # type: ignore[no-untyped-def]
    body = assert_problem(response, 400)
    return body["errors"][0]["field"]


@pytest.mark.parametrize("text", ["Lone\ud800Surrogate", "Nul\x00Byte"])
def test_a_name_that_cannot_be_stored_is_refused_before_anything_is_written(
        app: Flask, client: FlaskClient, screener: dict, text: str) -> None:  # type: ignore[type-arg]
    before = audit_rows(app)
    assert field_of(client.post("/v1/screen", json={"name": text}, headers=screener)) == "name"
    assert field_of(client.post("/v1/screen", json={"name": "Chen", "reference": text}, headers=screener)) == "reference"
    batch = {"queries": [{"id": "1", "name": "Chen Quanguo"}, {"id": text, "name": "Zhu Hailun"}]}
    assert field_of(client.post("/v1/screen/batch", json=batch, headers=screener)) == "queries.1.id"
    assert audit_rows(app) == before


def test_nul_in_query_arguments_and_paths_is_refused(client: FlaskClient, screener: dict, admin: dict) -> None:  # type: ignore[type-arg]
    assert field_of(client.get("/v1/screen?name=Chen%00Quanguo", headers=screener)) == "name"
    assert field_of(client.get("/v1/audit?actor=ops%00", headers=admin)) == "actor"
    assert field_of(client.get("/v1/entries/chen-quanguo%00", headers=screener)) == "entry_id"
    assert field_of(client.get("/v1/jobs/%00", headers=screener)) == "job_id"


def test_deeply_nested_json_is_a_400(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    for depth in (100, 100_000):
        r = client.post("/v1/screen", data="[" * depth, content_type="application/json", headers=screener)
        assert field_of(r) == "(body)", depth


def test_numbers_are_numbers(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    assert field_of(client.post("/v1/screen", json={"name": "Chen", "threshold": True}, headers=screener)) == "threshold"
    assert field_of(client.post("/v1/screen", json={"name": "Chen", "limit": True}, headers=screener)) == "limit"
    r = client.post("/v1/screen", json={"name": "Chen Quanguo", "threshold": 1}, headers=screener)
    assert r.status_code == 200 and r.get_json()["threshold"] == 1.0, r.text


def test_unknown_fields_of_a_batch_are_refused(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    body = {"queries": [{"id": "1", "name": "Chen Quanguo"}], "threshold": 0.5}
    assert field_of(client.post("/v1/screen/batch", json=body, headers=screener)) == "threshold"
    body = {"queries": [{"id": "1", "name": "Chen Quanguo", "colour": "red"}]}
    assert field_of(client.post("/v1/screen/batch", json=body, headers=screener)) == "queries[0] (id 1).colour"


def test_filters_and_cursors_are_checked(client: FlaskClient, screener: dict, admin: dict) -> None:  # type: ignore[type-arg]
    assert field_of(client.get("/v1/entries?type=people", headers=screener)) == "type"
    assert field_of(client.get("/v1/entries?status=sanctioned", headers=screener)) == "status"
    r = client.get("/v1/entries?type=organization&status=designated", headers=screener)
    assert r.status_code == 200 and r.get_json()["total"] > 0, r.text
    assert field_of(client.get("/v1/audit?cursor=%C2%B2", headers=admin)) == "cursor"
    assert field_of(client.get("/v1/audit?limit=%C2%B2", headers=admin)) == "limit"
    assert field_of(client.get("/v1/entries?offset=%D9%A3", headers=screener)) == "offset"  # Arabic-Indic 3


def test_the_audit_trail_reads_back_any_stored_row(app: Flask, client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    # A row written before the guard existed (the trail keeps screenings for the retention period).
    with app.extensions["db_sessionmaker"]() as session:
        session.add(AuditEvent(kind="screening", action="screen", actor="old", list_version=1,
                               data={"query": "Lone\ud800Surrogate", "matches": []}))
        session.commit()
    r = client.get("/v1/audit?actor=old", headers=admin)
    assert r.status_code == 200, r.text
    assert r.get_json()["events"][0]["data"]["query"] == "Lone\ud800Surrogate"


def test_a_parameter_the_operation_does_not_take_is_refused(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    # A misspelt threshold silently ignored would screen at the default one.
    body = assert_problem(client.get("/v1/screen?name=Chen+Quanguo&treshold=0.5", headers=screener), 400)
    assert body["errors"][0]["field"] == "treshold" and "threshold" in body["errors"][0]["message"], body
    assert client.get("/v1/screen?name=Chen+Quanguo&threshold=0.5", headers=screener).status_code == 200
