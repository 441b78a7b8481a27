"""Monitoring runs: claimed and leased like bulk jobs (one conditional UPDATE; a run whose worker died is taken up
when its lease runs out), processed in subject-reference order in chunks. Each chunk's alerts, cleared hits,
webhook deliveries, counters and `cursor` are committed in one transaction, so a run taken up again resumes after
its last chunk and never opens an alert twice (Alert.live_key is unique as well: a conflicting insert makes the
chunk start over, and the second pass sees the alert open).

Runs are taken in order: a run is not claimed while an earlier one is unfinished, so alerts of version n are never
decided after those of version n+1.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from typing import Any, Callable, Iterable, Iterator

from flask import Flask
from sqlalchemy import bindparam, delete, exists, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from . import store
from .api.render import match_json
from .config import default_threshold
from .background import poll_loop
from .jobs import MAX_ATTEMPTS
from .liststate import ListSnapshot, build_snapshot, get_state, index_cache_dir
from .matching import Matcher
from .matching.index import MAX_BONUS
from .models import utcnow
from .monitoring import live_key, notice_changes, queue_full_run, runner_enabled
from .monitoring_pool import ScreenKey, ScreenPool, pool_processes, screen_keys
from .monitoring_models import Alert, MonitoringRun, Subject, Suppression, WebhookDelivery
from .notifications import enqueue_alert_opened

log = logging.getLogger(__name__)
CHUNK = 500
# The candidate search screens changed entries' names against the subjects, the other way round from the real
# scoring, with the subjects' own term weights: its scores are close to, not equal to, the real ones. This margin
# (on top of the largest birth-date and country bonus) keeps it a superset in practice; see the README, *Ongoing monitoring*.
CANDIDATE_SLACK = 0.15
# Past this many changed names (a whole new list imported), screening every subject costs less than the search.
MAX_CANDIDATE_NAMES = 5000


# Claiming ----------------------------------------------------------------------------------------------------------

def _claimable(now: Any) -> Any:
    earlier = aliased(MonitoringRun)
    return (or_(MonitoringRun.status == "queued",
                (MonitoringRun.status == "running") & (MonitoringRun.lease_until < now))
            & ~exists().where(earlier.id < MonitoringRun.id, earlier.status.in_(("queued", "running"))))


def claim_next(app: Flask, owner: str) -> int | None:
    """Take the oldest claimable run; of two workers, the conditional UPDATE gives it to one."""
    now = utcnow()
    with app.extensions["db_sessionmaker"]() as session:
        run_id = session.scalar(select(MonitoringRun.id).where(_claimable(now)).order_by(MonitoringRun.id).limit(1))
        if run_id is None:
            return None
        claimed = session.execute(
            update(MonitoringRun).where(MonitoringRun.id == run_id, _claimable(now))
            .values(status="running", lease_owner=owner, attempts=MonitoringRun.attempts + 1,
                    started_at=now, lease_until=now + timedelta(seconds=app.config["JOB_LEASE_SECONDS"])))
        session.commit()
    return run_id if claimed.rowcount == 1 else None


def _held(owner: str, run_id: int) -> Any:
    return (MonitoringRun.id == run_id) & (MonitoringRun.lease_owner == owner) & (MonitoringRun.status == "running")


def _finish(app: Flask, run_id: int, owner: str, **values: Any) -> bool:
    with app.extensions["db_sessionmaker"]() as session:
        moved = session.execute(update(MonitoringRun).where(_held(owner, run_id))
                                .values(finished_at=utcnow(), lease_until=None, **values))
        session.commit()
    return moved.rowcount == 1


# What to re-score --------------------------------------------------------------------------------------------------

def _snapshot(app: Flask, session: Session, version: int) -> ListSnapshot:
    current = get_state(app).snapshot()
    if current.version == version:
        return current
    return build_snapshot(session, version, index_cache_dir(app))


def candidate_subjects(session: Session, run: MonitoringRun, threshold: float) -> set[str] | None:
    """The subjects whose hits a change from run.from_version to run.list_version can change: those a changed
    entry's names (old and new revision) may match, those with a live alert on a changed entry, and those edited
    since the previous run was queued. None: every subject (a change so large that searching is no cheaper)."""
    assert run.from_version is not None, f"incremental run {run.id} has no version before"
    before, _ = store.version_links(session, run.from_version)
    after, _ = store.version_links(session, run.list_version)
    change = store.describe_change(before, after)
    touched = change["added"] + change["changed"] + change["removed"]
    refs: set[str] = set()
    for start in range(0, len(touched), 1000):
        refs.update(session.scalars(select(Alert.subject_reference).where(
            Alert.live_key.is_not(None), Alert.entry_id.in_(touched[start:start + 1000]))))
    previous = session.scalar(select(MonitoringRun.created_at).where(MonitoringRun.id < run.id)
                              .order_by(MonitoringRun.id.desc()).limit(1))
    if previous is not None:
        refs.update(session.scalars(select(Subject.reference).where(Subject.updated_at >= previous)))
    if not touched:
        return refs
    docs: list[dict[str, Any]] = []
    for version, ids in ((run.from_version, change["changed"] + change["removed"]),
                         (run.list_version, change["added"] + change["changed"])):
        if len(ids) > 200:
            wanted = set(ids)
            docs += [e for e in store.version_entries(session, version) if e["id"] in wanted]
        else:
            docs += [doc for eid in ids if (doc := store.version_entry(session, version, eid)) is not None]
    names = {n["name"] for doc in docs for n in doc["names"]}
    if len(names) > MAX_CANDIDATE_NAMES:
        return None
    subjects = [{"id": ref, "type": kind, "status": "active", "names": [{"name": name, "kind": "primary"}]}
                for ref, name, kind in session.execute(select(Subject.reference, Subject.name, Subject.type))]
    if not subjects:
        return refs
    index = Matcher(subjects)
    permissive = max(0.0, threshold - sum(MAX_BONUS.values()) - CANDIDATE_SLACK)
    for name in names:
        _, matches = index.screen(name, type="any", threshold=permissive, limit=len(subjects))
        refs.update(m.entry_id for m in matches)
    return refs


# Running -----------------------------------------------------------------------------------------------------------

def _clear_reason(alert: Any, subject: Any, snapshot: ListSnapshot, entry_hashes: dict[str, str]) -> str:
    entry = snapshot.entries.get(alert.entry_id)
    if entry is None:
        return "entry removed"
    if entry.get("status") == "delisted":
        return "entry delisted"
    if alert.subject_hash != subject.data_hash:
        return "subject changed"
    if alert.entry_hash != entry_hashes.get(alert.entry_id):
        return "entry changed"
    return "no longer matches"


# Subjects repeat names (a bank's customers share common ones): a run screens each (name, type, birth date, country)
# once, as a bulk file does, and remembers at most this many results.
SCREEN_MEMO_SIZE = 200_000
ScreenMemo = dict[ScreenKey, tuple[Any, list[Any]]]
SUBJECT_COLUMNS = (Subject.reference, Subject.name, Subject.type, Subject.birth_date, Subject.country,
                   Subject.data_hash)


# A chunk's rows, by its references: an expanding parameter, so the statements are built once (an IN list of
# literals costs the runner, which the pool's processes wait on, more than the query does).
_CHUNK = bindparam("refs", expanding=True)
_CHUNK_SUBJECTS = select(*SUBJECT_COLUMNS).where(Subject.reference.in_(_CHUNK)).with_for_update(read=True)
_CHUNK_REFERENCES = select(Subject.reference).where(Subject.reference.in_(_CHUNK))
_CHUNK_LIVE_ALERTS = (select(Alert.id, Alert.subject_reference, Alert.entry_id, Alert.subject_hash, Alert.entry_hash)
                      .where(Alert.subject_reference.in_(_CHUNK), Alert.live_key.is_not(None)))
_CHUNK_SUPPRESSIONS = (select(Suppression.subject_reference, Suppression.entry_id, Suppression.subject_hash,
                              Suppression.entry_hash).where(Suppression.subject_reference.in_(_CHUNK)))


def _screen_chunk(snapshot: ListSnapshot, subjects: Iterable[Any], threshold: float, memo: ScreenMemo) -> None:
    """Screen the subjects the memo has no result for (the pool's results are in it already), all at once."""
    keys = list(dict.fromkeys((s.name, s.type, s.birth_date, s.country) for s in subjects))
    missing = [key for key in keys if key not in memo]
    if not missing:
        return
    found = screen_keys(snapshot.matcher, missing, threshold)
    if len(memo) + len(missing) > SCREEN_MEMO_SIZE:  # full: keep this chunk's own results only
        kept = {key: memo[key] for key in keys if key in memo}
        memo.clear()
        memo.update(kept)
    memo.update(zip(missing, found))


def _process_chunk(app: Flask, session: Session, run: MonitoringRun, refs: list[str], snapshot: ListSnapshot,
                   entry_hashes: dict[str, str], threshold: float, memo: ScreenMemo) -> dict[str, int]:
    """Re-score these subjects in the session's transaction: open alerts for new hits, clear vanished ones."""
    # FOR SHARE (PostgreSQL): a DELETE of one of these subjects waits for this chunk's commit, then clears the alerts
    # opened here; SQLite takes no row locks, see _drop_removed.
    # (Rows of the columns a run compares, not ORM objects, and no JSON column read: the runner's own work is what
    # the pool's processes wait on beside it.)
    subjects = {s.reference: s for s in session.execute(_CHUNK_SUBJECTS, {"refs": refs})}
    live: dict[str, list[Any]] = {}
    for alert in session.execute(_CHUNK_LIVE_ALERTS, {"refs": refs}):
        live.setdefault(alert.subject_reference, []).append(alert)
    suppressed = {(s.subject_reference, s.entry_id): s for s in session.execute(_CHUNK_SUPPRESSIONS, {"refs": refs})}
    opened = 0
    clears: list[dict[str, Any]] = []
    now = utcnow()
    _screen_chunk(snapshot, subjects.values(), threshold, memo)
    for ref in refs:
        subject = subjects.get(ref)
        if subject is None:
            continue  # removed since the run began: its alerts were cleared then
        query, matches = memo[(subject.name, subject.type, subject.birth_date, subject.country)]
        hits = {m.entry_id: m for m in matches}
        for alert in live.get(ref, []):
            if alert.entry_id not in hits:
                clears.append({"id": alert.id, "live_key": None, "cleared_version": run.list_version, "updated_at": now,
                               "cleared_reason": _clear_reason(alert, subject, snapshot, entry_hashes)})
        open_entries = {a.entry_id for a in live.get(ref, [])}
        for entry_id, match in hits.items():
            if entry_id in open_entries:
                continue
            entry_hash = entry_hashes.get(entry_id, "")
            remembered = suppressed.get((ref, entry_id))
            if remembered and remembered.subject_hash == subject.data_hash and remembered.entry_hash == entry_hash:
                continue  # a false positive already decided, on the same data on both sides
            shown = match_json(match, query, snapshot)
            alert = Alert(live_key=live_key(ref, entry_id), subject_reference=ref, entry_id=entry_id, status="open",
                          score=shown["score"], matched_name=shown["matched_name"], explanation=shown["explanation"],
                          citations=shown["citations"], subject_name=subject.name, subject_hash=subject.data_hash,
                          entry_hash=entry_hash, version_before=run.from_version, version_opened=run.list_version,
                          run_id=run.id, created_at=now, updated_at=now)
            session.add(alert)
            opened += 1
            if app.config.get("WEBHOOK_URL"):  # queued with the alert, in its transaction (notifications sends it)
                session.flush()  # the alert's id, for the payload
                enqueue_alert_opened(session, app.config, alert)
    if clears:
        session.execute(update(Alert), clears)  # (by primary key, in one executemany)
    return {"opened": opened, "cleared": len(clears), "rescored": len(subjects)}


def _drop_removed(session: Session, run: MonitoringRun, refs: list[str]) -> int:
    """Take back the alerts this chunk opened for subjects removed while it was scored; how many. On SQLite this
    runs after the chunk's first write, holding the database's write lock, so no removal can slip in before the
    commit."""
    session.flush()
    gone = set(refs) - set(session.scalars(_CHUNK_REFERENCES, {"refs": refs}))
    if not gone:
        return 0
    stale = list(session.scalars(select(Alert.id).where(Alert.run_id == run.id, Alert.live_key.is_not(None),
                                                         Alert.subject_reference.in_(gone))))
    if stale:
        session.execute(update(Alert).where(Alert.id.in_(stale)).values(
            live_key=None, cleared_version=run.list_version, cleared_reason="subject removed"))
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.alert_id.in_(stale),
                                                      WebhookDelivery.status == "pending"))
    return len(stale)


