"""Bulk CSV jobs: durable state in the database, the input and result files in the jobs folder.

A worker's runner thread claims a job that is queued, or running with an expired lease (its worker died), with one
conditional UPDATE, so two workers never take the same job. Among the claimable jobs it prefers the key with the
fewest running jobs, then the oldest; and a runner whose key holds more runners than a waiting key gives its job back
at a checkpoint, so one key's large files never keep another key's jobs waiting for all the runners.

While it screens, the runner commits a checkpoint after every chunk: the audit records of the chunk's rows, the rows
done, the bytes of its part file that hold them, the lease. A job taken up again (a worker died, a job given back)
resumes from the checkpoint, so each row is screened into the result and audited exactly once. A job taken up
MAX_ATTEMPTS times without finishing is marked failed with the reason; a job never stays `running` forever.

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
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import IO, Any, Callable, Iterator

from flask import Flask
from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, aliased

from . import bulk, store
from .background import Backoff, poll_loop  # noqa: F401 - Backoff: the runner's waits, tested here
from .config import default_threshold
from .liststate import get_state
from .models import Job, as_utc, iso_utc, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
UNFINISHED = ("queued", "running")
FINISHED = ("done", "failed", "cancelled")
SWEEP_SECONDS = 600.0  # how often a runner removes jobs past their retention
YIELD_CHECK_SECONDS = 5.0  # how often a running job looks whether it should give its runner to another key


# Files -------------------------------------------------------------------------------------------------------------

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


# API side ----------------------------------------------------------------------------------------------------------

def job_json(job: Job) -> dict[str, Any]:
    return {"job_id": job.id, "status": job.status, "rows_total": job.rows_total, "rows_done": job.rows_done,
            "rows_matched": job.rows_matched, "error": job.error, "list_version": job.list_version,
            "attempts": job.attempts, "created_at": iso_utc(job.created_at), "updated_at": iso_utc(job.updated_at),
            "finished_at": iso_utc(job.finished_at)}


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


def cancel_job(app: Flask, job_id: str) -> tuple[str, Job | None]:
    """Cancel an unfinished job, or delete a finished one, with its files. ("stopping", job) while a live runner
    still works on it (it stops at its next checkpoint); ("removed", job or None) otherwise."""
    for _ in range(3):  # the job may finish between reading and writing it: decide again
        now = utcnow()
        with app.extensions["db_sessionmaker"]() as session:
            job = session.get(Job, job_id)
            if job is None:
                return "removed", None
            if job.status in FINISHED:
                gone = session.execute(delete(Job).where(Job.id == job_id, Job.status.in_(FINISHED)))
                session.commit()
                if gone.rowcount == 1:
                    remove_files(app, job_id)
                    return "removed", None
                continue
            live = job.status == "running" and job.lease_until is not None and as_utc(job.lease_until) >= now
            moved = session.execute(update(Job).where(Job.id == job_id, Job.status.in_(UNFINISHED)).values(
                status="cancelled", error="cancelled by the client", finished_at=now, updated_at=now,
                lease_until=None))
            session.commit()
            if moved.rowcount != 1:
                continue
            session.refresh(job)
        remove_files(app, job_id)  # a runner still writing holds its part file open; it drops it when it stops
        return ("stopping" if live else "removed"), job
    raise RuntimeError(f"job {job_id} kept changing while it was being cancelled")


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


# Claiming ----------------------------------------------------------------------------------------------------------

def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(Job.status == "queued", (Job.status == "running") & (Job.lease_until < now))


def _running_of_its_key(now: datetime) -> Any:
    """For each job of the outer query: how many jobs of its key are running under a live lease."""
    other = aliased(Job)
    return (select(func.count()).select_from(other)
            .where(other.owner_key_id.is_not_distinct_from(Job.owner_key_id), other.status == "running",
                   other.lease_until >= now)
            .correlate(Job).scalar_subquery())


def claim_next(app: Flask, owner: str) -> str | None:
    """Take a claimable job of the key with the fewest running jobs, the oldest first; None when there is none."""
    sessions = app.extensions["db_sessionmaker"]
    now = utcnow()
    with sessions() as session:
        candidates = session.scalars(select(Job.id).where(_claimable(now))
                                     .order_by(_running_of_its_key(now), Job.created_at, Job.id).limit(5)).all()
        for job_id in candidates:
            # The condition is checked again by the UPDATE itself: of two workers, one gets rowcount 1.
            claimed = session.execute(
                update(Job).where(Job.id == job_id, _claimable(now))
                .values(status="running", lease_owner=owner, attempts=Job.attempts + 1,
                        lease_until=now + timedelta(seconds=app.config["JOB_LEASE_SECONDS"]), updated_at=now))
            session.commit()
            if claimed.rowcount == 1:
                return job_id
    return None


def _should_give_back(session: Session, key: str | None, now: datetime) -> bool:
    """True when this job's key has at least two running jobs and a job of a key with fewer (by two or more,
    counting the runner given back) waits for a runner."""
    mine = session.scalar(select(func.count()).select_from(Job).where(
        Job.owner_key_id.is_not_distinct_from(key), Job.status == "running", Job.lease_until >= now)) or 0
    if mine < 2:
        return False
    waiting = session.scalar(select(Job.id).where(_claimable(now), Job.owner_key_id.is_distinct_from(key),
                                                  _running_of_its_key(now) + 1 < mine).limit(1))
    return waiting is not None


# Running -----------------------------------------------------------------------------------------------------------

def _finish(app: Flask, job_id: str, owner: str, **values: Any) -> bool:
    """End the job if this runner still holds it; whether it did."""
    with app.extensions["db_sessionmaker"]() as session:
        moved = session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.status == "running")
                                .values(updated_at=utcnow(), finished_at=utcnow(), lease_until=None, **values))
        session.commit()
    return moved.rowcount == 1


def _checkpoint(app: Flask, job_id: str, owner: str, *, actor: str, version: int | None, counters: bulk.Counters,
                audited: int | None, written: int, part_name: str) -> bool:
    """Commit the chunk's audit records with the job's progress, if this runner still holds the job; whether it
    does. One transaction: a row's audit record exists exactly when the checkpoint that covers the row does."""
    with app.extensions["db_sessionmaker"]() as session:
        if counters.audit:
            store.record_audit_batch(session, counters.audit, actor=actor, list_version=version, action="job-row",
                                     extra={"job_id": job_id})
        values: dict[str, Any] = {
            "rows_done": counters.rows, "rows_matched": counters.matched, "result_bytes": written,
            "part_name": part_name, "list_version": version, "updated_at": utcnow(),
            "lease_until": utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"])}
        if audited is not None:
            values["rows_audited"] = audited
        moved = session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner,
                                                  Job.status == "running").values(**values))
        if moved.rowcount != 1:
            session.rollback()  # the job was cancelled or taken over: its rows are not ours to audit
            return False
        session.commit()
    counters.audit.clear()
    return True


