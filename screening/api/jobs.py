"""Bulk CSV jobs: POST /v1/jobs queues a file to be screened in the background; GET reports progress and the result."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, send_file, url_for

from .. import bulk, jobs
from ..auth import require
from ..db import get_session
from ..errors import ApiError
from ..models import Job
from .bulk import _options, _refused, _upload

bp = Blueprint("jobs", __name__, url_prefix="/v1")


@bp.post("/jobs")
@require("screener")
def create_job() -> Any:
    options = _options()
    try:
        job = jobs.create_job(current_app, _upload(), options, g.principal.label)
    except bulk.CsvRefused as exc:
        raise _refused(exc) from None
    response = current_app.json.response({**jobs.job_json(job),
                                          "status_url": url_for("jobs.job_status", job_id=job.id)})
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.job_status", job_id=job.id)
    return response


def _own_job(job_id: str) -> Job:
    job = get_session().get(Job, job_id)
    if job is None or (job.actor != g.principal.label and g.principal.role != "admin"):
        raise ApiError(404, "Not Found", f"No job {job_id!r} of yours.")
    return job


@bp.get("/jobs/<job_id>")
@require("screener")
def job_status(job_id: str) -> Any:
    job = _own_job(job_id)
    return {**jobs.job_json(job), "result_url": url_for("jobs.job_result", job_id=job.id) if job.status == "done"
            else None}


@bp.get("/jobs/<job_id>/result")
@require("screener")
def job_result(job_id: str) -> Any:
    job = _own_job(job_id)
    if job.status != "done":
        raise ApiError(409, "Conflict", f"Job {job_id} is {job.status}; its result is there once it is done.",
                       slug="job-not-done", extra={"job_status": job.status})
    return send_file(jobs.result_path(current_app, job_id), mimetype="text/csv", as_attachment=True,
                     download_name=f"screened-{job_id}.csv")
