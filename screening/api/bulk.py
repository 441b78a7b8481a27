"""Bulk CSV: POST /v1/screen/csv streams the file back as rows are screened (background jobs: api/jobs.py)."""

from __future__ import annotations

import contextlib
import itertools
import logging
import shutil
import tempfile
from typing import Any, Iterator

from flask import Blueprint, Response, current_app, g, request, stream_with_context

from .. import bulk, store
from ..auth import require
from ..config import default_threshold
from ..db import get_session
from ..errors import ApiError
from ..liststate import get_state
from ..observability import record_screenings

bp = Blueprint("bulk", __name__, url_prefix="/v1")


def threshold_value(raw: str | None) -> float | None:
    """A threshold given as text (a query argument, a form field): None when absent, else a number from 0 to 1
    (400 naming the field otherwise)."""
    if raw is None:
        return None
    try:
        threshold = float(raw)
    except ValueError:
        threshold = -1.0
    if not 0.0 <= threshold <= 1.0:
        raise ApiError(400, "Invalid request", "threshold must be a number from 0 to 1.",
                       errors=[{"field": "threshold", "message": "must be a number from 0 to 1"}],
                       slug="validation")
    return threshold


def _options() -> bulk.BulkOptions:
    threshold = threshold_value(request.args.get("threshold"))
    charset = request.args.get("charset")
    if charset:  # checked before the upload is read, for the stream and jobs alike
        try:
            bulk.check_charset(charset)
        except bulk.CsvRefused as exc:
            raise ApiError(400, "Invalid request", f"The file was not screened: {exc}.",
                           errors=[{"field": "charset", "message": str(exc)}], slug="validation") from None
    return bulk.BulkOptions(name_column=request.args.get("name_column", "name"),
                            type_column=request.args.get("type_column"), id_column=request.args.get("id_column"),
                            threshold=threshold, charset=request.args.get("charset"),
                            max_name_length=current_app.config["MAX_NAME_LENGTH"])


def _upload() -> Any:
    """The CSV of the request: a multipart field `file`, or the raw body."""
    request.max_content_length = current_app.config["MAX_CSV_BYTES"]
    if request.mimetype != "multipart/form-data":
        return request.stream
    if "file" not in request.files:
        raise ApiError(400, "Invalid request", "Send the CSV as the multipart field 'file'.",
                       errors=[{"field": "file", "message": "missing"}], slug="validation")
    # The form's file is closed when the view returns, before a streamed response has been read: copy it to a
    # temporary file of our own (on disk, so memory stays flat), which lives as long as the response reads it.
    source = tempfile.TemporaryFile()
    shutil.copyfileobj(request.files["file"].stream, source)
    source.seek(0)
    return source


def _refused(exc: bulk.CsvRefused) -> ApiError:
    error: dict[str, Any] = {"field": exc.field, "message": str(exc)}
    if exc.line is not None:
        error["line"] = exc.line
    return ApiError(400, "Invalid CSV", f"The file was not screened: {exc}", errors=[error], slug="invalid-csv")


log = logging.getLogger(__name__)


@bp.post("/screen/csv")
@require("screener")
def screen_csv() -> Any:
    options = _options()
    source = _upload()
    try:
        header, rows, encoding = bulk.open_csv(source, options)
        columns = bulk.resolve_columns(header, options)
        # The first chunk is parsed before answering, so that a file broken early (a quote never closed) is refused
        # with a 400 naming the line; once the 200 is out, a break can only be told in a last error row.
        first = list(itertools.islice(rows, bulk.CHUNK_ROWS))
    except bulk.CsvRefused as exc:
        log.info("bulk CSV refused: %s", exc)
        raise _refused(exc) from None
    rows = itertools.chain(first, rows)
    snapshot = get_state(current_app).snapshot()
    threshold = default_threshold(current_app.config) if options.threshold is None else options.threshold
    counters = bulk.Counters()
    actor = g.principal.label
    screen = bulk.matcher_screener(snapshot.matcher, threshold)

    def generate() -> Iterator[str]:
        try:
            for chunk in bulk.screen_rows(header, rows, columns, options, snapshot.entries, counters,
                                          lambda chunks: map(screen, chunks)):
                if counters.audit:  # recorded before the rows go out: no result leaves unaudited
                    store.record_audit_batch(get_session(), counters.audit, actor=actor,
                                             list_version=snapshot.version, action="bulk-row")
                    get_session().commit()
                    record_screenings("csv", len(counters.audit), sum(1 for a in counters.audit if a["matches"]),
                                      snapshot.version)
                    counters.audit.clear()
                yield bulk.to_csv_text(chunk)
        except Exception:  # the 200 is out: the client can only learn of the failure from a last row
            log.exception("bulk CSV stream failed after %d rows", counters.rows)
            with contextlib.suppress(Exception):
                get_session().rollback()
            message = "the server failed here; the rest of the file was not screened"
            yield bulk.to_csv_text([[""] * columns.width + [""] * (len(bulk.RESULT_COLUMNS) - 1) + [message]])

    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"X-List-Version": str(snapshot.version), "X-Input-Encoding": encoding})