def _give_back(app: Flask, job_id: str, owner: str) -> bool:
    """Queue the job again (it resumes from its checkpoint); giving back is not a failed attempt."""
    with app.extensions["db_sessionmaker"]() as session:
        moved = session.execute(update(Job).where(Job.id == job_id, Job.lease_owner == owner, Job.status == "running")
                                .values(status="queued", lease_owner=None, lease_until=None,
                                        attempts=Job.attempts - 1, updated_at=utcnow()))
        session.commit()
    return moved.rowcount == 1


def _lost(app: Flask, job_id: str, part: Path) -> str:
    """This runner no longer holds the job: "cancelled" (or removed), or "lost" to another worker."""
    with app.extensions["db_sessionmaker"]() as session:
        status = session.scalar(select(Job.status).where(Job.id == job_id))
    if status == "running" or status == "queued":
        # Another worker may be resuming from this part file: it removes it once it has its own checkpoint.
        log.warning("job %s was taken over by another worker; stopping", job_id)
        return "lost"
    log.info("job %s was cancelled; stopping", job_id)
    part.unlink(missing_ok=True)
    return "cancelled"


def _restore(previous: Path | None, size: int, out: IO[bytes]) -> bool:
    """Copy the checkpointed bytes of the previous part file into `out`; False when they are not all there.
    Only the first `size` bytes: what a dead (or stalled) worker wrote after its last checkpoint is left out."""
    if previous is None or size <= 0 or not previous.is_file() or previous.stat().st_size < size:
        return False
    with open(previous, "rb") as source:
        left = size
        while left and (block := source.read(min(left, 1 << 20))):
            out.write(block)
            left -= len(block)
    if left:  # the file shrank while it was read: start over in an empty part file
        out.seek(0)
        out.truncate()
        return False
    return True


