"""Bulk CSV jobs: POST /v1/jobs queues a file to be screened in the background; GET reports progress and the result;
DELETE cancels a job or deletes a finished one. A job belongs to the API key that made it (admin keys see all)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, g, request, send_file, url_for

from .. import bulk, jobs
from ..auth import require
from ..db import get_session
from ..errors import ApiError
from ..models import Job
from .bulk import _options, _refused, _upload

bp = Blueprint("jobs", __name__, url_prefix="/v1")


def _key_id() -> str | None:
    """The id of the API key of this request (not its label: a new key made with an existing label must not read
    the other key's jobs); None with auth disabled."""
    return g.principal.key_id


@bp.post("/jobs")
@require("screener")
def create_job() -> Any:
    options = _options()
    try:
        job = jobs.create_job(current_app, _upload(), options, g.principal.label, _key_id())
    except bulk.CsvRefused as exc:
        raise _refused(exc) from None
    response = current_app.json.response({**jobs.job_json(job),
                                          "status_url": url_for("jobs.job_status", job_id=job.id)})
    response.status_code = 202
    response.headers["Location"] = url_for("jobs.job_status", job_id=job.id)
    return response


def _own_job(job_id: str) -> Job:
    """The job, if this key made it or is an admin key; 404 otherwise, the same answer as for no job at all, so
    that job ids of other keys cannot be probed."""
    job = get_session().get(Job, job_id)
    if job is None or not (g.principal.role == "admin" or
                           (job.owner_key_id is not None and job.owner_key_id == _key_id())):
        raise ApiError(404, "Not Found", f"No job {job_id!r} of yours (jobs are removed "
                                         f"{current_app.config['JOB_RETENTION_DAYS']} days after they end).",
                       slug="job-not-found")
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
    path = jobs.result_path(current_app, job_id)
    if not path.is_file():  # removed by the retention sweep a moment before its row
        raise ApiError(410, "Gone", f"The result of job {job_id} was removed.", slug="job-gone")
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=f"screened-{job_id}.csv")


@bp.delete("/jobs/<job_id>")
@require("screener")
def delete_job(job_id: str) -> Any:
    """Cancel a queued or running job (it keeps its row, status `cancelled`), or delete a finished one; the files
    go either way. 202 while a runner still works on it (it stops at its next checkpoint), else 204."""
    _own_job(job_id)
    outcome, job = jobs.cancel_job(current_app, job_id)
    if outcome == "stopping" and job is not None:
        response = current_app.json.response({**jobs.job_json(job), "status_url": url_for("jobs.job_status",
                                                                                         job_id=job_id)})
        response.status_code = 202
        return response
    return Response(status=204)
