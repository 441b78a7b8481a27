"""Bulk CSV jobs: durable state in the database, the input and result files in the jobs folder.

A worker's runner thread claims the oldest job that is queued, or running with an expired lease (its worker died),
with one conditional UPDATE, so two workers never take the same job. While it screens it renews the lease and writes
progress every few hundred rows. A job taken up MAX_ATTEMPTS times without finishing is marked failed with the
reason; a job never stays `running` forever.

Files are private to the service (folder 0700, files 0600). The upload is deleted when the job ends; the result and
the row when JOB_RETENTION_DAYS have passed (`sweep`, which the runner applies every SWEEP_SECONDS).
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any, Callable

from flask import Flask
from sqlalchemy import delete, or_, select, update

from . import bulk, store
from .config import default_threshold
from .liststate import get_state
from .models import Job, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
FINISHED = ("done", "failed", "cancelled")
SWEEP_SECONDS = 600.0  # how often a runner removes jobs past their retention


def jobs_dir(app: Flask) -> Path:
    path = Path(app.config.get("JOBS_DIR") or Path(app.instance_path) / "jobs")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode only applies to a new folder: one made by an older version (0755) is tightened here.
    try:
        if stat.S_IMODE(path.stat().st_mode) != 0o700:
            path.chmod(0o700)
    except OSError as exc:  # a folder owned by someone else: the files in it are still 0600
        log.warning("jobs folder %s: cannot make it private: %s", path, exc)
    return path


def input_path(app: Flask, job_id: str) -> Path:
    return jobs_dir(app) / f"{job_id}.in.csv"


def result_path(app: Flask, job_id: str) -> Path:
    return jobs_dir(app) / f"{job_id}.out.csv"


def _create_private(path: Path) -> IO[bytes]:
    """A new file only this user can read (O_EXCL: never an existing file or a planted symlink)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")


def remove_files(app: Flask, job_id: str) -> None:
    """The upload, the result and every part file of the job (job ids are UUIDs: the pattern is only theirs)."""
    for path in jobs_dir(app).glob(f"{job_id}.*"):
        path.unlink(missing_ok=True)


def job_json(job: Job) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if moment else None

    return {"job_id": job.id, "status": job.status, "rows_total": job.rows_total, "rows_done": job.rows_done,
            "rows_matched": job.rows_matched, "error": job.error, "list_version": job.list_version,
            "attempts": job.attempts, "created_at": iso(job.created_at), "updated_at": iso(job.updated_at),
            "finished_at": iso(job.finished_at)}


def create_job(app: Flask, upload: Any, options: bulk.BulkOptions, actor: str, owner_key_id: str | None) -> Job:
    """Save the file, check it as the streamed endpoint would (refusing it up front), count its rows, queue it."""
    job_id = str(uuid.uuid4())
    target = input_path(app, job_id)
    queued = False
    try:
        with _create_private(target) as out:
            while chunk := upload.read(1 << 20):
                out.write(chunk)
        with open(target, "rb") as source:
            header, rows, _ = bulk.open_csv(source, options)
            bulk.resolve_columns(header, options)
            total = sum(1 for _ in rows)
        job = Job(id=job_id, status="queued", actor=actor, owner_key_id=owner_key_id, rows_total=total,
                  options={k: getattr(options, k) for k in ("name_column", "type_column", "id_column", "threshold",
                                                              "charset", "max_name_length")})
        with app.extensions["db_sessionmaker"]() as session:
            session.add(job)
            session.commit()
        queued = True
    finally:
        # A refused file, a client gone half-way through the upload, a database error: nothing stays behind.
        if not queued:
            target.unlink(missing_ok=True)
    return job


def sweep(app: Flask, now: datetime | None = None) -> int:
    """Remove the files and rows of jobs finished more than JOB_RETENTION_DAYS ago; how many were removed."""
    cutoff = (now or utcnow()) - timedelta(days=app.config["JOB_RETENTION_DAYS"])
    removed = 0
    while True:
        with app.extensions["db_sessionmaker"]() as session:
            expired = session.scalars(select(Job.id).where(Job.status.in_(FINISHED), Job.finished_at < cutoff)
                                      .limit(500)).all()
            if not expired:
                return removed
            for job_id in expired:  # files first: a sweep cut short leaves rows, which the next one finds again
                remove_files(app, job_id)
            session.execute(delete(Job).where(Job.id.in_(expired), Job.status.in_(FINISHED)))
            session.commit()
            removed += len(expired)


