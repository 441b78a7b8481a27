"""The HTTP contract on SQLite and PostgreSQL: screening, entries, sources, keys, and the one error shape."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.test_listfile import EXPECTED_IDS

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json", response.mimetype
    body = response.get_json(force=True)
    assert PROBLEM_KEYS <= set(body), body
    assert body["status"] == status, body
    return body


def test_screen_chen_quanguo_answers_the_entry_with_citations(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/screen", json={"name": "Chen Quanguo", "type": "person", "reference": "customer-4711"},
                    headers=screener)
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["list_version"] == 1
    assert body["query"] == {"name": "Chen Quanguo", "normalized": ["chen quanguo"], "type": "person",
                             "reference": "customer-4711"}
    top = body["matches"][0]
    assert top["entry_id"] == "chen-quanguo" and top["score"] == 1.0, top
    assert top["name"] == "CHEN, Quanguo" and top["status"] == "designated" and top["programs"] == ["GLOMAG"]
    assert top["citations"] and all(c["quote"] and c["title"] and c["source_id"] for c in top["citations"])
    assert top["explanation"]["parts"], top["explanation"]
    assert body["screening_id"] and body["screened_at"].endswith("Z")


def test_get_screen_and_no_match(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    r = client.get("/v1/screen", query_string={"name": "John Smith", "type": "person"}, headers=screener)
    assert r.status_code == 200, r.text
    assert r.get_json()["matches"] == []
    r = client.get("/v1/screen", query_string={"name": "陳全國"}, headers=screener)
    assert r.get_json()["matches"][0]["entry_id"] == "chen-quanguo", r.text


def test_threshold_and_limit_are_honoured(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/screen", json={"name": "Wang", "threshold": 0.1, "limit": 2}, headers=screener)
    body = r.get_json()
    assert body["threshold"] == 0.1
    assert 1 <= len(body["matches"]) <= 2
    assert [m["score"] for m in body["matches"]] == sorted((m["score"] for m in body["matches"]), reverse=True)


def test_birth_date_adjusts_the_score(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    same = client.post("/v1/screen", json={"name": "Chen Quangou", "birth_date": "1955"}, headers=screener).get_json()
    other = client.post("/v1/screen", json={"name": "Chen Quangou", "birth_date": "1980-02-03", "threshold": 0.5},
                        headers=screener).get_json()
    assert same["matches"][0]["score"] > other["matches"][0]["score"]
    reasons = [a["reason"] for a in other["matches"][0]["explanation"]["adjustments"]]
    assert any("birth date" in r for r in reasons), reasons


@pytest.mark.parametrize("entry_id", sorted(EXPECTED_IDS))
def test_every_entry_is_served_with_facts_and_citations(client: FlaskClient, screener: dict, entry_id: str) -> None:  # type: ignore[type-arg]
    r = client.get(f"/v1/entries/{entry_id}", headers=screener)
    assert r.status_code == 200, r.text
    entry = r.get_json()
    assert entry["id"] == entry_id and entry["names"] and entry["programs"] and entry["status"]
    assert entry["citations"] and all(c["quote"] and c["publisher"] for c in entry["citations"])
    assert entry["list_version"] == 1


def test_entry_list_filters(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    everything = client.get("/v1/entries", headers=screener).get_json()
    assert everything["total"] == 9
    orgs = client.get("/v1/entries?type=organization", headers=screener).get_json()
    assert {e["id"] for e in orgs["entries"]} == {"xinjiang-public-security-bureau",
                                                   "hangzhou-hikvision-digital-technology",
                                                   "zhejiang-dahua-technology"}
    cmic = client.get("/v1/entries?program=CMIC-EO13959", headers=screener).get_json()
    assert [e["id"] for e in cmic["entries"]] == ["hangzhou-hikvision-digital-technology"]
    found = client.get("/v1/entries?q=XPSB", headers=screener).get_json()
    assert [e["id"] for e in found["entries"]] == ["xinjiang-public-security-bureau"]


def test_sources(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    sources = client.get("/v1/sources", headers=screener).get_json()["sources"]
    assert any(s["id"] == "treasury-sm1055" and s["kind"] == "official" for s in sources)
    one = client.get("/v1/sources/wsj-2018-08-29", headers=screener).get_json()
    assert "hu-lianhe" in one["cited_by"], one
    assert_problem(client.get("/v1/sources/nope", headers=screener), 404)


def test_missing_and_wrong_keys_are_401(client: FlaskClient) -> None:
    assert_problem(client.get("/v1/screen?name=x"), 401)
    assert_problem(client.get("/v1/screen?name=x", headers={"Authorization": "Bearer scr_nope_nope"}), 401)
    assert_problem(client.get("/v1/screen?name=x", headers={"Authorization": "Basic abc"}), 401)


def test_revoked_key_is_401(app, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    from screening.auth import create_key, revoke_key

    with app.extensions["db_sessionmaker"]() as session:
        key = create_key(session, role="screener", label="temp")
        session.commit()
        assert client.get("/v1/screen?name=x", headers={"Authorization": f"Bearer {key}"}).status_code == 200
        assert revoke_key(session, key.split("_")[1])
        session.commit()
    assert_problem(client.get("/v1/screen?name=x", headers={"Authorization": f"Bearer {key}"}), 401)


def test_keys_are_stored_hashed(app) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from screening.auth import create_key
    from screening.models import ApiKey

    with app.extensions["db_sessionmaker"]() as session:
        key = create_key(session, role="admin", label="x")
        session.commit()
        stored = session.scalars(select(ApiKey.key_hash)).all()
    assert key not in stored and all(len(h) == 64 for h in stored)


@pytest.mark.parametrize("body, field", [
    ({}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 501}, "name"),
    ({"name": "x", "type": "robot"}, "type"),
    ({"name": "x", "threshold": 2}, "threshold"),
    ({"name": "x", "limit": 0}, "limit"),
    ({"name": "x", "birth_date": "1955-13-01"}, "birth_date"),
    ({"name": "x", "country": "China"}, "country"),
    ({"name": "x", "colour": "red"}, "colour"),
])
def test_bad_screen_requests_name_the_field(client: FlaskClient, screener: dict, body: dict, field: str) -> None:  # type: ignore[type-arg]
    problem = assert_problem(client.post("/v1/screen", json=body, headers=screener), 400)
    assert any(e["field"] == field for e in problem["errors"]), problem


def test_non_json_body_is_400(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    problem = assert_problem(client.post("/v1/screen", data="name=x", headers=screener), 400)
    assert problem["errors"][0]["field"] == "(body)"


def test_error_shape_for_404_405_and_413(app, client: FlaskClient, screener: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    assert_problem(client.get("/v1/entries/no-such-entry", headers=screener), 404)
    assert_problem(client.get("/no/such/route"), 404)
    assert_problem(client.delete("/healthz"), 405)
    app.config["MAX_CONTENT_LENGTH"] = 100
    assert_problem(client.post("/v1/screen", data="x" * 1000, content_type="application/json", headers=screener), 413)


def test_error_shape_for_500(app, client: FlaskClient) -> None:  # type: ignore[no-untyped-def]
    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    body = assert_problem(client.get("/boom"), 500)
    assert "boom" not in body["detail"], body


def test_batch(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/screen/batch", headers=screener, json={"queries": [
        {"id": "q1", "name": "Zhu Hailun", "type": "person"},
        {"id": "q2", "name": "Acme Trading LLC"},
        {"id": "q3", "name": "海康威视"}]})
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["list_version"] == 1
    assert [x["id"] for x in body["results"]] == ["q1", "q2", "q3"]
    assert body["results"][0]["matches"][0]["entry_id"] == "zhu-hailun"
    assert body["results"][1]["matches"] == []
    assert body["results"][2]["matches"][0]["entry_id"] == "hangzhou-hikvision-digital-technology"


def test_bad_batch_query_fails_the_batch_naming_its_id(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    problem = assert_problem(client.post("/v1/screen/batch", headers=screener, json={"queries": [
        {"id": "ok", "name": "Zhu Hailun"}, {"id": "bad-one", "name": ""}]}), 400)
    assert problem["query_id"] == "bad-one"
    assert any("bad-one" in e["field"] for e in problem["errors"]), problem


def test_batch_size_limit(app, client: FlaskClient, screener: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    app.config["MAX_BATCH"] = 2
    queries = [{"id": str(i), "name": "x"} for i in range(3)]
    problem = assert_problem(client.post("/v1/screen/batch", headers=screener, json={"queries": queries}), 400)
    assert problem["errors"][0]["field"] == "queries"


def test_screenings_are_audited(app, client: FlaskClient, screener: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    from sqlalchemy import select

    from screening.models import AuditEvent

    client.post("/v1/screen", json={"name": "Gao Yan", "reference": "cust-9"}, headers=screener)
    with app.extensions["db_sessionmaker"]() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.kind == "screening")).one()
    assert event.actor == "analyst" and event.reference == "cust-9" and event.list_version == 1
    assert event.data["matches"][0]["entry_id"] == "gao-yan"


def test_health_and_readiness(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["list_version"] == 1, ready


def test_not_ready_without_a_list(empty_app) -> None:  # type: ignore[no-untyped-def]
    assert_problem(empty_app.test_client().get("/readyz"), 503)
