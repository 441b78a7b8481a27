"""Ongoing monitoring: subjects, the one run each list version triggers, alerts opened once and cleared, suppressions,
runs taken up after a dead worker, full runs. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from screening import monitoring, monitoring_runner
from screening.db import dispose
from screening.models import utcnow
from screening.monitoring_models import Alert, MonitoringRun, Subject, Suppression, WebhookDelivery
from tests.conftest import make_app
from tests.test_workers import _get, served  # noqa: F401  (served: the two-worker gunicorn fixture)


def add_entry(client: FlaskClient, admin: dict, entry_id: str, name: str) -> int:  # type: ignore[type-arg]
    template = client.get("/v1/entries/gao-yan", headers=admin).get_json()
    new = {**template, "id": entry_id, "names": [{"name": name, "kind": "primary"}]}
    r = client.post("/v1/entries", json=new, headers=admin)
    assert r.status_code == 201, r.text
    return int(r.headers["ETag"].strip('W/"'))


def delist(client: FlaskClient, admin: dict, entry_id: str) -> None:  # type: ignore[type-arg]
    r = client.delete(f"/v1/entries/{entry_id}", headers={**admin, "If-Match": "*"})
    assert r.status_code == 200, r.text


def alerts(app: Flask, **where: Any) -> list[Alert]:
    with app.extensions["db_sessionmaker"]() as session:
        query = select(Alert).order_by(Alert.id)
        for key, value in where.items():
            query = query.where(getattr(Alert, key) == value)
        return list(session.scalars(query))


def runs(app: Flask) -> list[MonitoringRun]:
    with app.extensions["db_sessionmaker"]() as session:
        return list(session.scalars(select(MonitoringRun).order_by(MonitoringRun.id)))


def subjects(client: FlaskClient, admin: dict, *items: tuple[str, str]) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/monitoring/subjects", json=[{"reference": ref, "name": name, "type": "person"}
                                                     for ref, name in items], headers=admin)
    assert r.status_code == 200, r.text


def test_subjects_upsert_csv_read_delete(app: Flask, client: FlaskClient, admin: dict, screener: dict) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/monitoring/subjects", json={"reference": "c-1", "name": "Ann Lee", "country": "gb"},
                    headers=admin)
    assert r.status_code == 200 and r.get_json()["created"] == 1, r.text
    csv_body = ("reference,name,type,birth_date,country,segment\n"
                "c-1,Ann Lee,any,,GB,retail\n"       # metadata changed: updated
                "c-2,Bo Chen,person,1970-02-03,CN,private\n"
                "c-3,,person,,,retail\n"              # line 4: no name
                "c-4,Dee Ray,robot,,,\n")             # line 5: bad type
    r = client.post("/v1/monitoring/subjects", data=csv_body, content_type="text/csv", headers=admin)
    body = r.get_json()
    assert r.status_code == 207, r.text
    assert (body["created"], body["updated"]) == (1, 1), body
    assert {(e["line"], e["field"]) for e in body["errors"]} == {(4, "name"), (5, "type")}, body
    r = client.post("/v1/monitoring/subjects", json=[{"reference": "c-5", "name": "Eve"}, {"name": "x"}, 7],
                    headers=admin)
    assert r.status_code == 207 and {e["index"] for e in r.get_json()["errors"]} == {1, 2}, r.text
    assert client.post("/v1/monitoring/subjects", json={"reference": "x", "name": "y"},
                       headers=screener).status_code == 403

    one = client.get("/v1/monitoring/subjects/c-2", headers=screener).get_json()
    assert one["meta"] == {"segment": "private"} and one["birth_date"] == "1970-02-03", one
    assert one["data_hash"] == monitoring.data_hash("Bo Chen", "person", "1970-02-03", "CN"), one
    page = client.get("/v1/monitoring/subjects?limit=2", headers=screener).get_json()
    assert [s["reference"] for s in page["subjects"]] == ["c-1", "c-2"] and page["next_cursor"] == "c-2", page
    page = client.get(f"/v1/monitoring/subjects?cursor={page['next_cursor']}", headers=screener).get_json()
    assert [s["reference"] for s in page["subjects"]] == ["c-5"], page
    found = client.get("/v1/monitoring/subjects?q=chen&type=person", headers=screener).get_json()["subjects"]
    assert [s["reference"] for s in found] == ["c-2"], found
    assert client.get("/v1/monitoring/subjects?updated_since=2999-01-01", headers=screener).get_json()["subjects"] == []

    assert client.delete("/v1/monitoring/subjects/c-2", headers=admin).status_code == 204
    assert client.get("/v1/monitoring/subjects/c-2", headers=screener).status_code == 404
    assert client.delete("/v1/monitoring/subjects/c-2", headers=admin).status_code == 404
    audit = client.get("/v1/audit?limit=1000", headers=admin).get_json()
    actions = [e["action"] for e in audit["events"] if e["kind"] == "monitoring"]
    assert "subject-delete" in actions and "subjects-upsert" in actions, actions


def test_a_list_change_queues_exactly_one_run_across_processes(app: Flask, client: FlaskClient, admin: dict,  # type: ignore[type-arg]
                                                               db_url: str) -> None:
    other = make_app(db_url)
    try:
        assert monitoring.notice_changes(app) != []  # version 1: the first, full run
        assert monitoring.notice_changes(other) == []
        add_entry(client, admin, "varenko", "VARENKO, Tomas")
        found: list[list[int]] = []
        barrier = threading.Barrier(4)

        def notice(target: Flask) -> None:
            barrier.wait()
            found.append(monitoring.notice_changes(target))

        threads = [threading.Thread(target=notice, args=(a,)) for a in (app, other, app, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(len(f) for f in found) == 1, found
        assert [(r.kind, r.trigger_key, r.from_version) for r in runs(app)] == [
            ("full", "version:1", None), ("incremental", "version:2", 1)]
    finally:
        dispose(other)


def test_runs_open_alerts_for_new_hits_once_and_a_delisting_clears_them(app: Flask, client: FlaskClient,  # type: ignore[type-arg]
                                                                      admin: dict, screener: dict) -> None:
    app.config["WEBHOOK_URL"] = "http://hooks.invalid/alerts"
    subjects(client, admin, ("s-chen", "Chen Quanguo"), ("s-tomas", "Tomas Varenko"), ("s-none", "Mary Poppins"))
    monitoring_runner.run_pending(app)
    first = alerts(app)
    assert [(a.subject_reference, a.entry_id) for a in first] == [("s-chen", "chen-quanguo")], first
    assert first[0].citations and first[0].explanation and first[0].version_opened == 1

    version = add_entry(client, admin, "varenko", "VARENKO, Tomas")
    monitoring_runner.run_pending(app)
    monitoring_runner.run_pending(app)  # nothing more to do
    now = alerts(app)
    assert [(a.subject_reference, a.entry_id) for a in now] == [("s-chen", "chen-quanguo"), ("s-tomas", "varenko")]
    assert (now[1].version_before, now[1].version_opened, now[1].live_key) == (1, version, "s-tomas\x1fvarenko")
    run = runs(app)[-1]
    assert (run.kind, run.status, run.alerts_opened, run.hits_cleared) == ("incremental", "done", 1, 0), run.error
    assert run.subjects_rescored < 3, "only the subjects the change can affect are re-scored"

    delist(client, admin, "varenko")
    monitoring_runner.run_pending(app)
    cleared = alerts(app, entry_id="varenko")
    assert len(cleared) == 1 and cleared[0].live_key is None, cleared
    assert (cleared[0].cleared_reason, cleared[0].cleared_version) == ("entry delisted", version + 1)
    assert alerts(app, entry_id="chen-quanguo")[0].live_key is not None

    with app.extensions["db_sessionmaker"]() as session:
        deliveries = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
    assert [d.payload["alert"]["entry_id"] for d in deliveries] == ["chen-quanguo", "varenko"], deliveries
    assert deliveries[0].payload["event"] == "alert.opened" and deliveries[0].status == "pending"

    listed = client.get("/v1/alerts?status=live", headers=screener).get_json()["alerts"]
    assert [a["entry_id"] for a in listed] == ["chen-quanguo"], listed
    one = client.get(f"/v1/alerts/{listed[0]['id']}", headers=screener).get_json()
    assert one["decisions"] == [] and one["score"] >= 0.7 and one["citations"], one
    assert client.get("/v1/alerts?reference=s-tomas&status=cleared", headers=screener).get_json()["alerts"]
    runs_page = client.get("/v1/monitoring/runs", headers=screener).get_json()["runs"]
    assert [r["list_version"] for r in runs_page] == [version + 1, version, 1], runs_page

    # Removing the subject clears its live alerts.
    assert client.delete("/v1/monitoring/subjects/s-chen", headers=admin).status_code == 204
    assert alerts(app, entry_id="chen-quanguo")[0].cleared_reason == "subject removed"


def _suppress(app: Flask, alert: Alert, **override: str) -> None:
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Alert).where(Alert.id == alert.id).values(live_key=None, status="false_positive"))
        session.merge(Suppression(subject_reference=alert.subject_reference, entry_id=alert.entry_id,
                                  subject_hash=override.get("subject_hash", alert.subject_hash),
                                  entry_hash=override.get("entry_hash", alert.entry_hash), alert_id=alert.id,
                                  actor="tests"))
        session.commit()


def test_a_suppression_holds_while_both_hashes_are_the_same(app: Flask, client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    subjects(client, admin, ("s-chen", "Chen Quanguo"))
    monitoring_runner.run_pending(app)
    [alert] = alerts(app)
    _suppress(app, alert)
    r = client.post("/v1/monitoring/runs", json={"kind": "full"}, headers=admin)
    assert r.status_code == 202, r.text
    monitoring_runner.run_pending(app)
    assert len(alerts(app)) == 1, "a remembered false positive is not alerted again"
    assert client.get(f"/v1/monitoring/runs/{r.get_json()['id']}", headers=admin).get_json()["status"] == "done"

    _suppress(app, alert, entry_hash="0" * 64)  # the entry changed since the decision
    monitoring.queue_full_run(app, actor="tests")
    monitoring_runner.run_pending(app)
    assert len(alerts(app)) == 2 and alerts(app)[1].live_key is not None

    _suppress(app, alerts(app)[1])
    subjects(client, admin, ("s-chen", "Quanguo Chen"))  # the subject changed: the suppression no longer holds
    monitoring.queue_full_run(app, actor="tests")
    monitoring_runner.run_pending(app)
    assert len(alerts(app)) == 3 and alerts(app)[2].subject_name == "Quanguo Chen"


class WorkerKilled(BaseException):
    """Not an Exception: nothing in the runner catches it, as nothing runs after a SIGKILL."""


def test_a_run_whose_worker_died_finishes_without_duplicate_alerts(app: Flask, client: FlaskClient, admin: dict,  # type: ignore[type-arg]
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    items = [(f"s-{i:03d}", "Chen Quanguo" if i % 3 == 0 else "Walter Brightman") for i in range(30)]
    subjects(client, admin, *items)
    monkeypatch.setattr(monitoring_runner, "CHUNK", 4)
    real = monitoring_runner._process_chunk
    calls = {"n": 0}

    def dies_on_the_third(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise WorkerKilled()
        return real(*args, **kwargs)

    monkeypatch.setattr(monitoring_runner, "_process_chunk", dies_on_the_third)
    with pytest.raises(WorkerKilled):
        monitoring_runner.run_pending(app, owner="doomed")
    [run] = runs(app)
    assert (run.status, run.cursor, run.subjects_done) == ("running", "s-007", 8), run
    assert len(alerts(app)) == 3
    assert monitoring_runner.run_pending(app) == 0, "a live lease is left alone"
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(MonitoringRun).values(lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert monitoring_runner.run_pending(app) == 1
    [run] = runs(app)
    assert (run.status, run.subjects_done, run.alerts_opened, run.attempts) == ("done", 30, 10, 2), run.error
    opened = alerts(app)
    assert len(opened) == len({a.subject_reference for a in opened}) == 10, opened


def test_concurrent_list_changes_never_open_an_alert_twice(app: Flask, client: FlaskClient, admin: dict,  # type: ignore[type-arg]
                                                           db_url: str) -> None:
    subjects(client, admin, *[(f"s-{i}", f"Tomas Varenko{'' if i % 2 else ''}") for i in range(6)],
             ("s-chen", "Chen Quanguo"))
    other = make_app(db_url)
    try:
        errors: list[BaseException] = []
        stop = threading.Event()

        def runner(target: Flask) -> None:
            try:
                while not stop.is_set():
                    monitoring_runner.run_pending(target)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=runner, args=(a,)) for a in (app, other)]
        for t in threads:
            t.start()
        for i in range(3):
            add_entry(client, admin, f"varenko-{i}", "VARENKO, Tomas")
        delist(client, admin, "varenko-0")
        stop.set()
        for t in threads:
            t.join()
        assert not errors, errors
        monitoring_runner.run_pending(app)
        with app.extensions["db_sessionmaker"]() as session:
            statuses = session.scalars(select(MonitoringRun.status)).all()
            pairs = session.execute(select(Alert.subject_reference, Alert.entry_id, func.count())
                                    .group_by(Alert.subject_reference, Alert.entry_id)).all()
        assert set(statuses) == {"done"}, statuses
        assert all(count == 1 for _, _, count in pairs), pairs
        live = {(a.subject_reference, a.entry_id) for a in alerts(app) if a.live_key}
        assert live == {(f"s-{i}", f"varenko-{j}") for i in range(6) for j in (1, 2)} | {("s-chen", "chen-quanguo")}
    finally:
        dispose(other)


def test_a_full_run_rescreens_every_subject(app: Flask, client: FlaskClient, admin: dict, screener: dict) -> None:  # type: ignore[type-arg]
    subjects(client, admin, ("a", "Chen Quanguo"), ("b", "Nobody Atall"), ("c", "Gao Yan"))
    monitoring_runner.run_pending(app)
    assert client.post("/v1/monitoring/runs", json={"kind": "full"}, headers=screener).status_code == 403
    assert client.post("/v1/monitoring/runs", json={"kind": "partial"}, headers=admin).status_code == 400
    run_id = client.post("/v1/monitoring/runs", json={"kind": "full"}, headers=admin).get_json()["id"]
    monitoring_runner.run_pending(app)
    run = client.get(f"/v1/monitoring/runs/{run_id}", headers=screener).get_json()
    assert (run["status"], run["subjects_total"], run["subjects_rescored"], run["alerts_opened"]) == \
        ("done", 3, 3, 0), run
    assert set(run["timings"]) >= {"load", "select", "rescore", "total"}, run
    assert client.get("/v1/monitoring/runs/999999999999", headers=screener).status_code == 404


def test_a_run_screens_a_repeated_name_once_and_alerts_every_subject(app: Flask, client: FlaskClient,  # type: ignore[type-arg]
                                                                      admin: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.matching import Matcher

    screened: list[str] = []
    real = Matcher.screen_many
    monkeypatch.setattr(Matcher, "screen_many", lambda self, queries, **kw:
                        screened.extend(q.name for q in queries) or real(self, queries, **kw))
    subjects(client, admin, ("a", "Chen Quanguo"), ("b", "Chen Quanguo"), ("c", "Nobody Atall"))
    monitoring_runner.run_pending(app)
    assert sorted(screened) == ["Chen Quanguo", "Nobody Atall"], screened
    assert sorted(a.subject_reference for a in alerts(app)) == ["a", "b"]


def test_a_new_matcher_queues_a_full_run(app: Flask, client: FlaskClient, admin: dict,  # type: ignore[type-arg]
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    subjects(client, admin, ("a", "Chen Quanguo"))
    monitoring_runner.run_pending(app)
    monkeypatch.setattr(monitoring, "code_fingerprint", lambda: "new-matcher")
    monitoring_runner.run_pending(app)
    monitoring_runner.run_pending(app)
    assert [(r.kind, r.trigger_key, r.status) for r in runs(app)] == [
        ("full", "version:1", "done"), ("full", "matcher:new-matcher", "done")]
    assert len(alerts(app)) == 1
    with app.extensions["db_sessionmaker"]() as session:
        assert session.scalar(select(func.count()).select_from(Subject)) == 1


def test_monitor_import_and_run_commands(app: Flask, db_url: str, tmp_path: Any,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from screening.cli import main

    monkeypatch.setenv("SCREENING_DATABASE_URL", db_url)
    monkeypatch.setenv("SCREENING_MONITORING_RUNNER", "false")
    path = tmp_path / "subjects.csv"
    path.write_text("reference,name,type,birth_date,country,branch\n"
                    "k-1,Chen Quanguo,person,1955,CN,north\n"
                    "k-2,,person,,,south\n"
                    "k-3,Walter Brightman,person,,,south\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["monitor", "import", str(path)])
    assert result.exit_code == 1, result.output
    assert '"created": 2' in result.output and "line 3: name: must not be blank" in result.output, result.output
    result = CliRunner().invoke(main, ["monitor", "run"])
    assert result.exit_code == 0 and '"runs": 1' in result.output, result.output
    [alert] = alerts(app)
    assert (alert.subject_reference, alert.entry_id) == ("k-1", "chen-quanguo")
    assert any(adj["delta"] > 0 for adj in alert.explanation.get("adjustments", [])) or alert.score > 0.7


def test_subjects_added_later_are_screened_by_a_run_of_their_own(app: Flask, client: FlaskClient,  # type: ignore[type-arg]
                                                                 admin: dict) -> None:
    monitoring_runner.run_pending(app)
    subjects(client, admin, ("late", "Chen Quanguo"))
    assert monitoring_runner.run_pending(app) == 1
    assert monitoring_runner.run_pending(app) == 0
    run = runs(app)[-1]
    assert (run.trigger, run.subjects_rescored, run.alerts_opened) == ("subjects-changed", 1, 1), run


def _send(url: str, key: str, body: Any) -> tuple[int, Any]:
    import json
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_two_gunicorn_workers_run_each_version_once(served: Any, db_url: str) -> None:
    import time

    base, key, admin_key = served
    status, _ = _send(f"{base}/v1/monitoring/subjects", admin_key,
                      [{"reference": f"g-{i}", "name": "Tomas Varenko", "type": "person"} for i in range(5)]
                      + [{"reference": "g-chen", "name": "Chen Quanguo", "type": "person"}])
    assert status == 200
    entry = _get(f"{base}/v1/entries/gao-yan", admin_key)[1]
    status, body = _send(f"{base}/v1/entries", admin_key,
                         {**{k: v for k, v in entry.items() if k not in ("name", "list_version")},
                          "id": "varenko", "names": [{"name": "VARENKO, Tomas", "kind": "primary"}],
                          "citations": [{k: c[k] for k in ("source", "quote")} for c in entry["citations"]]})
    assert status == 201, body
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = _get(f"{base}/v1/alerts?status=live&limit=100", key)[1]["alerts"]
        run_list = _get(f"{base}/v1/monitoring/runs", key)[1]["runs"]
        if len(found) >= 6 and run_list and all(r["status"] == "done" for r in run_list):
            break
        time.sleep(0.5)
    pairs = sorted((a["subject_reference"], a["entry_id"]) for a in found)
    assert pairs == sorted([(f"g-{i}", "varenko") for i in range(5)] + [("g-chen", "chen-quanguo")]), pairs
    keys = [r["trigger_key"] for r in run_list]
    assert keys.count("version:2") == 1, run_list
    all_alerts = _get(f"{base}/v1/alerts?limit=1000", key)[1]["alerts"]
    assert len(all_alerts) == 6, all_alerts


def test_a_stale_run_is_skipped_and_a_failed_run_is_replaced_by_a_full_one(app: Flask, client: FlaskClient,  # type: ignore[type-arg]
                                                                         admin: dict,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    subjects(client, admin, ("s-tomas", "Tomas Varenko"))
    monitoring_runner.run_pending(app)
    version = add_entry(client, admin, "varenko", "VARENKO, Tomas")
    # Version 2's run inserted after version 3's (two processes, each noticing one version).
    delist(client, admin, "varenko")
    monitoring.notice_changes(app)
    with app.extensions["db_sessionmaker"]() as session:
        session.add(MonitoringRun(kind="incremental", trigger="list-change", trigger_key=f"version:{version}",
                                  list_version=version, from_version=1))
        session.commit()
    monitoring_runner.run_pending(app)
    assert [(r.list_version, r.status, r.error) for r in runs(app)][1:] == [
        (version + 1, "done", None), (version, "done", f"superseded by version {version + 1}")]
    assert [a for a in alerts(app) if a.live_key] == [], "the stale run must not reopen the delisted entry's hit"

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(monitoring_runner, "_process_chunk", broken)
    monitoring.queue_full_run(app, actor="tests")
    monitoring_runner.run_pending(app)
    failed, recovery = runs(app)[-2:]
    assert (failed.status, failed.error) == ("failed", "RuntimeError: boom")
    assert (recovery.trigger, recovery.kind, recovery.status) == ("recovery", "full", "failed")


def test_an_incremental_run_finds_what_a_full_run_would(app: Flask, client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    import random

    from bench.bulk_file import LISTED
    from bench.synthetic import misspell

    rng = random.Random(3)
    names = [misspell(rng.choice(LISTED), rng) for _ in range(30)] + ["Tomas Varenko", "Tomas Varenkov", "T. Varenko"]
    subjects(client, admin, *[(f"p-{i:02d}", name) for i, name in enumerate(names)])
    monitoring_runner.run_pending(app)
    add_entry(client, admin, "varenko", "VARENKO, Tomas")
    entry = client.get("/v1/entries/chen-quanguo", headers=admin).get_json()
    renamed = {k: v for k, v in entry.items() if k not in ("name", "list_version")}
    renamed["names"] = [{"name": "CHEN, Quanguo Wei", "kind": "primary"}]
    renamed["citations"] = [{k: c[k] for k in ("source", "quote") if k in c} for c in entry["citations"]]
    r = client.put("/v1/entries/chen-quanguo", json=renamed, headers={**admin, "If-Match": "*"})
    assert r.status_code == 200, r.text
    delist(client, admin, "gao-yan")
    monitoring_runner.run_pending(app)
    incremental = [r for r in runs(app) if r.kind == "incremental"]
    assert sum(r.alerts_opened for r in incremental) >= 3 and sum(r.hits_cleared for r in incremental) >= 1, \
        [(r.alerts_opened, r.hits_cleared) for r in incremental]
    assert all(r.subjects_rescored < len(names) for r in incremental), "incremental runs re-score a part"
    monitoring.queue_full_run(app, actor="tests")
    monitoring_runner.run_pending(app)
    full = runs(app)[-1]
    assert (full.kind, full.alerts_opened, full.hits_cleared) == ("full", 0, 0), \
        f"the incremental runs missed {full.alerts_opened} hits and kept {full.hits_cleared} gone ones"



def test_a_run_screened_by_a_pool_of_processes_opens_the_same_alerts(app: Flask, client: FlaskClient,  # type: ignore[type-arg]
                                                                     admin: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool (monitoring_pool) only screens ahead into the run's memo: its alerts are exactly the runner's own,
    and a subject edited after its chunk was sent is screened again with its new name."""
    from screening import monitoring_pool

    names = [("a", "Chen Quanguo"), ("b", "Zhu Hai-lun"), ("c", "Nobody Atall"), ("d", "Gao Yan"),
             ("e", "HUO, Liu Jun"), ("f", "Chen Quanguo"), ("g", "Mary Smith")]
    subjects(client, admin, *names)
    monitoring_runner.run_pending(app)
    alone = sorted((a.subject_reference, a.entry_id, a.score) for a in alerts(app))
    assert len(alone) >= 5, alone

    monkeypatch.setattr(monitoring_pool, "POOL_MIN_SUBJECTS", 0)
    monkeypatch.setattr(monitoring_runner, "CHUNK", 3)
    real_ahead = monitoring_pool.ScreenPool.ahead

    def edit_after_sending(self: Any, chunks: Any, threshold: float) -> Any:
        results = real_ahead(self, chunks, threshold)
        first = next(results)  # every chunk is in flight now: rename "g" to a designee's name behind the pool
        with app.extensions["db_sessionmaker"]() as session:
            session.execute(update(Subject).where(Subject.reference == "g").values(name="Wang Mingshan"))
            session.commit()
        yield first
        yield from results

    monkeypatch.setattr(monitoring_pool.ScreenPool, "ahead", edit_after_sending)
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Alert).values(live_key=None, cleared_reason="test"))  # every hit is new again
        session.commit()
    app.config["MONITORING_PROCESSES"] = 2
    run_id = monitoring.queue_full_run(app, actor="tests")
    monitoring_runner.run_pending(app)
    again = sorted((a.subject_reference, a.entry_id, a.score) for a in alerts(app, run_id=run_id))
    assert [a for a in again if a[0] != "g"] == alone, (again, alone)
    assert [a[1] for a in again if a[0] == "g"] == ["wang-mingshan"], again


