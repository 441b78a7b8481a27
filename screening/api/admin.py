"""Admin list changes (role admin): entries, imports, export, versions, diff, restore.

Every change is a new list version written in one transaction, audited with the key's label as the actor. A PUT or
DELETE of an entry must send `If-Match: W/"<version>"`, the ETag of what it read (428 without it): if the list has
moved since, the change is a 409, so two admins never overwrite each other unseen. Other changes may send it.
"""

from __future__ import annotations

import re
from typing import IO, Any

from flask import Blueprint, Response, current_app, g, request, stream_with_context, url_for
from pydantic import ValidationError

from .. import lists, store
from ..auth import require
from ..db import get_session, session_factory, write_sessions
from ..errors import ApiError, validation_errors
from ..importers import FORMATS, ImportLimits, parse_import
from ..importers.ftm import export_ftm
from ..listfile import Entry, ListTooLarge, ListValidationError, Problem, dump_native, text_defects
from ..liststate import get_state
from .entries import int_arg
from .render import citation_json, entry_json, primary_name

bp = Blueprint("admin", __name__, url_prefix="/v1")

# Fields GET adds to an entry; ignored when the entry is sent back.
READ_ONLY_FIELDS = ("name", "list_version")
READ_ONLY_CITATION_FIELDS = ("source_id", "title", "publisher", "published", "url", "kind")


# W/"12", "12" or 12; ten digits hold any version (MAX_VERSION), and a bounded pattern never meets int()'s limit.
_ETAG = re.compile(r'(?:W/)?("?)([0-9]{1,10})\1')
MAX_IF_MATCH = 64
MAX_REPORTED_PROBLEMS = 1000  # a refused import of 200,000 bad lines names the first ones and counts the rest


def _invalid(field: str, message: str, detail: str) -> ApiError:
    return ApiError(400, "Invalid request", detail, errors=[{"field": field, "message": message}], slug="validation")


def _expected_version(*, required: bool = False) -> int | None:
    """The list version of If-Match; None for `*` (whatever is current) or, where not required, no header."""
    raw = request.headers.get("If-Match")
    if raw is None:
        if required:
            raise ApiError(428, "Precondition Required",
                           "Send If-Match with the ETag of the entry as you read it (GET /v1/entries/{id}), so that "
                           "a change made since is not overwritten unseen; `If-Match: *` overwrites what is current.",
                           errors=[{"field": "If-Match", "message": "required"}], slug="precondition-required")
        return None
    value = raw.strip()
    if value == "*":
        return None
    match = _ETAG.fullmatch(value) if len(value) <= MAX_IF_MATCH else None
    if match is None:
        raise _invalid("If-Match", "expected a quoted version number, as the ETag gave it",
                       "If-Match must be a list version, as the ETag gave it.")
    return int(match.group(2))


def _entry_from_body(entry_id: str | None = None) -> Entry:
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # json.loads of a deeply nested body; silent only covers ValueError
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Invalid request", "The body must be a JSON object (an entry).",
                       errors=[{"field": "(body)", "message": "expected a JSON object"}], slug="validation")
    defects = list(text_defects(body))
    if defects:  # before the schema: PostgreSQL cannot store a NUL, and the answer must not depend on the database
        raise ApiError(400, "Invalid request", "The entry holds text no database stores alike.",
                       errors=[{"field": path, "message": why} for path, why in defects[:MAX_REPORTED_PROBLEMS]],
                       slug="validation")
    body = {k: v for k, v in body.items() if k not in READ_ONLY_FIELDS}
    citations = body.get("citations")
    if isinstance(citations, list):
        body["citations"] = [
            {**{k: v for k, v in c.items() if k not in READ_ONLY_CITATION_FIELDS},
             "source": c.get("source", c.get("source_id"))} if isinstance(c, dict) else c for c in citations]
    if entry_id is not None:
        if body.get("id", entry_id) != entry_id:
            raise ApiError(400, "Invalid request", "The entry's id cannot change.",
                           errors=[{"field": "id", "message": f"must be {entry_id!r} (the id in the URL)"}],
                           slug="validation")
        body["id"] = entry_id
    try:
        return Entry.model_validate(body)
    except ValidationError as exc:
        raise ApiError(422, "Invalid entry", "The entry does not match the list schema.",
                       errors=validation_errors(exc), slug="validation") from None


def _list_problems(exc: ListValidationError) -> ApiError:
    """422 for an invalid list, 400 for one that cannot be read at all, 413 for one over the import limits."""
    shown = exc.problems[:MAX_REPORTED_PROBLEMS]
    more = f" ({len(shown)} named)" if len(shown) < len(exc.problems) else ""
    return ApiError(exc.status, exc.title, f"Refused: {len(exc.problems)} problem(s){more}; the list is unchanged.",
                    errors=[{"field": p.field, "location": p.location, "message": p.message} for p in shown],
                    slug=exc.title.lower().replace(" ", "-"))