def claim_next(app: Flask, owner: str) -> str | None:
    """Take the oldest job that is queued or whose lease ran out; None when there is none."""
    sessions = app.extensions["db_sessionmaker"]
    now = utcnow()
    with sessions() as session:
        candidates = session.scalars(
            select(Job.id).where(or_(Job.status == "queued", (Job.status == "running") & (Job.lease_until < now)))
            .order_by(Job.created_at).limit(5)).all()
        for job_id in candidates:
            claimed = session.execute(
                update(Job).where(Job.id == job_id, or_(Job.status == "queued",
                                                        (Job.status == "running") & (Job.lease_until < now)))
                .values(status="running", lease_owner=owner, attempts=Job.attempts + 1, rows_done=0, rows_matched=0,
                        lease_until=now + timedelta(seconds=app.config["JOB_LEASE_SECONDS"]), updated_at=now))
            session.commit()
            if claimed.rowcount == 1:
                return job_id
    return None


def _finish(app: Flask, job_id: str, owner: str, **values: Any) -> bool:
    """End the job if this runner still holds it; whether it did."""
    with app.extensions["db_sessionmaker"]() as session:
        moved = session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.status == "running")
                                .values(updated_at=utcnow(), finished_at=utcnow(), lease_until=None, **values))
        session.commit()
    return moved.rowcount == 1


def run_job(app: Flask, job_id: str, owner: str) -> None:
    """Screen a claimed job to its result file, reporting progress; a job past MAX_ATTEMPTS fails instead."""
    sessions = app.extensions["db_sessionmaker"]
    with sessions() as session:
        job = session.get(Job, job_id)
        assert job is not None
        attempts, actor, saved = job.attempts, job.actor, dict(job.options)
    if attempts > MAX_ATTEMPTS:
        if _finish(app, job_id, owner, status="failed",
                   error=f"gave up after {MAX_ATTEMPTS} attempts: the workers running it stopped before it finished"):
            remove_files(app, job_id)
        return
    options = bulk.BulkOptions(**saved)
    snapshot = get_state(app).snapshot()
    threshold = options.threshold if options.threshold is not None else default_threshold(app.config)
    counters = bulk.Counters()
    partial = result_path(app, job_id).with_suffix(".part")
    partial.unlink(missing_ok=True)  # a worker that died before us left it: start afresh
    try:
        with open(input_path(app, job_id), "rb") as source, _create_private(partial) as out:
            header, rows, _ = bulk.open_csv(source, options)
            columns = bulk.resolve_columns(header, options)
            screen = bulk.matcher_screener(snapshot.matcher, threshold)
            for chunk in bulk.screen_rows(header, rows, columns, options, snapshot.entries, counters,
                                          lambda chunks: map(screen, chunks)):
                out.write(bulk.to_csv_text(chunk).encode("utf-8"))
                with sessions() as session:
                    store.record_audit_batch(session, counters.audit, actor=actor, list_version=snapshot.version,
                                             action="job-row", extra={"job_id": job_id})
                    counters.audit.clear()
                    lease = utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"])
                    moved = session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner).values(
                        rows_done=counters.rows, rows_matched=counters.matched, lease_until=lease,
                        updated_at=utcnow(), list_version=snapshot.version))
                    session.commit()
                if moved.rowcount != 1:
                    log.warning("job %s was taken over by another worker; stopping", job_id)
                    return
        os.replace(partial, result_path(app, job_id))
        if _finish(app, job_id, owner, status="done", rows_done=counters.rows, rows_matched=counters.matched):
            input_path(app, job_id).unlink(missing_ok=True)
    except Exception as exc:  # a failed job says why; the worker goes on with the next one
        log.exception("job %s failed", job_id)
        partial.unlink(missing_ok=True)
        if _finish(app, job_id, owner, status="failed", error=f"{type(exc).__name__}: {exc}"[:1000]):
            remove_files(app, job_id)


def run_pending(app: Flask, owner: str | None = None) -> int:
    """Run every job that can be claimed now; how many were run (the runner thread calls this in a loop)."""
    owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    count = 0
    while (job_id := claim_next(app, owner)) is not None:
        run_job(app, job_id, owner)
        count += 1
    return count


def runner_loop(app: Flask, owner: str, stop: threading.Event, *, sleep: Callable[[float], Any] | None = None,
                clock: Callable[[], float] = time.monotonic) -> None:
    """Run jobs until `stop`; sweep expired jobs every SWEEP_SECONDS."""
    wait = sleep or stop.wait
    next_sweep = clock()
    while not stop.is_set():
        try:
            if clock() >= next_sweep:
                next_sweep = clock() + SWEEP_SECONDS
                removed = sweep(app)
                if removed:
                    log.info("removed %d jobs past their retention", removed)
            run_pending(app, owner)
        except Exception:  # the database may be briefly unreachable: try again on the next tick
            log.exception("job runner")
        wait(app.config["JOB_POLL_SECONDS"])


def start_runner(app: Flask) -> threading.Thread:
    """A daemon thread in this worker that runs jobs as they come (gunicorn's post_fork starts one per worker)."""
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    thread = threading.Thread(target=runner_loop, args=(app, owner, stop), name="screening-jobs", daemon=True)
    thread.start()
    app.extensions["job_runner_stop"] = stop
    return thread
