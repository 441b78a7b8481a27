"""Screening one name, and bulk files as jobs (the same functions as /v1/screen and /v1/jobs)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, redirect, render_template, request, send_file, url_for
from pydantic import ValidationError
from sqlalchemy import select

from .. import bulk, jobs
from ..api.bulk import threshold_value
from ..api.screen import respond_single
from ..config import default_threshold
from ..db import get_session
from ..errors import ApiError, validation_errors
from ..models import Job
from ..schemas import ScreenQuery
from . import bp, needs, page_error

TYPES = ("any", "person", "organization")
JOBS_SHOWN = 50


def _form_query(form: dict[str, str]) -> dict[str, Any]:
    """The form's fields as a query of /v1/screen; empty fields are absent."""
    raw: dict[str, Any] = {"name": form.get("name", ""), "type": form.get("type") or "any"}
    for name in ("birth_date", "country", "reference"):
        value = (form.get(name) or "").strip()
        if value:
            raw[name] = value.upper() if name == "country" else value
    threshold = (form.get("threshold") or "").strip()
    if threshold:
        raw["threshold"] = threshold  # pydantic reads "0.8" as a number and refuses "abc" with a message
    return raw


@bp.route("/", methods=["GET"])
@bp.route("/screen", methods=["GET", "POST"])
@needs("screener")
def screen() -> Any:
    """GET shows the form (and screens when a name is given, so a result is a link); POST screens."""
    form = request.form if request.method == "POST" else request.args
    values = {k: form.get(k, "") for k in ("name", "type", "birth_date", "country", "threshold", "reference")}
    result, errors, status = None, [], 200
    if values["name"].strip() or request.method == "POST":
        try:
            result = respond_single(ScreenQuery.model_validate(_form_query(values)))
        except ValidationError as exc:
            errors, status = validation_errors(exc), 400
        except ApiError as exc:
            errors, status = exc.errors or [{"field": "(form)", "message": exc.detail}], exc.status
    return render_template("screen.html", values=values, result=result, errors=errors, types=TYPES,
                           default_threshold=default_threshold(current_app.config)), status


# Bulk --------------------------------------------------------------------------------------------------------------

def _my_jobs() -> list[Job]:
    return list(get_session().scalars(select(Job).where(Job.owner_key_id == g.principal.key_id)
                                      .order_by(Job.created_at.desc()).limit(JOBS_SHOWN)))


def _options(form: Any) -> bulk.BulkOptions:
    threshold = threshold_value((form.get("threshold") or "").strip() or None)
    charset = (form.get("charset") or "").strip() or None
    if charset:
        try:
            bulk.check_charset(charset)
        except bulk.CsvRefused as exc:
            raise ApiError(400, "Invalid request", str(exc), errors=[{"field": "charset", "message": str(exc)}])
    return bulk.BulkOptions(name_column=(form.get("name_column") or "name").strip(),
                            type_column=(form.get("type_column") or "").strip() or None,
                            id_column=(form.get("id_column") or "").strip() or None, threshold=threshold,
                            charset=charset, max_name_length=current_app.config["MAX_NAME_LENGTH"])


@bp.route("/bulk", methods=["GET", "POST"], endpoint="bulk")
@needs("screener")
def bulk_page() -> Any:
    errors: list[dict[str, Any]] = []
    status = 200
    values = {k: request.form.get(k, "") for k in ("name_column", "type_column", "id_column", "threshold")}
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            options = _options(request.form)
            if upload is None or not upload.filename:
                raise ApiError(400, "Invalid request", "Choose a CSV file.",
                               errors=[{"field": "file", "message": "choose a CSV file"}])
            job = jobs.create_job(current_app, upload.stream, options, g.principal.label, g.principal.key_id)
        except bulk.CsvRefused as exc:
            line = f" (line {exc.line})" if exc.line is not None else ""
            errors, status = [{"field": exc.field, "message": f"{exc}{line}"}], 400
        except ApiError as exc:
            errors, status = exc.errors or [{"field": "(form)", "message": exc.detail}], exc.status
        else:
            return redirect(url_for("ui.job", job_id=job.id), code=303)
    return render_template("bulk.html", jobs=_my_jobs(), errors=errors, values=values), status


def _own_job(job_id: str) -> Job:
    """The key's own job (an admin's too); 404 for others', as the API answers."""
    job = get_session().get(Job, job_id) if len(job_id) <= 36 else None
    if job is None or not (g.principal.role == "admin" or job.owner_key_id == g.principal.key_id):
        raise ApiError(404, "Not found", "No such job of yours (finished jobs are removed after "
                                         f"{current_app.config['JOB_RETENTION_DAYS']} days).")
    return job


@bp.get("/jobs/<job_id>")
@needs("screener")
def job(job_id: str) -> Any:
    return render_template("job.html", job=_own_job(job_id))


@bp.get("/jobs/<job_id>/progress")
@needs("screener")
def job_progress(job_id: str) -> Any:
    """The progress fragment htmx polls; it stops polling once the job has ended (no trigger in the fragment)."""
    return render_template("_job_progress.html", job=_own_job(job_id))


@bp.get("/jobs/<job_id>/result")
@needs("screener")
def job_result(job_id: str) -> Any:
    found = _own_job(job_id)
    if found.status != "done":
        return page_error(409, "Not ready", f"The job is {found.status}; its result is there once it is done.")
    path = jobs.result_path(current_app, job_id)
    if not path.is_file():
        return page_error(410, "Gone", "The result of this job was removed.")
    return send_file(path, mimetype="text/csv", as_attachment=True, download_name=f"screened-{job_id}.csv")


@bp.post("/jobs/<job_id>/delete")
@needs("screener")
def job_delete(job_id: str) -> Response:
    _own_job(job_id)
    jobs.cancel_job(current_app, job_id)
    return redirect(url_for("ui.bulk"), code=303)