def _change(operation: Any, **kwargs: Any) -> lists.ChangeResult:
    """Run one list change in a write transaction, mapping its failures to problems."""
    # The request's read session (the key check) gives its connection back first: a request waiting for the list's
    # lock, or for this worker's snapshot lock below, must not hold a pooled connection that the holder may need.
    if "db_session" in g:
        g.db_session.rollback()
    try:
        with lists.write_transaction(write_sessions(current_app)) as session:
            result = operation(session, actor=g.principal.label, **kwargs)
    except store.VersionConflict as exc:
        raise ApiError(409, "Conflict", f"The list is at version {exc.current}, not {exc.expected}: read it again.",
                       slug="conflict", extra={"list_version": exc.current}) from None
    except lists.EntryExists as exc:
        raise ApiError(409, "Conflict", f"Entry {exc} exists already: use PUT to change it.", slug="conflict") from None
    except lists.EntryNotFound as exc:
        raise ApiError(404, "Not Found", f"No entry {exc} in the current list.") from None
    except lists.VersionNotFound as exc:
        raise ApiError(404, "Not Found", f"No list version {exc}.") from None
    except ListValidationError as exc:
        raise _list_problems(exc) from None
    get_state(current_app).refresh()  # this worker answers from the new version at once; the others within seconds
    return result


def _change_body(result: lists.ChangeResult, **extra: Any) -> dict[str, Any]:
    return {"list_version": result.version, "created": result.created, "summary": result.summary, **extra}


def _entry_record(entry_id: str, version: int) -> dict[str, Any]:
    """The entry as of `version`, the version this change wrote. This worker's snapshot, just refreshed, holds it
    unless another change landed since; then it is read from the database, never a later entry under this ETag."""
    snapshot = get_state(current_app).snapshot()
    if snapshot.version == version:
        return entry_json(snapshot.entries[entry_id], snapshot)
    session = get_session()
    entry = store.version_entry(session, version, entry_id)
    if entry is None:  # cannot happen: versions are immutable and this one holds the entry
        raise ApiError(500, "Internal Server Error", f"Entry {entry_id} is missing from list version {version}.")
    sources = store.version_sources(session, version)
    return {**entry, "name": primary_name(entry),
            "citations": [citation_json(c, sources) for c in entry["citations"]], "list_version": version}


@bp.before_app_request
def _fresh_entry_reads() -> None:
    """GET /v1/entries/{id} answers the version the database holds now, not this worker's snapshot of up to
    LIST_POLL_SECONDS ago: its ETag is what a PUT sends back, so after a change on one worker every worker must hand
    out the new ETag, with the entry as of that version. The snapshot is brought up to date, not only the ETag
    (an old entry under a new ETag would let an edit overwrite the change it never saw)."""
    if request.endpoint != "entries.get_entry" or request.method != "GET":
        return
    state = get_state(current_app)
    with session_factory(current_app)() as session:  # closed before refresh() waits for the snapshot's lock
        current = store.current_version(session)
    if state.snapshot().version != current:
        state.refresh()


@bp.post("/entries")
@require("admin")
def create_entry() -> Any:
    entry = _entry_from_body()
    result = _change(lists.put_entry, entry=entry, create=True, expected_version=_expected_version())
    response = current_app.json.response(_entry_record(entry.id, result.version))
    response.status_code = 201
    response.headers["Location"] = url_for("entries.get_entry", entry_id=entry.id)
    response.headers["ETag"] = f'W/"{result.version}"'
    return response


@bp.put("/entries/<entry_id>")
@require("admin")
def replace_entry(entry_id: str) -> Any:
    expected = _expected_version(required=True)
    entry = _entry_from_body(entry_id)
    result = _change(lists.put_entry, entry=entry, create=False, expected_version=expected)
    response = current_app.json.response(_entry_record(entry_id, result.version))
    response.headers["ETag"] = f'W/"{result.version}"'
    return response


@bp.delete("/entries/<entry_id>")
@require("admin")
def delist(entry_id: str) -> Any:
    result = _change(lists.delist_entry, entry_id=entry_id, expected_version=_expected_version(required=True))
    response = current_app.json.response(_change_body(result, entry_id=entry_id, status="delisted"))
    response.headers["ETag"] = f'W/"{result.version}"'
    return response


def _read_part(stream: IO[bytes], cap: int) -> bytes:
    """At most cap + 1 bytes: enough for the import's own limit to refuse more, without holding all of it."""
    return stream.read(cap + 1)


