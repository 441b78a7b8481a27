"""Decisions on alerts, on SQLite and PostgreSQL: roles, false positives and their suppressions, reversal, four
eyes, concurrent decisions, and the marks /v1/screen puts on decided matches. Alerts are inserted with the ORM (the
monitoring runs that open them are tested elsewhere)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from screening import store
from screening.cli import main
from screening.decisions import is_suppressed
from screening.db import dispose
from screening.listfile import load_list_file
from screening.models import AuditEvent
from screening.monitoring_models import Alert, AlertDecision, Subject, Suppression
from tests.conftest import _key, make_app

REF = "cust-001"


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def analyst(app: Flask) -> dict[str, str]:
    return _bearer(_key(app, "analyst", "analyst-1"))


@pytest.fixture
def analyst2(app: Flask) -> dict[str, str]:
    return _bearer(_key(app, "analyst", "analyst-2"))


def _an_entry(app: Flask) -> tuple[str, str, str]:
    """An entry of the current list: its id, primary name and content hash as the store keeps it."""
    with app.extensions["db_sessionmaker"]() as session:
        version = store.current_version(session)
        assert version is not None, "the app fixture loads the built-in list"
        hashes, _ = store.version_links(session, version)
        entry_id = sorted(hashes)[0]
        doc = store.version_entry(session, version, entry_id)
        assert doc is not None
        name = next(n["name"] for n in doc["names"] if n["kind"] == "primary")
    return entry_id, name, hashes[entry_id]


def _open_alert(app: Flask, *, entry_hash: str | None = None, reference: str = REF,
                subject_hash: str = "s" * 64) -> tuple[int, str, str]:
    entry_id, name, current = _an_entry(app)
    with app.extensions["db_sessionmaker"]() as session:
        if session.get(Subject, reference) is None:
            session.add(Subject(reference=reference, name=name, type="any", data_hash=subject_hash, meta={}))
        alert = Alert(live_key=f"{reference}\x1f{entry_id}", subject_reference=reference, entry_id=entry_id,
                      status="open", score=0.97, matched_name=name, explanation={}, citations=[],
                      subject_name=name, subject_hash=subject_hash, entry_hash=entry_hash or current,
                      version_opened=store.current_version(session) or 1)
        session.add(alert)
        session.commit()
        return alert.id, entry_id, name


def _decide(client: FlaskClient, headers: dict[str, str], alert_id: int | str, decision: str,
            note: str = "checked the passport") -> Any:
    return client.post(f"/v1/alerts/{alert_id}/decision", json={"decision": decision, "note": note},
                       headers=headers)


def test_analyst_role_screens_and_decides_but_is_not_admin(app: Flask, client: FlaskClient,
                                                            analyst: dict[str, str],
                                                            screener: dict[str, str],
                                                            admin: dict[str, str]) -> None:
    alert_id, _, name = _open_alert(app)
    assert client.post("/v1/screen", json={"name": name}, headers=analyst).status_code == 200
    for url in ("/v1/audit", "/v1/lists/versions", f"/v1/alerts/{alert_id}/deliveries"):
        response = client.get(url, headers=analyst)
        assert response.status_code == 403, (url, response.get_json())
    refused = _decide(client, screener, alert_id, "false_positive")
    assert refused.status_code == 403 and refused.mimetype == "application/problem+json", refused.get_json()
    assert "analyst" in refused.get_json()["detail"]
    assert client.post(f"/v1/alerts/{alert_id}/decision", json={}).status_code == 401
    ok = _decide(client, analyst, alert_id, "false_positive")
    assert ok.status_code == 200, ok.get_json()
    assert _decide(client, admin, alert_id, "reverse", "wrong subject").status_code == 200
    assert client.get(f"/v1/alerts/{alert_id}/deliveries", headers=admin).get_json() == {
        "alert_id": alert_id, "deliveries": []}


def test_cli_creates_analyst_keys(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_DATABASE_URL", db_url)
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    result = runner.invoke(main, ["keys", "create", "--role", "analyst", "--label", "desk"])
    assert result.exit_code == 0, result.output
    assert "analyst" in runner.invoke(main, ["keys", "list"]).output
    assert runner.invoke(main, ["keys", "create", "--role", "root"]).exit_code != 0


def test_false_positive_suppresses_and_reverse_lifts(app: Flask, client: FlaskClient,
                                                     analyst: dict[str, str]) -> None:
    alert_id, entry_id, _ = _open_alert(app)
    _, _, entry_hash = _an_entry(app)
    response = _decide(client, analyst, alert_id, "false_positive", "  different birth date  ")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "false_positive" and body["alert_id"] == alert_id
    assert [(d["decision"], d["note"], d["actor"]) for d in body["decisions"]] == [
        ("false_positive", "different birth date", "analyst-1")], body
    with app.extensions["db_sessionmaker"]() as session:
        sup = session.get(Suppression, (REF, entry_id))
        assert sup is not None, "a false positive leaves a suppression"
        assert (sup.entry_hash, sup.subject_hash, sup.alert_id) == (entry_hash, "s" * 64, alert_id)
        audits = session.scalars(select(AuditEvent).where(AuditEvent.kind == "monitoring")).all()
        assert [(a.action, a.reference, a.data["decision"]) for a in audits] == [
            ("alert-decision", REF, "false_positive")]

    with app.extensions["db_sessionmaker"]() as session:
        assert is_suppressed(session, REF, entry_id, subject_hash="s" * 64, entry_hash=entry_hash)
        assert not is_suppressed(session, REF, entry_id, subject_hash="t" * 64, entry_hash=entry_hash)
        assert not is_suppressed(session, REF, entry_id, subject_hash="s" * 64, entry_hash="0" * 64)
    admin = _bearer(_key(app, "admin", "ops"))
    trail = client.get("/v1/audit", query_string={"kind": "monitoring"}, headers=admin).get_json()
    assert [e["action"] for e in trail["events"]] == ["alert-decision"], trail

    again = _decide(client, analyst, alert_id, "true_match")
    assert again.status_code == 409 and again.mimetype == "application/problem+json", again.get_json()

    reversed_ = _decide(client, analyst, alert_id, "reverse", "the DOB was misread")
    assert reversed_.status_code == 200, reversed_.get_json()
    assert reversed_.get_json()["status"] == "open"
    assert [d["decision"] for d in reversed_.get_json()["decisions"]] == ["false_positive", "reverse"]
    with app.extensions["db_sessionmaker"]() as session:
        assert session.get(Suppression, (REF, entry_id)) is None, "reverse lifts the suppression"
        assert session.get(Alert, alert_id).status == "open"
        assert len(session.scalars(select(AlertDecision).where(AlertDecision.alert_id == alert_id)).all()) == 2
    nothing = _decide(client, analyst, alert_id, "reverse", "again")
    assert nothing.status_code == 409, nothing.get_json()


def test_true_match_without_four_eyes_is_final(app: Flask, client: FlaskClient, analyst: dict[str, str]) -> None:
    alert_id, _, _ = _open_alert(app)
    response = _decide(client, analyst, alert_id, "true_match")
    assert response.get_json()["status"] == "true_match", response.get_json()
    assert _decide(client, analyst, alert_id, "confirm").status_code == 409


@pytest.mark.parametrize("body, field", [
    ({"note": "x"}, "decision"),
    ({"decision": "maybe", "note": "x"}, "decision"),
    ({"decision": "true_match"}, "note"),
    ({"decision": "true_match", "note": "   "}, "note"),
    ({"decision": "true_match", "note": 5}, "note"),
    ({"decision": "true_match", "note": "x" * 2001}, "note"),
    ({"decision": "true_match", "note": "x", "by": "me"}, "by"),
    (["true_match"], "(body)"),
])
def test_bad_bodies_name_the_field(app: Flask, client: FlaskClient, analyst: dict[str, str], body: Any,
                                   field: str) -> None:
    alert_id, _, _ = _open_alert(app)
    response = client.post(f"/v1/alerts/{alert_id}/decision", json=body, headers=analyst)
    assert response.status_code == 400 and response.mimetype == "application/problem+json", response.get_json()
    assert [e["field"] for e in response.get_json()["errors"]] == [field], response.get_json()


def test_unknown_alert_is_404(app: Flask, client: FlaskClient, analyst: dict[str, str],
                              admin: dict[str, str]) -> None:
    for alert_id in ("999999", "abc", "1e3", "99999999999", "2147483648"):
        response = _decide(client, analyst, alert_id, "true_match")
        assert response.status_code == 404, (alert_id, response.get_json())
        assert client.get(f"/v1/alerts/{alert_id}/deliveries", headers=admin).status_code == 404


def test_four_eyes_needs_a_second_key(db_url: str) -> None:
    app = make_app(db_url, FOUR_EYES=True)
    try:
        with app.extensions["db_sessionmaker"]() as session:
            store.publish_document(session, load_list_file(), actor="tests", action="load-list")
            session.commit()
        client = app.test_client()
        first, second = _bearer(_key(app, "analyst", "a1")), _bearer(_key(app, "admin", "boss"))
        alert_id, _, _ = _open_alert(app)
        pending = _decide(client, first, alert_id, "true_match", "same DOB and passport")
        assert pending.status_code == 200 and pending.get_json()["status"] == "pending_confirmation", pending.get_json()
        same = _decide(client, first, alert_id, "confirm", "I am sure")
        assert same.status_code == 409 and same.mimetype == "application/problem+json", same.get_json()
        assert "different API key" in same.get_json()["detail"]
        assert _decide(client, first, alert_id, "true_match", "really").status_code == 409
        assert _decide(client, second, alert_id, "false_positive", "no").status_code == 409
        done = _decide(client, second, alert_id, "true_match", "agreed")
        assert done.status_code == 200, done.get_json()
        body = done.get_json()
        assert body["status"] == "true_match"
        assert [d["decision"] for d in body["decisions"]] == ["true_match", "confirm"]
        assert body["decisions"][0]["key_id"] != body["decisions"][1]["key_id"]
        # A pending true match can also be reversed by its author, back to open.
        other, _, _ = _open_alert(app, reference="cust-002")
        assert _decide(client, first, other, "true_match").get_json()["status"] == "pending_confirmation"
        assert _decide(client, first, other, "reverse", "too quick").get_json()["status"] == "open"
    finally:
        dispose(app)


def test_concurrent_decisions_do_not_both_win(app: Flask, analyst: dict[str, str],
                                              analyst2: dict[str, str]) -> None:
    alert_id, entry_id, _ = _open_alert(app)
    barrier = threading.Barrier(6)
    statuses: list[int] = []
    lock = threading.Lock()

    def decide(headers: dict[str, str], decision: str) -> None:
        client = app.test_client()
        barrier.wait()
        code = _decide(client, headers, alert_id, decision).status_code
        with lock:
            statuses.append(code)

    threads = [threading.Thread(target=decide, args=(h, d)) for h, d in
               [(analyst, "true_match"), (analyst2, "false_positive")] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(statuses) == [200, 409, 409, 409, 409, 409], statuses
    with app.extensions["db_sessionmaker"]() as session:
        decided = session.scalars(select(AlertDecision).where(AlertDecision.alert_id == alert_id)).all()
        assert len(decided) == 1, [d.decision for d in decided]
        status = session.get(Alert, alert_id).status
        assert status == decided[0].decision
        assert (session.get(Suppression, (REF, entry_id)) is not None) == (status == "false_positive")


def test_screen_with_reference_marks_decided_matches(app: Flask, client: FlaskClient,
                                                     analyst: dict[str, str]) -> None:
    alert_id, entry_id, name = _open_alert(app)
    assert _decide(client, analyst, alert_id, "false_positive", "other person").status_code == 200

    def match_of(body: dict[str, Any]) -> dict[str, Any]:
        found = [m for m in body["matches"] if m["entry_id"] == entry_id]
        assert found, f"{name} should match {entry_id}: {body['matches']}"
        return found[0]

    marked = match_of(client.post("/v1/screen", json={"name": name, "reference": REF}, headers=analyst).get_json())
    assert marked["decision"]["status"] == "false_positive", marked
    assert marked["decision"]["alert_id"] == alert_id and marked["decision"]["note"] == "other person"
    assert marked["decision"]["decided_at"].endswith("Z")
    plain = match_of(client.post("/v1/screen", json={"name": name}, headers=analyst).get_json())
    assert "decision" not in plain, "no reference, no decision"
    other = match_of(client.get("/v1/screen", query_string={"name": name, "reference": "someone-else"},
                                headers=analyst).get_json())
    assert "decision" not in other
    batch = client.post("/v1/screen/batch", json={"queries": [{"id": "a", "name": name, "reference": REF},
                                                              {"id": "b", "name": name}]}, headers=analyst)
    results = {r["id"]: r for r in batch.get_json()["results"]}
    assert match_of(results["a"])["decision"]["status"] == "false_positive"
    assert "decision" not in match_of(results["b"])

    # The entry's data changed since the decision (the suppression holds another hash): no longer marked.
    with app.extensions["db_sessionmaker"]() as session:
        session.get(Suppression, (REF, entry_id)).entry_hash = "0" * 64
        session.commit()
    stale = match_of(client.post("/v1/screen", json={"name": name, "reference": REF}, headers=analyst).get_json())
    assert "decision" not in stale, stale


def test_screen_marks_a_true_match_and_not_a_changed_subject(app: Flask, client: FlaskClient,
                                                            analyst: dict[str, str]) -> None:
    alert_id, entry_id, name = _open_alert(app)
    assert _decide(client, analyst, alert_id, "true_match", "confirmed by compliance").status_code == 200
    body = client.post("/v1/screen", json={"name": name, "reference": REF}, headers=analyst).get_json()
    match = next(m for m in body["matches"] if m["entry_id"] == entry_id)
    assert match["decision"]["status"] == "true_match" and match["decision"]["note"] == "confirmed by compliance"

    second, _, _ = _open_alert(app, reference="cust-009", subject_hash="a" * 64)
    assert _decide(client, analyst, second, "false_positive", "fp").status_code == 200
    with app.extensions["db_sessionmaker"]() as session:
        session.get(Subject, "cust-009").data_hash = "b" * 64  # the subject was edited since
        session.commit()
    body = client.post("/v1/screen", json={"name": name, "reference": "cust-009"}, headers=analyst).get_json()
    match = next(m for m in body["matches"] if m["entry_id"] == entry_id)
    assert "decision" not in match, match


def test_marking_a_large_batch_stays_within_parameter_limits(app: Flask, client: FlaskClient,
                                                             analyst: dict[str, str]) -> None:
    from screening.decisions import mark_decided
    from screening.liststate import get_state

    alert_id, entry_id, _ = _open_alert(app)
    assert _decide(client, analyst, alert_id, "false_positive", "fp").status_code == 200
    snapshot = get_state(app).snapshot()
    ids = sorted(snapshot.entries)[:100]
    assert entry_id in ids
    results = [(f"ref-{i}" if i else REF, [{"entry_id": eid} for eid in ids]) for i in range(1200)]
    with app.extensions["db_sessionmaker"]() as session:
        mark_decided(session, results, snapshot.entries)
    marked = [(ref, m["entry_id"]) for ref, matches in results for m in matches if "decision" in m]
    assert marked == [(REF, entry_id)], marked[:5]
