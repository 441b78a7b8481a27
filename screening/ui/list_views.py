"""The list: entries (search, filters), an entry page, versions with their diff, and for admins the edit form
(carrying the ETag, as PUT /v1/entries/{id} needs it) and imports. Every change goes through the admin API's own
functions (screening.api.admin._change: one write transaction, the same conflicts and problems)."""

from __future__ import annotations

import json
from typing import Any

import yaml
from flask import current_app, g, redirect, render_template, request, url_for
from pydantic import ValidationError
from sqlalchemy import select

from .. import lists, store
from ..api.admin import READ_ONLY_CITATION_FIELDS, _change, _list_problems
from ..api.entries import ENTRY_STATUSES, ENTRY_TYPES, select_entries
from ..api.render import citation_json, primary_name
from ..db import get_session
from ..errors import ApiError, validation_errors
from ..importers import FORMATS, ImportLimits, parse_import
from ..listfile import Entry, ListValidationError, text_defects
from ..liststate import get_state
from ..models import ListVersion, VersionEntry
from . import bp, needs, page_error

PAGE = 50
MAX_EDIT_PROBLEMS = 50


@bp.get("/entries")
@needs("screener")
def entries() -> Any:
    snapshot = get_state(current_app).snapshot()
    values = {k: (request.args.get(k) or "").strip()[:200] for k in ("q", "type", "status", "program")}
    wanted_type = values["type"] if values["type"] in ENTRY_TYPES else None
    status = values["status"] if values["status"] in ENTRY_STATUSES else None
    selected = select_entries(snapshot.entries.values(), wanted_type, status, values["program"] or None,
                              values["q"].casefold())
    page = request.args.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and 0 < len(page) <= 6 and int(page) > 0 else 1
    programs = sorted({p for e in snapshot.entries.values() for p in e.get("programs", [])})
    shown = selected[(number - 1) * PAGE:number * PAGE]
    return render_template("entries.html", entries=shown, total=len(selected), values=values, types=ENTRY_TYPES,
                           statuses=ENTRY_STATUSES, programs=programs, page=number,
                           pages=max(1, -(-len(selected) // PAGE)), version=snapshot.version,
                           primary_name=primary_name)


def _entry_or_404(entry_id: str, *, fresh: bool = False) -> tuple[dict[str, Any], Any]:
    """The entry in this worker's snapshot; `fresh`: brought up to the database's head first, as GET
    /v1/entries/{id} does, since the edit form's ETag is the version it shows."""
    state = get_state(current_app)
    snapshot = state.refresh() if fresh else state.snapshot()
    entry = snapshot.entries.get(entry_id)
    if entry is None:
        raise ApiError(404, "Not found", f"No entry {entry_id[:200]!r} in list version {snapshot.version}.")
    return entry, snapshot


def entry_history(entry_id: str) -> list[dict[str, Any]]:
    """The versions in which this entry appeared, changed or left the list, newest first: where its revision in a
    version differs from the one before (versions are immutable links to content-addressed revisions)."""
    session = get_session()
    held = dict(session.execute(select(VersionEntry.version, VersionEntry.revision_id)
                                .where(VersionEntry.entry_id == entry_id)).all())
    out, previous = [], None
    for row in session.scalars(select(ListVersion).order_by(ListVersion.number)):
        revision = held.get(row.number)
        if revision != previous:
            what = "added" if previous is None else "removed" if revision is None else "changed"
            out.append({"version": row.number, "what": what, "actor": row.actor, "summary": row.summary,
                        "created_at": row.created_at})
        previous = revision
    return out[::-1]


@bp.get("/entries/<entry_id>")
@needs("screener")
def entry(entry_id: str) -> Any:
    found, snapshot = _entry_or_404(entry_id)
    citations = [citation_json(c, snapshot.sources) for c in found["citations"]]
    return render_template("entry.html", entry=found, citations=citations, version=snapshot.version,
                           sources=snapshot.sources, primary_name=primary_name(found),
                           saved=request.args.get("saved"), history=entry_history(entry_id))


def _editable_text(found: dict[str, Any]) -> str:
    return yaml.safe_dump(found, allow_unicode=True, sort_keys=False, width=110)


def _parse_edit(entry_id: str, text: str) -> Entry:
    """The form's YAML as an entry, or a 400/422 naming what is wrong (the list is not touched)."""
    try:
        body = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ApiError(400, "Not YAML", "The entry is not readable YAML.",
                       errors=[{"field": "(entry)", "message": str(exc)[:500]}]) from None
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid entry", "The entry must be a mapping of fields.",
                       errors=[{"field": "(entry)", "message": "expected fields such as id, type, names"}])
    defects = list(text_defects(body))
    if defects:
        raise ApiError(400, "Invalid entry", "The entry holds text no database stores alike.",
                       errors=[{"field": p, "message": why} for p, why in defects[:MAX_EDIT_PROBLEMS]])
    if body.get("id", entry_id) != entry_id:
        raise ApiError(400, "Invalid entry", "The entry's id cannot change.",
                       errors=[{"field": "id", "message": f"must be {entry_id!r}"}])
    body = {k: v for k, v in body.items() if k not in ("name", "list_version")}
    if isinstance(body.get("citations"), list):
        body["citations"] = [{k: v for k, v in c.items() if k not in READ_ONLY_CITATION_FIELDS}
                             if isinstance(c, dict) else c for c in body["citations"]]
    body["id"] = entry_id
    try:
        return Entry.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "Invalid entry", "The entry does not match the list schema.",
                       errors=validation_errors(exc)[:MAX_EDIT_PROBLEMS]) from None