def run_job(app: Flask, job_id: str, owner: str) -> str:
    """Screen a claimed job to its result file from its checkpoint. "done", "failed", "cancelled", "lost" (taken
    over) or "given-back"; a job past MAX_ATTEMPTS fails instead."""
    with app.extensions["db_sessionmaker"]() as session:
        job = session.get(Job, job_id)
        assert job is not None, job_id
        attempts, actor, key, saved = job.attempts, job.actor, job.owner_key_id, dict(job.options)
        done, matched, audited = job.rows_done, job.rows_matched, job.rows_audited
        previous = jobs_dir(app) / job.part_name if job.part_name else None
        checkpoint_bytes = job.result_bytes
    if attempts > MAX_ATTEMPTS:
        reason = f"gave up after {MAX_ATTEMPTS} attempts: the workers running it stopped before it finished"
        if not _finish(app, job_id, owner, status="failed", error=reason):
            return "lost"
        remove_files(app, job_id)
        return "failed"
    options = bulk.BulkOptions(**saved)
    snapshot = get_state(app).snapshot()
    threshold = options.threshold if options.threshold is not None else default_threshold(app.config)
    part_name = f"{job_id}.{uuid.uuid4().hex[:12]}.part"
    part = jobs_dir(app) / part_name
    try:
        with open(input_path(app, job_id), "rb") as source, _create_private(part) as out:
            resumed = _restore(previous, checkpoint_bytes, out)
            start, written = (done, checkpoint_bytes) if resumed else (0, 0)
            counters = bulk.Counters(rows=start, matched=matched if resumed else 0)
            header, rows, _ = bulk.open_csv(source, options)
            columns = bulk.resolve_columns(header, options)
            for _ in islice(rows, start):  # already in the part file
                pass
            screen = bulk.matcher_screener(snapshot.matcher, threshold)

            def chunks() -> Iterator[tuple[list[list[str]], bool]]:
                # Rows an earlier attempt audited but whose output was lost are screened again for the file, not
                # audited again; the rest are audited as they are screened.
                phases = [(islice(rows, max(0, audited - start)), False), (rows, True)]
                for number, (phase_rows, audit) in enumerate(phases):
                    produced = bulk.screen_rows(header, phase_rows, columns, options, snapshot.entries, counters,
                                                lambda queries: map(screen, queries))
                    head = next(produced)
                    if number == 0 and start == 0:
                        yield head, False
                    for chunk in produced:
                        yield chunk, audit

            checked_at = float("-inf")
            for chunk, audit in chunks():
                data = bulk.to_csv_text(chunk).encode("utf-8")
                out.write(data)
                # To the operating system before the checkpoint says the bytes are there: a killed worker's file
                # keeps them. (A machine crash may lose them; the next attempt then sees a short file and starts over.)
                out.flush()
                written += len(data)
                if not audit:
                    counters.audit.clear()
                if not _checkpoint(app, job_id, owner, actor=actor, version=snapshot.version, counters=counters,
                                   audited=counters.rows if audit else None, written=written, part_name=part_name):
                    return _lost(app, job_id, part)
                if previous is not None and previous != part:  # ours is the checkpoint now
                    previous.unlink(missing_ok=True)
                    previous = None
                if time.monotonic() - checked_at >= YIELD_CHECK_SECONDS:
                    checked_at = time.monotonic()
                    with app.extensions["db_sessionmaker"]() as session:
                        give_back = _should_give_back(session, key, utcnow())
                    if give_back:
                        log.info("job %s gives its runner to a key with fewer running jobs", job_id)
                        return "given-back" if _give_back(app, job_id, owner) else _lost(app, job_id, part)
        result = result_path(app, job_id)
        os.replace(part, result)
        if not _finish(app, job_id, owner, status="done", rows_done=counters.rows, rows_matched=counters.matched,
                       part_name=None):
            outcome = _lost(app, job_id, part)
            if outcome == "cancelled":
                result.unlink(missing_ok=True)
            return outcome
        input_path(app, job_id).unlink(missing_ok=True)
        for stale in jobs_dir(app).glob(f"{job_id}.*.part"):  # parts of workers that were taken over
            stale.unlink(missing_ok=True)
        return "done"
    except (OperationalError, InterfaceError):
        # The database is unreachable: the job cannot be marked anything. Its lease runs out and it is taken up
        # again from its checkpoint (this part file); the runner backs off.
        raise
    except Exception as exc:  # a failed job says why; the worker goes on with the next one
        log.exception("job %s failed", job_id)
        if _finish(app, job_id, owner, status="failed", error=f"{type(exc).__name__}: {exc}"[:1000]):
            remove_files(app, job_id)
            return "failed"
        return _lost(app, job_id, part)


def run_pending(app: Flask, owner: str | None = None) -> int:
    """Run every job that can be claimed now; how many were taken (the runner thread calls this in a loop)."""
    owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    count = 0
    while (job_id := claim_next(app, owner)) is not None:
        run_job(app, job_id, owner)
        count += 1
    return count


# The runner thread -------------------------------------------------------------------------------------------------

def runner_loop(app: Flask, owner: str, stop: threading.Event, *, sleep: Callable[[float], Any] | None = None,
                clock: Callable[[], float] = time.monotonic) -> None:
    """Run jobs until `stop`; sweep expired jobs every SWEEP_SECONDS; back off while the database is down
    (background.poll_loop)."""
    next_sweep = [clock()]

    def step() -> None:
        if clock() >= next_sweep[0]:
            next_sweep[0] = clock() + SWEEP_SECONDS
            removed = sweep(app)
            if removed:
                log.info("removed %d jobs past their retention", removed)
        run_pending(app, owner)

    poll_loop("job runner", step, lambda: app.config["JOB_POLL_SECONDS"], stop, log, sleep=sleep)


def start_runner(app: Flask) -> threading.Thread:
    """A daemon thread in this worker that runs jobs as they come (gunicorn's post_fork starts one per worker)."""
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    thread = threading.Thread(target=runner_loop, args=(app, owner, stop), name="screening-jobs", daemon=True)
    thread.start()
    app.extensions["job_runner_stop"] = stop
    return thread
