"""Bulk jobs: queued, run, progress, result; a job whose worker died is taken up again or failed with a reason."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from bench.bulk_file import rows as customer_rows
from screening import jobs
from screening.models import Job, utcnow
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
    from tests.conftest import _key

    job = submit(client, screener, customer_rows(10))
    other = {"Authorization": f"Bearer {_key(app, 'screener', 'someone-else')}"}
    assert_problem(client.get(job["status_url"], headers=other), 404)
    assert client.get(job["status_url"], headers=admin).status_code == 200
    assert_problem(client.get("/v1/jobs/no-such-job", headers=screener), 404)


def test_bad_file_is_refused_up_front(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    problem = assert_problem(client.post("/v1/jobs", data=b"customer\r\nx\r\n", content_type="text/csv",
                                         headers=screener), 400)
    assert problem["errors"][0]["field"] == "name_column"


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