def _chunk_with_checkpoint(app: Flask, run: MonitoringRun, owner: str, refs: list[str], snapshot: ListSnapshot,
                           entry_hashes: dict[str, str], threshold: float, totals: dict[str, int],
                           memo: ScreenMemo) -> bool:
    """Process one chunk and commit it with the run's progress if this runner still holds the run; whether it
    does. A live_key conflict (the alert is open already) rolls the chunk back and does it again."""
    for attempt in range(3):
        with app.extensions["db_sessionmaker"]() as session:
            counts = _process_chunk(app, session, run, refs, snapshot, entry_hashes, threshold, memo)
            values = {"cursor": refs[-1], "subjects_done": totals["done"] + len(refs),
                      "subjects_rescored": totals["rescored"] + counts["rescored"],
                      "alerts_opened": totals["opened"] + counts["opened"],
                      "hits_cleared": totals["cleared"] + counts["cleared"],
                      "lease_until": utcnow() + timedelta(seconds=app.config["JOB_LEASE_SECONDS"])}
            try:
                values["alerts_opened"] -= _drop_removed(session, run, refs)
                moved = session.execute(update(MonitoringRun).where(_held(owner, run.id)).values(**values))
                if moved.rowcount != 1:
                    session.rollback()  # taken over (our lease ran out): the new holder does this chunk
                    return False
                session.commit()
            except IntegrityError:
                session.rollback()
                log.info("run %s: an alert of the chunk after %s is open already; doing the chunk again",
                         run.id, refs[0])
                continue
        totals.update(done=values["subjects_done"], rescored=values["subjects_rescored"],
                      opened=values["alerts_opened"], cleared=values["hits_cleared"])
        return True
    raise RuntimeError(f"run {run.id}: the chunk from {refs[0]} kept conflicting")


