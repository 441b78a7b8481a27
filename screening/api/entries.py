"""Reading the list: entries and sources of the current version."""

from __future__ import annotations

from typing import Any, get_args

from flask import Blueprint, current_app, request

from ..auth import require
from ..errors import ApiError
from ..listfile import EntryStatus, EntryType
from ..liststate import get_state
from .render import entry_json, entry_summary

bp = Blueprint("entries", __name__, url_prefix="/v1")
ENTRY_TYPES: tuple[str, ...] = get_args(EntryType)
ENTRY_STATUSES: tuple[str, ...] = get_args(EntryStatus)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: int() also reads other scripts' digits, and a long string costs it quadratic time.
    value = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 12 else low - 1
    if not low <= value <= high:
        raise ApiError(400, "Invalid request", f"{name} must be an integer from {low} to {high}.",
                       errors=[{"field": name, "message": f"must be an integer from {low} to {high}"}],
                       slug="validation")
    return value


def choice_arg(name: str, allowed: tuple[str, ...]) -> str | None:
    raw = request.args.get(name)
    if raw is not None and raw not in allowed:
        raise ApiError(400, "Invalid request", f"{name} must be one of {', '.join(allowed)}.",
                       errors=[{"field": name, "message": f"must be one of {', '.join(allowed)}"}], slug="validation")
    return raw


def select_entries(entries: Any, wanted_type: str | None, status: str | None, program: str | None,
                   text: str) -> list[dict[str, Any]]:
    """The entries these filters select, by id; `text` (casefolded) is part of a name or of the id. (Also the
    interface's list page.)"""
    selected = []
    for entry in entries:
        if wanted_type and entry["type"] != wanted_type:
            continue
        if status and entry["status"] != status:
            continue
        if program and program not in entry.get("programs", []):
            continue
        if text and not any(text in n["name"].casefold() for n in entry["names"]) and text not in entry["id"]:
            continue
        selected.append(entry)
    selected.sort(key=lambda e: e["id"])
    return selected


@bp.get("/entries")
@require("screener")
def list_entries() -> Any:
    snapshot = get_state(current_app).snapshot()
    wanted_type, status = choice_arg("type", ENTRY_TYPES), choice_arg("status", ENTRY_STATUSES)
    program, text = request.args.get("program"), (request.args.get("q") or "").casefold().strip()
    limit, offset = int_arg("limit", 100, 1, 1000), int_arg("offset", 0, 0, 10**9)
    selected = select_entries(snapshot.entries.values(), wanted_type, status, program, text)
    return {"list_version": snapshot.version, "total": len(selected), "limit": limit, "offset": offset,
            "entries": [entry_summary(e) for e in selected[offset:offset + limit]]}


@bp.get("/entries/<entry_id>")
@require("screener")
def get_entry(entry_id: str) -> Any:
    snapshot = get_state(current_app).snapshot()
    entry = snapshot.entries.get(entry_id)
    if entry is None:
        raise ApiError(404, "Not Found", f"No entry {entry_id!r} in list version {snapshot.version}.")
    response = current_app.json.response(entry_json(entry, snapshot))
    response.headers["ETag"] = f'W/"{snapshot.version}"'  # send it back as If-Match to change the entry safely
    return response


@bp.get("/sources")
@require("screener")
def list_sources() -> Any:
    snapshot = get_state(current_app).snapshot()
    return {"list_version": snapshot.version, "sources": list(snapshot.sources.values())}


@bp.get("/sources/<source_id>")
@require("screener")
def get_source(source_id: str) -> Any:
    snapshot = get_state(current_app).snapshot()
    source = snapshot.sources.get(source_id)
    if source is None:
        raise ApiError(404, "Not Found", f"No source {source_id!r} in list version {snapshot.version}.")
    cited_by = sorted(e["id"] for e in snapshot.entries.values()
                      if any(c["source"] == source_id or c.get("via") == source_id for c in e["citations"]))
    return {**source, "cited_by": cited_by, "list_version": snapshot.version}
