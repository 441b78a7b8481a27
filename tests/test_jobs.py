"""Bulk jobs: queued, run, progress, result; a job whose worker died is taken up again or failed with a reason.
Jobs belong to their key; files are private and removed; the claim is fair between keys; each row is audited once;
jobs can be cancelled; the runner backs off while the database is down. On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import logging
import stat
import threading
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError

from bench.bulk_file import rows as customer_rows
from screening import jobs
from screening.models import AuditEvent, Job, utcnow
from tests.conftest import _key
from tests.test_api import assert_problem
from tests.test_bulk import _csv

HEADER = ["customer_id", "name", "type", "country"]


def submit(client: FlaskClient, headers: dict, rows: list[list[str]]) -> dict:  # type: ignore[type-arg]
    r = client.post("/v1/jobs?type_column=type&id_column=customer_id", data=_csv([HEADER] + rows).encode(),
                    content_type="text/csv", headers=headers)
    assert r.status_code == 202, r.text
    assert r.headers["Location"] == r.get_json()["status_url"]
    return r.get_json()


def test_job_runs_to_a_result_in_order(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    rows = customer_rows(2_000, seed=8)
    job = submit(client, screener, rows)
    assert (job["status"], job["rows_total"], job["rows_done"]) == ("queued", 2_000, 0)
    assert_problem(client.get(f"/v1/jobs/{job['job_id']}/result", headers=screener), 409)
    assert jobs.run_pending(app) == 1
    status = client.get(job["status_url"], headers=screener).get_json()
    assert status["status"] == "done" and status["rows_done"] == 2_000 and status["rows_matched"] > 0, status
    result = client.get(status["result_url"], headers=screener)
    assert result.status_code == 200 and result.mimetype == "text/csv"
    out = list(csv.reader(io.StringIO(result.get_data(as_text=True))))
    assert [r[0] for r in out[1:]] == [r[0] for r in rows] and out[0][-1] == "error"


def test_jobs_are_private_to_their_key(app: Flask, client: FlaskClient, screener: dict, admin: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(10))
    other = {"Authorization": f"Bearer {_key(app, 'screener', 'someone-else')}"}
    assert_problem(client.get(job["status_url"], headers=other), 404)
    assert client.get(job["status_url"], headers=admin).status_code == 200
    assert_problem(client.get("/v1/jobs/no-such-job", headers=screener), 404)


def test_bad_file_is_refused_up_front(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    before = set(jobs.jobs_dir(app).iterdir())
    problem = assert_problem(client.post("/v1/jobs", data=b"customer\r\nx\r\n", content_type="text/csv",
                                         headers=screener), 400)
    assert problem["errors"][0]["field"] == "name_column"
    assert set(jobs.jobs_dir(app).iterdir()) == before  # the refused upload is not kept


def test_a_job_whose_worker_died_is_taken_up_again(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(300, seed=2))
    with app.extensions["db_sessionmaker"]() as session:  # a worker took it, then died: its lease ran out
        session.execute(update(Job).where(Job.id == job["job_id"]).values(
            status="running", attempts=1, lease_owner="dead-worker", lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert jobs.run_pending(app, owner="new-worker") == 1
    status = client.get(job["status_url"], headers=screener).get_json()
    assert status["status"] == "done" and status["attempts"] == 2 and status["rows_done"] == 300, status


def test_a_job_that_keeps_failing_is_marked_failed_with_a_reason(app: Flask, client: FlaskClient,
                                                                 screener: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(10))
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Job).where(Job.id == job["job_id"]).values(
            status="running", attempts=jobs.MAX_ATTEMPTS, lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    jobs.run_pending(app)
    status = client.get(job["status_url"], headers=screener).get_json()
    assert status["status"] == "failed" and "gave up after 3 attempts" in status["error"], status


def test_a_running_job_with_a_live_lease_is_left_alone(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(10))
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Job).where(Job.id == job["job_id"]).values(
            status="running", attempts=1, lease_owner="busy-worker", lease_until=utcnow() + timedelta(minutes=5)))
        session.commit()
    assert jobs.run_pending(app) == 0


# Helpers for the tests below ---------------------------------------------------------------------------------------

UNINTERRUPTED: list[list[str]] = []  # a file's result run without interruption, the same on either database


class WorkerKilled(BaseException):
    """Not an Exception: passes the runner's error handling, as a killed process would."""