@bp.route("/entries/<entry_id>/edit", methods=["GET", "POST"])
@needs("admin")
def entry_edit(entry_id: str) -> Any:
    found, snapshot = _entry_or_404(entry_id, fresh=request.method == "GET")
    if request.method == "GET":
        return render_template("entry_edit.html", entry_id=entry_id, text=_editable_text(found),
                               etag=snapshot.version, errors=[], stale=None, name=primary_name(found))
    text, etag = request.form.get("entry", ""), request.form.get("etag", "")
    if not (etag.isascii() and etag.isdigit() and len(etag) <= 10):
        return page_error(400, "Form expired", "The form lacks the version it was opened at; open it again.")
    try:
        parsed = _parse_edit(entry_id, text)
        result = _change(lists.put_entry, entry=parsed, create=False, expected_version=int(etag))
    except ApiError as exc:
        stale = exc.extra.get("list_version") if exc.status == 409 else None
        errors = exc.errors or ([] if stale is not None else [{"field": "(entry)", "message": exc.detail}])
        return render_template("entry_edit.html", entry_id=entry_id, text=text, etag=etag, errors=errors,
                               stale=stale, name=primary_name(found)), exc.status
    return redirect(url_for("ui.entry", entry_id=entry_id, saved=result.version), code=303)


# Versions ----------------------------------------------------------------------------------------------------------

def _show(value: Any) -> str:
    """One value of a field, short and readable: a mapping on one line, text as it is."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_show(v)}" for k, v in value.items())
    return json.dumps(value, ensure_ascii=False)


def readable_changes(changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The store's field changes, lists split into the items removed and added (a name added reads as one line)."""
    out = []
    for change in changes:
        before, after = change["before"], change["after"]
        if isinstance(before, list) or isinstance(after, list):
            before, after = before or [], after or []
            out.append({"field": change["field"], "removed": [_show(x) for x in before if x not in after],
                        "added": [_show(x) for x in after if x not in before]})
        else:
            out.append({"field": change["field"], "removed": [] if before is None else [_show(before)],
                        "added": [] if after is None else [_show(after)]})
    return out


@bp.get("/versions")
@needs("screener")
def versions() -> Any:
    page = request.args.get("page", "1")
    number = int(page) if page.isascii() and page.isdigit() and 0 < len(page) <= 6 and int(page) > 0 else 1
    listed = lists.versions(get_session(), limit=PAGE, offset=(number - 1) * PAGE)
    return render_template("versions.html", listed=listed, page=number,
                           pages=max(1, -(-(listed["total"] or 0) // PAGE)))


@bp.get("/versions/<int:version>")
@needs("screener")
def version_diff(version: int) -> Any:
    raw = request.args.get("against", "")
    against = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 10 else version - 1
    session = get_session()
    try:
        if against < 1 and version >= 1:  # the first version: everything in it was added
            lists.diff(session, version, version)  # 404 for a version that does not exist
            added = [{"id": e["id"], "name": primary_name(e)} for e in store.version_entries(session, version)]
            diff = {"version": version, "against": 0, "added": sorted(added, key=lambda e: e["id"]), "removed": [],
                    "changed": [], "sources": {"added": [], "removed": [], "changed": []}}
        else:
            diff = lists.diff(session, version, against)
    except lists.VersionNotFound as exc:
        raise ApiError(404, "Not found", f"No list version {exc}.") from None
    changed = [{**c, "readable": readable_changes(c["changes"])} for c in diff["changed"]]
    return render_template("version.html", diff=diff, changed=changed)


# Imports -----------------------------------------------------------------------------------------------------------

@bp.route("/import", methods=["GET", "POST"], endpoint="list_import")
@needs("admin")
def list_import() -> Any:
    values = {"format": request.form.get("format", "native"), "mode": request.form.get("mode", "merge"),
              "allow_empty": request.form.get("allow_empty")}
    if request.method == "GET":
        return render_template("import.html", values=values, formats=FORMATS, modes=lists.IMPORT_MODES, errors=[],
                               result=None)
    errors: list[dict[str, Any]] = []
    if values["format"] not in FORMATS:
        errors.append({"field": "format", "message": f"must be one of {', '.join(FORMATS)}"})
    if values["mode"] not in lists.IMPORT_MODES:
        errors.append({"field": "mode", "message": f"must be one of {', '.join(lists.IMPORT_MODES)}"})
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        errors.append({"field": "file", "message": "choose a file"})
    result, status = None, 200
    if not errors:
        assert upload is not None
        limits = ImportLimits.from_config(current_app.config)
        fmt = values["format"]
        # A zip is read whole (the request's own limit, MAX_IMPORT_BYTES, bounds it) and its members are counted as
        # they are unpacked; a plain file one byte past the unpacked limit, so that the importer refuses it.
        data = upload.stream.read() if fmt == "ofac-csv" else upload.stream.read(limits.max_bytes + 1)
        if fmt == "ofac-csv":
            files = {"zip": data} if data[:2] == b"PK" else {"sdn": data}  # a zip of the four files, or sdn.csv
        else:
            files = {"file": data}
        try:
            try:
                document = parse_import(fmt, files, limits)
            except ListValidationError as exc:
                raise _list_problems(exc) from None
            change = _change(lists.import_document, document=document, mode=values["mode"], expected_version=None,
                             allow_empty=bool(values["allow_empty"]))
            result = {"version": change.version, "created": change.created, "summary": change.summary,
                      "entries": len(document.entries), "warnings": [p.as_dict() for p in document.warnings][:100],
                      "warning_count": len(document.warnings)}
        except ApiError as exc:
            errors = exc.errors or [{"field": "(file)", "message": exc.detail}]
            status = exc.status
    else:
        status = 400
    return render_template("import.html", values=values, formats=FORMATS, modes=lists.IMPORT_MODES, errors=errors,
                           result=result), status