def _pool(app: Flask, run: MonitoringRun, subjects: int) -> ScreenPool | None:
    """A pool of processes for a run of this many subjects, started now (its processes load the list while the
    runner does); None when the runner screens alone (monitoring_pool.pool_processes)."""
    url = app.config["DATABASE_URL"]
    processes = pool_processes(app.config, subjects, url)
    if processes <= 1:
        return None
    cache = index_cache_dir(app)
    return ScreenPool(processes, url, run.list_version, str(cache) if cache else None).start()


@contextmanager
def _screened_ahead(app: Flask, run: MonitoringRun, chunks: list[list[str]], threshold: float,
                    pool: ScreenPool | None) -> Iterator[Iterator[dict[ScreenKey, Any]] | None]:
    """The chunks' screenings, made ahead by a pool of processes when the run is large enough (monitoring_pool):
    `pool` when one was started already; None: the runner screens each subject itself."""
    pool = pool or _pool(app, run, sum(map(len, chunks)))
    if pool is None:
        yield None
        return
    with app.extensions["db_sessionmaker"]() as session:
        keys = {ref: (name, kind, birth_date, country) for ref, name, kind, birth_date, country in session.execute(
            select(Subject.reference, Subject.name, Subject.type, Subject.birth_date, Subject.country))}
    sent: set[ScreenKey] = set()
    key_chunks = []
    for chunk in chunks:  # each distinct screening once in the run (the memo keeps it for later chunks)
        fresh = {key for ref in chunk if (key := keys.get(ref)) is not None and key not in sent}
        sent |= fresh
        key_chunks.append(sorted(fresh, key=repr))
    try:
        yield pool.ahead(key_chunks, threshold)
    finally:
        pool.close()