def job_files(app: Flask, job_id: str) -> set[str]:
    return {path.name for path in jobs.jobs_dir(app).glob(f"{job_id}.*")}


def job_row(app: Flask, job_id: str) -> Job | None:
    with app.extensions["db_sessionmaker"]() as session:
        return session.get(Job, job_id)


def audited_references(app: Flask, job_id: str) -> Counter[str]:
    with app.extensions["db_sessionmaker"]() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "job-row")).all()
    return Counter(str(e.reference) for e in events if e.data.get("job_id") == job_id)


def result_rows(client: FlaskClient, headers: dict, job_id: str) -> list[list[str]]:  # type: ignore[type-arg]
    r = client.get(f"/v1/jobs/{job_id}/result", headers=headers)
    assert r.status_code == 200, r.text
    return list(csv.reader(io.StringIO(r.get_data(as_text=True))))


def other_key(app: Flask, label: str, role: str = "screener") -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(app, role, label)}"}


def expire_lease(app: Flask, job_id: str) -> None:
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_until=utcnow() - timedelta(seconds=1)))
        session.commit()


def on_checkpoint(monkeypatch: pytest.MonkeyPatch, calls: dict[int, Callable[[], None]],
                  before: bool = False) -> list[int]:
    """Run calls[n] right after (or just before) the job's n-th checkpoint (1: the header, 2: rows 1-500, ...);
    the returned list holds the count of checkpoints so far."""
    real = jobs._checkpoint
    count = [0]

    def wrapped(*args: Any, **kwargs: Any) -> bool:
        count[0] += 1
        if before and count[0] in calls:
            calls[count[0]]()
        ok = real(*args, **kwargs)
        if not before and count[0] in calls:
            calls[count[0]]()
        return ok

    monkeypatch.setattr(jobs, "_checkpoint", wrapped)
    return count


# Jobs belong to the key, not to its label --------------------------------------------------------------------------

def test_a_new_key_with_the_same_label_gets_404_for_the_job(app: Flask, client: FlaskClient, screener: dict,
                                                             admin: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(10))
    jobs.run_pending(app)
    same_label = other_key(app, "analyst")  # the screener fixture's label
    for response in (client.get(job["status_url"], headers=same_label),
                     client.get(f"/v1/jobs/{job['job_id']}/result", headers=same_label),
                     client.delete(job["status_url"], headers=same_label)):
        assert_problem(response, 404)
    assert client.get(f"/v1/jobs/{job['job_id']}/result", headers=screener).status_code == 200
    assert client.get(f"/v1/jobs/{job['job_id']}/result", headers=admin).status_code == 200  # admin sees all


