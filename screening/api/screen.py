"""Screening: one name (POST or GET) and batches."""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from typing import Any

from flask import Blueprint, current_app, g, request
from pydantic import ValidationError

from .. import decisions, store
from ..auth import require
from ..db import get_session
from ..errors import ApiError, validation_errors
from ..liststate import ListSnapshot, get_state
from ..config import default_threshold
from ..schemas import BatchQuery, BatchRequest, ScreenQuery
from ..observability import record_screenings
from .audit import prune_screenings
from .render import match_json

bp = Blueprint("screen", __name__, url_prefix="/v1")


def _json_body() -> Any:
    body = request.get_json(silent=True)
    if body is None:
        raise ApiError(400, "Invalid request", "The body must be a JSON object.",
                       errors=[{"field": "(body)", "message": "expected a JSON object"}], slug="validation")
    return body


def _check_name_length(query: ScreenQuery, field: str = "name") -> None:
    limit = current_app.config["MAX_NAME_LENGTH"]
    if len(query.name) > limit:
        raise ApiError(400, "Invalid request", f"The name is longer than {limit} characters.",
                       errors=[{"field": field, "message": f"must be at most {limit} characters"}], slug="validation")


def screen_one(query: ScreenQuery, snapshot: ListSnapshot) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one query against one snapshot; return the response body part and the audit record."""
    threshold = default_threshold(current_app.config) if query.threshold is None else query.threshold
    normalized, matches = snapshot.matcher.screen(query.name, type=query.type, threshold=threshold,
                                                  limit=query.limit, birth_date=query.birth_date,
                                                  country=query.country)
    screening_id = str(uuid.uuid4())
    body = {"screening_id": screening_id, "threshold": threshold,
            "query": {"name": query.name, "normalized": [normalized.normalized], "type": query.type,
                      "reference": query.reference},
            "matches": [match_json(m, normalized, snapshot) for m in matches]}
    audit = {"screening_id": screening_id, "query": query.name, "type": query.type, "threshold": threshold,
             "matches": [{"entry_id": m.entry_id, "score": m.score} for m in matches]}
    return body, audit


PRUNE_EVERY_SECONDS = 3600.0
_last_prune = [0.0]


def _record(snapshot: ListSnapshot, audits: list[dict[str, Any]], references: list[str | None]) -> None:
    session = get_session()
    for audit, reference in zip(audits, references):
        store.record_audit(session, kind="screening", action="screen", actor=g.principal.label,
                           list_version=snapshot.version, reference=reference, data=audit)
    if time.monotonic() - _last_prune[0] > PRUNE_EVERY_SECONDS:
        # The retention setting is applied as screenings happen, at most hourly per worker: no scheduler needed.
        _last_prune[0] = time.monotonic()
        prune_screenings(session, current_app.config["AUDIT_RETENTION_DAYS"])
    session.commit()


def respond_single(query: ScreenQuery) -> dict[str, Any]:
    """Screen one query, mark decided matches, audit it: the whole of /v1/screen (and of the interface's page)."""
    _check_name_length(query)
    snapshot = get_state(current_app).snapshot()
    body, audit = screen_one(query, snapshot)
    decisions.mark_decided(get_session(), [(query.reference, body["matches"])], snapshot.entries)
    _record(snapshot, [audit], [query.reference])
    record_screenings("api", 1, len(body["matches"]), snapshot.version)
    return {"screening_id": body["screening_id"], "list_version": snapshot.version,
            "screened_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "threshold": body["threshold"], "query": body["query"], "matches": body["matches"]}


@bp.post("/screen")
@require("screener")
def screen_post() -> Any:
    return respond_single(ScreenQuery.model_validate(_json_body()))


@bp.get("/screen")
@require("screener")
def screen_get() -> Any:
    args = request.args.to_dict()
    return respond_single(ScreenQuery.model_validate(args))


@bp.post("/screen/batch")
@require("screener")
def screen_batch() -> Any:
    body = _json_body()
    raw_queries = body.get("queries") if isinstance(body, dict) else None
    if not isinstance(raw_queries, list) or set(body) - set(BatchRequest.model_fields):
        BatchRequest.model_validate(body)  # not a list of queries, or unknown fields: the schema's own errors
    limit = current_app.config["MAX_BATCH"]
    if len(raw_queries) > limit:
        raise ApiError(400, "Invalid request", f"A batch holds at most {limit} queries.",
                       errors=[{"field": "queries", "message": f"at most {limit} queries"}], slug="validation")
    if not raw_queries:
        raise ApiError(400, "Invalid request", "A batch holds at least one query.",
                       errors=[{"field": "queries", "message": "at least one query"}], slug="validation")
    queries: list[BatchQuery] = []
    for i, raw in enumerate(raw_queries):
        qid = raw.get("id") if isinstance(raw, dict) else None
        label = f"queries[{i}]" + (f" (id {qid})" if qid else "")
        try:
            query = BatchQuery.model_validate(raw)
        except ValidationError as exc:
            raise ApiError(400, "Invalid request", f"Query {qid or i} is invalid; the batch was not screened.",
                           errors=validation_errors(exc, prefix=f"{label}."), slug="validation",
                           extra={"query_id": qid}) from None
        _check_name_length(query, field=f"{label}.name")
        queries.append(query)
    ids = [q.id for q in queries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ApiError(400, "Invalid request", "Query ids must be unique within a batch.",
                       errors=[{"field": "queries.id", "message": f"duplicate id {d!r}"} for d in duplicates],
                       slug="validation")
    snapshot = get_state(current_app).snapshot()
    results, audits = [], []
    for q in queries:
        one, audit = screen_one(q, snapshot)
        results.append({"id": q.id, **one})
        audits.append({**audit, "batch_query_id": q.id})
    decisions.mark_decided(get_session(), [(r["query"]["reference"], r["matches"]) for r in results],
                           snapshot.entries)
    _record(snapshot, audits, [q.reference for q in queries])
    record_screenings("batch", len(results), sum(len(r["matches"]) for r in results), snapshot.version)
    return {"list_version": snapshot.version, "results": results}