def run_run(app: Flask, run_id: int, owner: str) -> str:
    """Carry a claimed run to its end from its cursor: "done", "failed" or "lost" (taken over)."""
    started = time.monotonic()
    with app.extensions["db_sessionmaker"]() as session:
        run = session.get(MonitoringRun, run_id)
        assert run is not None, run_id
        if run.attempts > MAX_ATTEMPTS:
            reason = f"gave up after {MAX_ATTEMPTS} attempts: the workers running it stopped before it finished"
            return _failed(app, run, owner, reason)
        # Two processes may notice versions n and n+1 at once and insert their runs in the other order: a run of an
        # older version than an earlier run's has nothing left to do (that run screened the newer list already),
        # and running it would undo that run's alerts.
        newer = session.scalar(select(MonitoringRun.list_version).where(
            MonitoringRun.id < run_id, MonitoringRun.list_version > run.list_version).limit(1))
        session.expunge(run)
    if newer is not None and run.kind == "incremental":
        return "done" if _finish(app, run_id, owner, status="done", error=f"superseded by version {newer}") \
            else "lost"
    pool = None
    try:
        threshold = default_threshold(app.config)
        if run.kind == "full":  # its size is known now: the pool's processes start while the list loads
            with app.extensions["db_sessionmaker"]() as session:
                pool = _pool(app, run, session.scalar(select(func.count()).select_from(Subject).where(
                    Subject.reference > run.cursor if run.cursor is not None else true())) or 0)
        with app.extensions["db_sessionmaker"]() as session:
            snapshot = _snapshot(app, session, run.list_version)
            entry_hashes, _ = store.version_links(session, run.list_version)
            loaded = time.monotonic()
            found = candidate_subjects(session, run, threshold) if run.kind == "incremental" else None
            refs = sorted(found) if found is not None else \
                list(session.scalars(select(Subject.reference).order_by(Subject.reference)))
        selected = time.monotonic()
        with app.extensions["db_sessionmaker"]() as session:
            session.execute(update(MonitoringRun).where(_held(owner, run_id)).values(subjects_total=len(refs)))
            session.commit()
        todo = [r for r in refs if run.cursor is None or r > run.cursor]
        totals = {"done": run.subjects_done, "rescored": run.subjects_rescored, "opened": run.alerts_opened,
                  "cleared": run.hits_cleared}
        memo: ScreenMemo = {}
        chunks = [todo[start:start + CHUNK] for start in range(0, len(todo), CHUNK)]
        with _screened_ahead(app, run, chunks, threshold, pool) as ahead:
            for chunk in chunks:
                if ahead is not None:
                    screened = next(ahead, {})  # nothing once the pool broke: the runner screens the rest
                    if len(memo) + len(screened) > SCREEN_MEMO_SIZE:
                        memo.clear()
                    memo.update(screened)
                if not _chunk_with_checkpoint(app, run, owner, chunk, snapshot, entry_hashes, threshold, totals,
                                              memo):
                    log.warning("monitoring run %s was taken over by another worker; stopping", run_id)
                    return "lost"
        timings = {**(run.timings or {}), "load": round(loaded - started, 3), "select": round(selected - loaded, 3),
                   "rescore": round(time.monotonic() - selected, 3), "total": round(time.monotonic() - started, 3)}
        return "done" if _finish(app, run_id, owner, status="done", timings=timings) else "lost"
    except Exception as exc:
        log.exception("monitoring run %s failed", run_id)
        return _failed(app, run, owner, f"{type(exc).__name__}: {exc}"[:1000])
    finally:
        if pool is not None:
            pool.close()  # (again, when the run ended before its chunks: closing twice is harmless)