def test_jobs_from_before_the_key_id_belong_to_a_key_only_if_its_label_was_unique(db_url: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine, text

    from screening.db import alembic_config

    command.upgrade(alembic_config(db_url), "0002")
    engine = create_engine(db_url)
    with engine.begin() as connection:
        for key_id, label in (("aaa", "unique"), ("bbb", "shared"), ("ccc", "shared")):
            connection.execute(text("INSERT INTO api_keys (key_id, key_hash, label, role, created_at) "
                                    "VALUES (:k, 'h', :l, 'screener', CURRENT_TIMESTAMP)"), {"k": key_id, "l": label})
        for job_id, actor in (("j-unique", "unique"), ("j-shared", "shared")):
            connection.execute(text("INSERT INTO jobs (id, status, actor, options, rows_total, rows_done, rows_matched, "
                                    "attempts, created_at, updated_at) VALUES (:i, 'running', :a, '{}', 9, 4, 0, 1, "
                                    "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), {"i": job_id, "a": actor})
    command.upgrade(alembic_config(db_url), "head")
    with engine.connect() as connection:
        rows = dict(connection.execute(text("SELECT id, owner_key_id FROM jobs")).all())
        audited = dict(connection.execute(text("SELECT id, rows_audited FROM jobs")).all())
    engine.dispose()
    assert rows == {"j-unique": "aaa", "j-shared": None}, rows
    assert audited == {"j-unique": 4, "j-shared": 4}, audited  # a running job's audited rows are not audited again


# Private files, removed when no longer needed ----------------------------------------------------------------------

def test_job_files_are_private_and_the_upload_goes_when_the_job_ends(app: Flask, client: FlaskClient,
                                                                     screener: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(20))
    upload = jobs.input_path(app, job["job_id"])
    assert stat.S_IMODE(upload.stat().st_mode) == 0o600, oct(upload.stat().st_mode)
    assert stat.S_IMODE(jobs.jobs_dir(app).stat().st_mode) == 0o700
    assert jobs.run_pending(app) == 1
    result = jobs.result_path(app, job["job_id"])
    assert job_files(app, job["job_id"]) == {result.name}
    assert stat.S_IMODE(result.stat().st_mode) == 0o600, oct(result.stat().st_mode)


def test_a_failed_job_leaves_no_files(app: Flask, client: FlaskClient, screener: dict,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    def broken(matcher: object, threshold: float) -> Callable[[object], object]:
        def screen(queries: object) -> object:
            raise RuntimeError("matcher broke")
        return screen

    monkeypatch.setattr(jobs.bulk, "matcher_screener", broken)
    job = submit(client, screener, customer_rows(20))
    jobs.run_pending(app)
    status = client.get(job["status_url"], headers=screener).get_json()
    assert status["status"] == "failed" and "matcher broke" in status["error"], status
    assert job_files(app, job["job_id"]) == set()


def test_an_error_half_way_through_creating_a_job_leaves_no_upload(app: Flask, client: FlaskClient, screener: dict,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    def boom(header: object, options: object) -> None:
        raise RuntimeError("disk trouble")

    before = set(jobs.jobs_dir(app).iterdir())
    monkeypatch.setattr(jobs.bulk, "resolve_columns", boom)
    r = client.post("/v1/jobs", data=_csv([HEADER] + customer_rows(5)).encode(), content_type="text/csv",
                    headers=screener)
    assert_problem(r, 500)
    assert set(jobs.jobs_dir(app).iterdir()) == before


def test_finished_jobs_are_removed_after_the_retention_period(app: Flask, client: FlaskClient,
                                                              screener: dict) -> None:  # type: ignore[type-arg]
    old, recent = submit(client, screener, customer_rows(5)), submit(client, screener, customer_rows(5))
    assert jobs.run_pending(app) == 2
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Job).where(Job.id == old["job_id"]).values(finished_at=utcnow() - timedelta(days=8)))
        session.commit()
    assert jobs.sweep(app) == 1
    assert_problem(client.get(old["status_url"], headers=screener), 404)
    assert_problem(client.get(f"/v1/jobs/{old['job_id']}/result", headers=screener), 404)
    assert job_files(app, old["job_id"]) == set() and job_row(app, old["job_id"]) is None
    assert client.get(f"/v1/jobs/{recent['job_id']}/result", headers=screener).status_code == 200


def test_the_runner_sweeps_periodically_and_runs_jobs(app: Flask, client: FlaskClient, screener: dict,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    old = submit(client, screener, customer_rows(5))
    jobs.run_pending(app)
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(Job).where(Job.id == old["job_id"]).values(finished_at=utcnow() - timedelta(days=30)))
        session.commit()
    queued = submit(client, screener, customer_rows(5))
    sweeps: list[float] = []
    real_sweep = jobs.sweep
    monkeypatch.setattr(jobs, "sweep", lambda a: sweeps.append(now[0]) or real_sweep(a))
    now, stop, waits = [0.0], threading.Event(), []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        now[0] += 400.0  # each poll, the clock moves on 400 s: a sweep every other poll (SWEEP_SECONDS 600)
        if len(waits) == 4:
            stop.set()

    jobs.runner_loop(app, "w", stop, sleep=wait, clock=lambda: now[0])
    assert sweeps == [0.0, 800.0], sweeps
    assert waits == [app.config["JOB_POLL_SECONDS"]] * 4, waits
    assert job_row(app, old["job_id"]) is None
    assert client.get(queued["status_url"], headers=screener).get_json()["status"] == "done"


# Fair scheduling ---------------------------------------------------------------------------------------------------

def test_the_claim_prefers_the_key_with_the_fewest_running_jobs(app: Flask, client: FlaskClient,
                                                                screener: dict) -> None:  # type: ignore[type-arg]
    big_one, big_two = submit(client, screener, customer_rows(5)), submit(client, screener, customer_rows(5))
    small = submit(client, other_key(app, "second-team"), customer_rows(5))  # queued last
    claims = [jobs.claim_next(app, f"worker-{n}") for n in range(4)]
    assert claims == [big_one["job_id"], small["job_id"], big_two["job_id"], None], claims


def test_a_key_holding_more_runners_gives_one_back_to_a_waiting_key(app: Flask, client: FlaskClient, screener: dict,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    rows = customer_rows(1_200, seed=5)
    big_one, big_two = submit(client, screener, rows), submit(client, screener, customer_rows(5))
    assert jobs.claim_next(app, "w1") == big_one["job_id"]
    assert jobs.claim_next(app, "busy") == big_two["job_id"]  # the other runner, busy for a long time
    second_team = other_key(app, "second-team")
    small: dict = {}  # type: ignore[type-arg]
    monkeypatch.setattr(jobs, "YIELD_CHECK_SECONDS", 0.0)
    on_checkpoint(monkeypatch, {2: lambda: small.update(submit(client, second_team, customer_rows(6)))})
    assert jobs.run_job(app, big_one["job_id"], "w1") == "given-back"
    given_back = job_row(app, big_one["job_id"])
    assert given_back is not None and (given_back.status, given_back.rows_done, given_back.attempts) == (
        "queued", 500, 0), given_back
    assert jobs.claim_next(app, "w1") == small["job_id"]
    assert jobs.run_job(app, small["job_id"], "w1") == "done"
    assert jobs.run_pending(app, "w1") == 1  # the big job again, from its checkpoint
    status = client.get(big_one["status_url"], headers=screener).get_json()
    assert (status["status"], status["rows_done"], status["attempts"]) == ("done", 1_200, 1), status
    out = result_rows(client, screener, big_one["job_id"])
    assert [r[0] for r in out[1:]] == [r[0] for r in rows]
    assert max(audited_references(app, big_one["job_id"]).values()) == 1


# Each row audited exactly once, a job resumed from its checkpoint --------------------------------------------------

@pytest.mark.parametrize("death", ["after-checkpoint", "before-checkpoint", "part-file-lost"])
def test_a_job_taken_up_after_its_worker_died_audits_each_row_once(app: Flask, client: FlaskClient, screener: dict,
                                                                   monkeypatch: pytest.MonkeyPatch,
                                                                   death: str) -> None:  # type: ignore[type-arg]
    rows = customer_rows(1_100, seed=4)
    if not UNINTERRUPTED:
        reference = submit(client, screener, rows)
        assert jobs.run_pending(app) == 1
        UNINTERRUPTED.extend(result_rows(client, screener, reference["job_id"]))
    job = submit(client, screener, rows)

    def die() -> None:
        raise WorkerKilled()

    real_checkpoint = jobs._checkpoint
    on_checkpoint(monkeypatch, {3: die}, before=death == "before-checkpoint")  # after rows 1-1,000 were screened
    assert jobs.claim_next(app, "doomed") == job["job_id"]
    with pytest.raises(WorkerKilled):
        jobs.run_job(app, job["job_id"], "doomed")
    monkeypatch.setattr(jobs, "_checkpoint", real_checkpoint)
    checkpoints = on_checkpoint(monkeypatch, {})
    audited_before = sum(audited_references(app, job["job_id"]).values())
    assert audited_before > 0
    if death == "part-file-lost":
        for part in jobs.jobs_dir(app).glob(f"{job['job_id']}.*.part"):
            part.unlink()
    expire_lease(app, job["job_id"])
    assert jobs.run_pending(app, owner="new-worker") == 1
    status = client.get(job["status_url"], headers=screener).get_json()
    assert (status["status"], status["rows_done"], status["attempts"]) == ("done", 1_100, 2), status
    # Resumed where the last checkpoint left off (rows 1,001-1,100, or 501-1,100), or from the start without it.
    assert checkpoints[0] == {"after-checkpoint": 1, "before-checkpoint": 2, "part-file-lost": 4}[death], checkpoints
    out = result_rows(client, screener, job["job_id"])
    assert out == UNINTERRUPTED
    screened = {r[0] for r in out[1:] if r[-1] == ""}  # rows with an error are not screened, so not audited
    references = audited_references(app, job["job_id"])
    assert set(references) == screened and max(references.values()) == 1, references.most_common(3)
    assert job_files(app, job["job_id"]) == {jobs.result_path(app, job["job_id"]).name}


# Cancelling --------------------------------------------------------------------------------------------------------

def test_cancelling_a_queued_job(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(10))
    assert_problem(client.delete(job["status_url"], headers=other_key(app, "someone-else")), 404)
    r = client.delete(job["status_url"], headers=screener)
    assert r.status_code == 204, r.text
    assert jobs.run_pending(app) == 0
    status = client.get(job["status_url"], headers=screener).get_json()
    assert status["status"] == "cancelled" and status["finished_at"], status
    assert_problem(client.get(f"/v1/jobs/{job['job_id']}/result", headers=screener), 409)
    assert job_files(app, job["job_id"]) == set()
    r = client.delete(job["status_url"], headers=screener)  # a finished job: deleted
    assert r.status_code == 204, r.text
    assert_problem(client.get(job["status_url"], headers=screener), 404)
    assert_problem(client.delete(job["status_url"], headers=screener), 404)


def test_cancelling_a_running_job_stops_it_at_its_next_checkpoint(app: Flask, client: FlaskClient, screener: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(1_500, seed=6))
    answers = []
    on_checkpoint(monkeypatch, {2: lambda: answers.append(client.delete(job["status_url"], headers=screener))})
    assert jobs.claim_next(app, "w1") == job["job_id"]
    assert jobs.run_job(app, job["job_id"], "w1") == "cancelled"
    assert answers[0].status_code == 202, answers[0].text
    assert answers[0].get_json()["status"] == "cancelled"
    status = client.get(job["status_url"], headers=screener).get_json()
    assert (status["status"], status["rows_done"]) == ("cancelled", 500), status
    assert job_files(app, job["job_id"]) == set()
    assert sum(audited_references(app, job["job_id"]).values()) <= 500  # nothing after the cancel


def test_a_finished_job_can_be_deleted_only_by_its_key(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    job = submit(client, screener, customer_rows(5))
    jobs.run_pending(app)
    assert_problem(client.delete(job["status_url"], headers=other_key(app, "analyst")), 404)
    assert client.delete(job["status_url"], headers=screener).status_code == 204
    assert job_files(app, job["job_id"]) == set() and job_row(app, job["job_id"]) is None


# Back-off while the database is down -------------------------------------------------------------------------------

def test_backoff_doubles_up_to_its_cap_and_starts_again_after_a_success() -> None:
    backoff = jobs.Backoff(first=1.0, cap=60.0)
    assert [backoff.next_delay() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_the_runner_logs_one_line_per_failure_and_backs_off_while_the_database_is_down(tmp_path: Path) -> None:
    from screening import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/missing/folder/db.sqlite", "TESTING": True,
                      "JOBS_DIR": str(tmp_path / "jobs")})
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logging.getLogger("screening.jobs").addHandler(handler)
    stop, waits = threading.Event(), []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 8:
            stop.set()

    try:
        jobs.runner_loop(app, "w", stop, sleep=wait, clock=lambda: 0.0)
    finally:
        logging.getLogger("screening.jobs").removeHandler(handler)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60], waits
    assert len(records) == 8 and not any(r.exc_info for r in records), [r.getMessage() for r in records]
    assert all("\n" not in r.getMessage() and "OperationalError" in r.getMessage() for r in records), records[0]


def test_the_runner_polls_normally_once_the_database_answers_again(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    outcomes = iter([OperationalError("SELECT 1", {}, Exception("down"))] * 3 + [0, 0]
                    + [OperationalError("SELECT 1", {}, Exception("down"))])

    def run_pending(app: Flask, owner: str) -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    monkeypatch.setattr(jobs, "run_pending", run_pending)
    stop, waits = threading.Event(), []

    def wait(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 6:
            stop.set()

    jobs.runner_loop(app, "w", stop, sleep=wait, clock=lambda: 0.0)
    poll = app.config["JOB_POLL_SECONDS"]
    assert waits == [1, 2, 4, poll, poll, 1], waits