def test_a_broken_pool_leaves_the_screening_to_the_runner(app: Flask, client: FlaskClient, admin: dict,  # type: ignore[type-arg]
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from screening import monitoring_pool

    subjects(client, admin, ("a", "Chen Quanguo"), ("b", "Nobody Atall"), ("c", "Gao Yan"))
    monkeypatch.setattr(monitoring_pool, "POOL_MIN_SUBJECTS", 0)
    monkeypatch.setattr(monitoring_runner, "CHUNK", 1)
    app.config["MONITORING_PROCESSES"] = 2
    monkeypatch.setattr(monitoring_pool, "_load", _exit_at_once)  # every process dies as it starts
    monitoring_runner.run_pending(app)
    assert [r.status for r in runs(app)] == ["done"], [(r.status, r.error) for r in runs(app)]
    assert sorted(a.subject_reference for a in alerts(app)) == ["a", "c"]


def _exit_at_once(*args: Any) -> None:
    import os

    os._exit(3)


def test_monitoring_answers_are_what_the_openapi_document_says(app: Flask, client: FlaskClient,  # type: ignore[type-arg]
                                                               admin: dict, screener: dict) -> None:
    """Every monitoring answer, with real subjects, runs, alerts and a decision, validated against the schema the
    OpenAPI document gives it, extra fields refused (schemathesis sees mostly empty pages)."""
    import jsonschema_rs

    from screening.openapi import build_spec

    document = build_spec()

    def check(path: str, method: str, status: int, body: Any) -> None:
        schema = document["paths"][path][method]["responses"][str(status)]["content"]["application/json"]["schema"]
        components = {name: {**s, "additionalProperties": False} if s.get("type") == "object" and "properties" in s
                      else s for name, s in document["components"]["schemas"].items()}
        errors = [e.message for e in jsonschema_rs.validator_for({**schema, "components": {"schemas": components}})
                  .iter_errors(body)]
        assert not errors, (path, errors[:5], body)

    r = client.post("/v1/monitoring/subjects", json=[{"reference": "a", "name": "Chen Quanguo", "country": "CN",
                                                      "birth_date": "1955-11", "meta": {"desk": "x"}},
                                                     {"reference": "b", "name": "Mary Smith", "type": "person"},
                                                     {"name": "no reference"}], headers=admin)
    assert r.status_code == 207, r.text
    check("/v1/monitoring/subjects", "post", 207, r.get_json())
    monitoring_runner.run_pending(app)
    check("/v1/monitoring/subjects", "get", 200, client.get("/v1/monitoring/subjects?limit=1", headers=screener).get_json())
    check("/v1/monitoring/subjects/{reference}", "get", 200,
          client.get("/v1/monitoring/subjects/a", headers=screener).get_json())
    queued = client.post("/v1/monitoring/runs", json={"kind": "full"}, headers=admin)
    check("/v1/monitoring/runs", "post", 202, queued.get_json())
    monitoring_runner.run_pending(app)
    check("/v1/monitoring/runs", "get", 200, client.get("/v1/monitoring/runs", headers=screener).get_json())
    check("/v1/monitoring/runs/{run_id}", "get", 200,
          client.get(f"/v1/monitoring/runs/{queued.get_json()['id']}", headers=screener).get_json())
    page = client.get("/v1/alerts", headers=screener).get_json()
    assert page["alerts"], page
    check("/v1/alerts", "get", 200, page)
    alert_id = page["alerts"][0]["id"]
    r = client.post(f"/v1/alerts/{alert_id}/decision", json={"decision": "false_positive", "note": "other man"},
                    headers=admin)
    assert r.status_code == 200, r.text
    check("/v1/alerts/{alert_id}", "get", 200, client.get(f"/v1/alerts/{alert_id}", headers=screener).get_json())