def _failed(app: Flask, run: MonitoringRun, owner: str, reason: str) -> str:
    """Mark the run failed and queue one full run in its place: the next incremental run diffs from this run's
    version, so the hits this one would have found are only found by screening everything. A failed recovery run
    is not replaced (it would fail again in a loop); the next list change or a manual full run follows it."""
    if not _finish(app, run.id, owner, status="failed", error=reason):
        return "lost"
    if run.trigger != "recovery":
        queue_full_run(app, actor="system", trigger="recovery", trigger_key=f"recover:{run.id}")
    return "failed"


def run_pending(app: Flask, owner: str | None = None) -> int:
    """Queue what new versions call for, then run every claimable run; how many ran."""
    owner = owner or f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    notice_changes(app)
    count = 0
    while (run_id := claim_next(app, owner)) is not None:
        run_run(app, run_id, owner)
        count += 1
    return count


# The runner thread -------------------------------------------------------------------------------------------------

def runner_loop(app: Flask, owner: str, stop: threading.Event, *, sleep: Callable[[float], Any] | None = None) -> None:
    poll_loop("monitoring runner", lambda: run_pending(app, owner),
              lambda: max(app.config["LIST_POLL_SECONDS"], app.config["JOB_POLL_SECONDS"]), stop, log, sleep=sleep)


def start_runner(app: Flask) -> threading.Thread:
    """A daemon thread in this worker that notices list changes and runs monitoring runs."""
    owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
    stop = threading.Event()
    thread = threading.Thread(target=runner_loop, args=(app, owner, stop), name="screening-monitoring",
                              daemon=True)
    thread.start()
    app.extensions["monitoring_runner_stop"] = stop
    return thread


def start_if_enabled(app: Flask) -> threading.Thread | None:
    """Start the runner unless the app is under test (TESTING; a test may set MONITORING_RUNNER_IN_TESTS) or
    MONITORING_RUNNER is off. Called after the fork (gunicorn's post_fork): a thread does not survive a fork."""
    if not runner_enabled(app):
        return None
    if app.config.get("TESTING") and not app.config.get("MONITORING_RUNNER_IN_TESTS"):
        return None
    if "monitoring_runner_stop" in app.extensions:
        return None
    return start_runner(app)


def init_app(app: Flask) -> None:
    """Nothing starts here when the app is made in gunicorn's master (the thread would not survive the fork): the
    master's post_fork hook starts one per worker. An app made in its own process and asking for it
    (MONITORING_RUNNER_START, e.g. a test) starts at once."""
    if app.config.get("MONITORING_RUNNER_START"):
        start_if_enabled(app)