def _import_files(fmt: str, limits: ImportLimits) -> dict[str, bytes]:
    request.max_content_length = current_app.config["MAX_IMPORT_BYTES"]
    plain_cap = limits.max_bytes  # a zip may be as large as the request; what it unpacks is counted as it is read
    # Only a multipart request is read as a form: any other body is the list itself, whatever its content type.
    if request.mimetype == "multipart/form-data":
        if fmt == "ofac-csv":
            files = {part: _read_part(request.files[part].stream, plain_cap)
                     for part in ("sdn", "alt", "add", "comments") if part in request.files}
            for part in ("zip", "file"):
                if part in request.files:
                    files["zip"] = request.files[part].read()
            return files
        if "file" not in request.files:
            raise ApiError(400, "Invalid request", "Send the list as the multipart field 'file'.",
                           errors=[{"field": "file", "message": "missing"}], slug="validation")
        return {"file": _read_part(request.files["file"].stream, plain_cap)}
    if fmt != "ofac-csv" and (request.content_length or 0) > plain_cap:
        raise ListTooLarge([Problem("(body)", "file", f"more than the {plain_cap:,} bytes an import may hold "
                                                      "(SCREENING_MAX_IMPORT_UNPACKED_BYTES)")])
    data = request.get_data()
    if not data:
        raise ApiError(400, "Invalid request", "The request has no list in it.",
                       errors=[{"field": "(body)", "message": "empty"}], slug="validation")
    return {"zip": data} if fmt == "ofac-csv" else {"file": data}


def _flag(name: str) -> bool:
    raw = request.args.get(name, "false").strip().lower()
    if raw not in ("true", "false", "1", "0"):
        raise _invalid(name, "must be true or false", f"{name} must be true or false.")
    return raw in ("true", "1")


@bp.post("/lists/import")
@require("admin")
def import_list() -> Any:
    fmt, mode = request.args.get("format", "native"), request.args.get("mode", "replace")
    errors = []
    if fmt not in FORMATS:
        errors.append({"field": "format", "message": f"must be one of {', '.join(FORMATS)}"})
    if mode not in lists.IMPORT_MODES:
        errors.append({"field": "mode", "message": f"must be one of {', '.join(lists.IMPORT_MODES)}"})
    if errors:
        raise ApiError(400, "Invalid request", "Unknown import format or mode.", errors=errors, slug="validation")
    allow_empty, expected = _flag("allow_empty"), _expected_version()
    limits = ImportLimits.from_config(current_app.config)
    try:
        document = parse_import(fmt, _import_files(fmt, limits), limits)
    except ListValidationError as exc:
        raise _list_problems(exc) from None
    result = _change(lists.import_document, document=document, mode=mode, expected_version=expected,
                     allow_empty=allow_empty)
    warnings = [p.as_dict() for p in document.warnings]
    return _change_body(result, format=fmt, mode=mode, entries=len(document.entries),
                        warnings=warnings[:1000], warning_count=len(warnings))


@bp.get("/lists/export")
@require("admin")
def export_list() -> Any:
    fmt = request.args.get("format", "native")
    if fmt not in ("native", "ftm"):
        raise ApiError(400, "Invalid request", "Export formats are native and ftm.",
                       errors=[{"field": "format", "message": "must be native or ftm"}], slug="validation")
    snapshot = get_state(current_app).snapshot()
    entries = [snapshot.entries[k] for k in sorted(snapshot.entries)]
    headers = {"X-List-Version": str(snapshot.version),
               "Content-Disposition": f'attachment; filename="list-v{snapshot.version}.{"yaml" if fmt == "native" else "jsonl"}"'}
    if fmt == "ftm":
        return Response(stream_with_context(export_ftm(entries, snapshot.sources)), mimetype="application/x-ndjson",
                        headers=headers)
    meta = store.version_meta(get_session(), snapshot.version) if snapshot.version else {}
    body = dump_native(entries, [snapshot.sources[k] for k in sorted(snapshot.sources)], meta)
    return Response(body, mimetype="application/yaml", headers=headers)


@bp.get("/lists/versions")
@require("admin")
def list_versions() -> Any:
    return lists.versions(get_session(), limit=int_arg("limit", 100, 1, 1000), offset=int_arg("offset", 0, 0, 10**9))


@bp.get("/lists/versions/<int:version>/diff")
@require("admin")
def diff_versions(version: int) -> Any:
    session = get_session()
    raw = request.args.get("against")
    if raw is None:
        against = version - 1
    elif raw.isascii() and raw.isdigit() and len(raw) <= 30:  # isdigit() alone passes '²', which int() refuses
        against = int(raw)  # a number beyond any version is a 404, like one that names none
    else:
        raise _invalid("against", "expected a version number (ASCII digits)", "against must be a version number.")
    try:
        return lists.diff(session, version, against)
    except lists.VersionNotFound as exc:
        raise ApiError(404, "Not Found", f"No list version {exc}.") from None


@bp.post("/lists/versions/<int:version>/restore")
@require("admin")
def restore_version(version: int) -> Any:
    result = _change(lists.restore, version=version)
    return _change_body(result, restored=version)
