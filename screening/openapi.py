"""The OpenAPI document, built from the pydantic models that validate requests (and describe responses)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from .listfile import Entry, EntryStatus, EntryType, Source
from .schemas import NAME_TEXT, STORABLE_TEXT, BatchQuery, BatchRequest, ScreenQuery


ENTRY_TYPES: tuple[str, ...] = get_args(EntryType)
ENTRY_STATUSES: tuple[str, ...] = get_args(EntryStatus)


class MatchCitation(BaseModel):
    source_id: str
    title: str | None = None
    publisher: str | None = None
    published: str | None = None
    url: str | None = None
    kind: str | None = None
    quote: str
    via: str | None = None
    note: str | None = None


class MatchDecision(BaseModel):
    """The standing decision on this (reference, entry) pair, when the screening gave a `reference` and the entry
    is unchanged since the decision."""

    status: Literal["false_positive", "true_match", "pending_confirmation"]
    alert_id: int
    decided_at: str | None = None
    note: str | None = None


class Match(BaseModel):
    entry_id: str
    name: str
    type: str
    score: float = Field(ge=0, le=1)
    matched_name: str
    status: str
    programs: list[str]
    explanation: dict[str, Any]
    citations: list[MatchCitation] = Field(min_length=1)
    decision: MatchDecision | None = None  # only with a `reference`, on a pair decided on an alert


class DecisionRequest(BaseModel):
    """A decision on an alert. `true_match` with SCREENING_FOUR_EYES=true leaves the alert pending_confirmation
    until a `true_match` or `confirm` from a different API key; `reverse` undoes the standing decision."""

    model_config = ConfigDict(extra="forbid")
    decision: Literal["true_match", "false_positive", "confirm", "reverse"]
    note: str = Field(min_length=1, max_length=2000, pattern=NAME_TEXT, description="Why; required, not blank.")


class AlertDecisionRecord(BaseModel):
    id: int
    decision: Literal["true_match", "false_positive", "confirm", "reverse"]
    note: str
    actor: str
    key_id: str | None
    decided_at: str | None


class DecisionResponse(BaseModel):
    alert_id: int
    status: Literal["open", "pending_confirmation", "true_match", "false_positive"]
    subject_reference: str
    entry_id: str
    decisions: list[AlertDecisionRecord]


class DeliveryAttempt(BaseModel):
    model_config = ConfigDict(extra="allow")
    at: str | None
    status_code: int | None
    error: str | None


class Delivery(BaseModel):
    id: int
    event: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    attempts_log: list[DeliveryAttempt]
    next_attempt_at: str | None
    created_at: str | None
    delivered_at: str | None


class DeliveriesResponse(BaseModel):
    alert_id: int
    deliveries: list[Delivery]


class RecordCitation(MatchCitation):
    source: str  # as the list format writes it: the record can be sent back as it is


class EntryRecord(Entry):
    """An entry as GET returns it: the list format plus read-only fields, citations with their sources."""

    model_config = ConfigDict(extra="allow")
    name: str
    list_version: int | None
    citations: list[RecordCitation] = Field(min_length=1)  # type: ignore[assignment]


class QueryEcho(BaseModel):
    name: str
    normalized: list[str]
    type: str
    reference: str | None = None


class ScreenResponse(BaseModel):
    screening_id: str
    list_version: int | None
    screened_at: str
    threshold: float
    query: QueryEcho
    matches: list[Match]


class BatchResult(BaseModel):
    id: str
    screening_id: str
    threshold: float
    query: QueryEcho
    matches: list[Match]


class BatchResponse(BaseModel):
    list_version: int | None
    results: list[BatchResult]


class FieldError(BaseModel):
    field: str
    message: str
    location: str | None = None


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class SubjectIn(BaseModel):
    """A monitored subject as POST /v1/monitoring/subjects takes it (upserted by reference)."""

    model_config = ConfigDict(extra="forbid")
    reference: str = Field(max_length=200, json_schema_extra={"pattern": r"^[^\u0000/]*[^\s/][^\u0000/]*$"})
    name: str = Field(max_length=500, json_schema_extra={"pattern": NAME_TEXT})
    type: Literal["person", "organization", "any"] = "any"
    birth_date: str | None = Field(default=None, pattern=r"^[0-9]{4}(-[0-9]{2}(-[0-9]{2})?)?$")
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$")
    meta: dict[str, Any] = Field(default_factory=dict)


class Subject(SubjectIn):
    """A monitored subject as stored: data_hash changes with name, type, birth date or country (it keys
    suppressions)."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["person", "organization", "any"]
    meta: dict[str, Any]
    data_hash: str
    created_at: str | None
    updated_at: str | None


class SubjectDetail(Subject):
    live_alerts: int = Field(ge=0, description="Alerts of this subject still live (not cleared)")


class SubjectPage(BaseModel):
    subjects: list[Subject]
    limit: int
    offset: int
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")


class SubjectError(BaseModel):
    """One refused subject: `index` (JSON) or `line` (CSV, the header is line 1), the field and why."""

    model_config = ConfigDict(extra="allow")
    field: str
    message: str
    index: int | None = None
    line: int | None = None


class SubjectsReport(BaseModel):
    created: int
    updated: int
    unchanged: int
    stored: int
    errors: list[SubjectError]


class Run(BaseModel):
    """A re-screen run: `incremental` (after a list change, the subjects it can affect) or `full`."""

    id: int
    kind: Literal["incremental", "full"]
    trigger: str
    trigger_key: str | None
    list_version: int
    from_version: int | None
    status: Literal["queued", "running", "done", "failed"]
    actor: str | None
    subjects_total: int | None
    subjects_done: int
    subjects_rescored: int
    alerts_opened: int
    hits_cleared: int
    attempts: int
    error: str | None
    matcher_fingerprint: str | None
    timings: dict[str, float] | None = Field(description="Seconds: load, select, rescore, total")
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class RunPage(BaseModel):
    runs: list[Run]
    limit: int
    offset: int


class Alert(BaseModel):
    """A hit of a subject on an entry at or above the threshold; `live` until the hit disappears (then
    cleared_version and cleared_reason say when and why)."""

    id: int
    status: Literal["open", "pending_confirmation", "true_match", "false_positive"]
    live: bool
    subject_reference: str
    subject_name: str
    subject_hash: str
    entry_id: str
    entry_hash: str
    score: float = Field(ge=0, le=1)
    matched_name: str
    explanation: dict[str, Any]
    citations: list[RecordCitation]
    version_before: int | None
    version_opened: int
    run_id: int | None
    cleared_version: int | None
    cleared_reason: str | None
    created_at: str | None
    updated_at: str | None


class AlertDetail(Alert):
    decisions: list[AlertDecisionRecord] = Field(description="Oldest first")


class AlertPage(BaseModel):
    alerts: list[Alert]
    limit: int
    offset: int


class FullRunRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["full"]


MODELS: list[type[BaseModel]] = [ScreenQuery, BatchQuery, BatchRequest, ScreenResponse, BatchResponse, Match,
                                 MatchCitation, QueryEcho, BatchResult, Problem, FieldError, Entry, EntryRecord,
                                 RecordCitation, Source, MatchDecision, DecisionRequest, AlertDecisionRecord,
                                 DecisionResponse, DeliveryAttempt, Delivery, DeliveriesResponse, SubjectIn,
                                 FullRunRequest, Subject, SubjectDetail, SubjectPage, SubjectError, SubjectsReport,
                                 Run, RunPage, Alert, AlertDetail, AlertPage]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


PROBLEM = {"description": "An error (RFC 9457 problem details)",
           "content": {"application/problem+json": {"schema": _ref("Problem")}}}
AUTH_ERRORS = {"401": PROBLEM, "403": PROBLEM}
OBJECT = {"type": "object"}
TEXT = {"type": "string", "pattern": STORABLE_TEXT}


def _op(summary: str, responses: dict[str, Any], *, body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, secured: bool = True, tag: str = "screening") -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {**responses, "default": PROBLEM}}
    if secured:
        op["security"] = [{"bearer": []}]
        op["responses"].update(AUTH_ERRORS)
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    if params:
        op["parameters"] = params
    return op


def _query(name: str, schema: dict[str, Any], required: bool = False, description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def _path(name: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


# Required on PUT and DELETE of an entry (428 without it): the ETag of the entry as read, or `*` to overwrite
# whatever is current. Documented as a string so that generated requests also try malformed values (400).
IF_MATCH = {"name": "If-Match", "in": "header", "required": True,
            "schema": {"type": "string", "pattern": r'^(\*|(W/)?"[0-9]{1,10}"|(W/)?[0-9]{1,10})$'},
            "description": 'The ETag of GET /v1/entries/{entry_id} (W/"<list version>"); 409 if the list moved '
                           "since, 428 if absent. `*` overwrites whatever is current."}


ALERT_ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def monitoring_paths() -> dict[str, Any]:
    """Ongoing monitoring: subjects, runs, alerts (README, *Ongoing monitoring*)."""
    page = [_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
            _query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})]

    def ok(model: str, description: str = "OK") -> dict[str, Any]:
        return {"200": {"description": description, "content": _json(_ref(model))}, "400": PROBLEM}
    short = {"type": "string", "maxLength": 200, "pattern": STORABLE_TEXT}
    when = {"type": "string", "format": "date-time"}
    reference = _path("reference", {"type": "string", "minLength": 1, "maxLength": 200, "pattern": r"^[^/\u0000]+$"})
    an_id = {"type": "integer", "minimum": 1}
    subjects_body = {"application/json": {"schema": {"oneOf": [
                         _ref("SubjectIn"), {"type": "array", "items": _ref("SubjectIn"), "minItems": 1}]}},
                     "text/csv": {"schema": {"type": "string"}}}
    return {
        "/v1/monitoring/subjects": {
            "post": _op("Add or update monitored subjects (admin): one JSON object, a JSON array, or a CSV "
                        "(reference,name,type,birth_date,country; other columns kept as metadata)",
                        {"200": {"description": "All stored", "content": _json(_ref("SubjectsReport"))},
                         "207": {"description": "The valid ones stored; the others' errors by index or line",
                                 "content": _json(_ref("SubjectsReport"))}, "400": PROBLEM, "413": PROBLEM},
                        body=subjects_body, tag="monitoring"),
            "get": _op("Monitored subjects, by reference", ok("SubjectPage"), tag="monitoring", params=page + [
                _query("cursor", short, description="next_cursor of the previous page (offset is then ignored)"),
                _query("q", {"type": "string", "maxLength": 500, "pattern": STORABLE_TEXT},
                       description="part of the name or the reference"),
                _query("type", {"type": "string", "enum": ["person", "organization", "any"]}),
                _query("updated_since", when)])},
        "/v1/monitoring/subjects/{reference}": {
            "get": _op("One subject", {"200": {"description": "The subject", "content": _json(_ref("SubjectDetail"))},
                                       "404": PROBLEM}, params=[reference], tag="monitoring"),
            "delete": _op("Stop monitoring a subject (admin); its live alerts are cleared",
                          {"204": {"description": "Removed"}, "404": PROBLEM}, params=[reference], tag="monitoring")},
        "/v1/monitoring/runs": {
            "post": _op("Queue a full re-screen of every subject (admin)",
                        {"202": {"description": "Queued", "content": _json(_ref("Run"))}, "400": PROBLEM,
                         "409": PROBLEM},
                        body=_json(_ref("FullRunRequest")), tag="monitoring"),
            "get": _op("Re-screen runs, newest first", ok("RunPage"), params=page, tag="monitoring")},
        "/v1/monitoring/runs/{run_id}": {
            "get": _op("One run: counts and timings", {"200": {"description": "The run", "content": _json(_ref("Run"))},
                                                      "404": PROBLEM}, params=[_path("run_id", an_id)],
                       tag="monitoring")},
        "/v1/alerts": {
            "get": _op("Alerts, newest first", ok("AlertPage"), tag="monitoring", params=page + [
                _query("status", {"type": "string", "enum": ["open", "pending_confirmation", "true_match",
                                                             "false_positive", "live", "cleared"]}),
                _query("reference", short), _query("entry_id", short), _query("since", when)])},
        "/v1/alerts/{alert_id}": {
            "get": _op("One alert with its decisions", {"200": {"description": "The alert",
                                                                "content": _json(_ref("AlertDetail"))},
                                                        "404": PROBLEM}, params=[_path("alert_id", ALERT_ID)],
                       tag="monitoring")},
    }


@lru_cache(maxsize=1)
def build_spec() -> dict[str, Any]:
    """The document, built once per process (a pure function of the code): read by /openapi.json, /docs and the
    request guard's list of each operation's query arguments. Not to be modified."""
    components: dict[str, Any] = {}
    for model in MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    screen_props = ScreenQuery.model_json_schema()["properties"]
    get_params = [_query("name", {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NAME_TEXT}, True,
                         "The name to screen")]
    get_params += [_query(k, screen_props[k]) for k in ("type", "threshold", "limit", "birth_date", "country",
                                                         "reference")]
    entry_ok = {"200": {"description": "The entry", "content": _json(_ref("EntryRecord"))}}
    change = {"200": {"description": "The new list version", "content": _json(OBJECT)}}
    csv_body = {"text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {"schema": {"type": "object", "properties": {
                    "file": {"type": "string", "format": "binary"}}}}}
    csv_params = [_query("name_column", {"type": "string"}), _query("type_column", {"type": "string"}),
                  _query("id_column", {"type": "string"}), _query("threshold", {"type": "number", "minimum": 0,
                                                                                  "maximum": 1}),
                  _query("charset", {"type": "string"})]
    paths = {
        "/v1/screen": {
            "post": _op("Screen one name", {"200": {"description": "Matches", "content": _json(_ref("ScreenResponse"))},
                                            "400": PROBLEM}, body=_json(_ref("ScreenQuery"))),
            "get": _op("Screen one name (query string)",
                       {"200": {"description": "Matches", "content": _json(_ref("ScreenResponse"))}, "400": PROBLEM},
                       params=get_params)},
        "/v1/screen/batch": {"post": _op("Screen up to 1,000 names",
                                         {"200": {"description": "One result per query",
                                                  "content": _json(_ref("BatchResponse"))}, "400": PROBLEM},
                                         body=_json(_ref("BatchRequest")))},
        "/v1/screen/csv": {"post": _op("Screen a CSV file (streamed CSV back)",
                                       {"200": {"description": "The file with match columns",
                                                "content": {"text/csv": {"schema": {"type": "string"}}}},
                                        "400": PROBLEM, "413": PROBLEM}, body=csv_body, params=csv_params, tag="bulk")},
        "/v1/jobs": {"post": _op("Screen a large CSV file as a job",
                                 {"202": {"description": "Job accepted", "content": _json(OBJECT)}, "400": PROBLEM,
                                  "413": PROBLEM}, body=csv_body, params=csv_params, tag="bulk")},
        "/v1/jobs/{job_id}": {
            "get": _op("A job's progress (404 for another key's job, or one removed after its retention)",
                       {"200": {"description": "Status", "content": _json(OBJECT)}, "404": PROBLEM},
                       params=[_path("job_id")], tag="bulk"),
            "delete": _op("Cancel a queued or running job (status `cancelled`), or delete a finished one; its files "
                          "are removed", {"202": {"description": "Cancelled; the worker running it stops at its next "
                                                                 "progress report", "content": _json(OBJECT)},
                                          "204": {"description": "Cancelled or deleted"}, "404": PROBLEM},
                          params=[_path("job_id")], tag="bulk")},
        "/v1/jobs/{job_id}/result": {"get": _op("A job's CSV", {"200": {"description": "CSV", "content": {
            "text/csv": {"schema": {"type": "string"}}}}, "404": PROBLEM, "409": PROBLEM, "410": PROBLEM},
            params=[_path("job_id")], tag="bulk")},
        "/v1/entries": {
            "get": _op("List entries", {"200": {"description": "Entries", "content": _json(OBJECT)}, "400": PROBLEM},
                       params=[_query("type", {"type": "string", "enum": list(ENTRY_TYPES)}),
                               _query("status", {"type": "string", "enum": list(ENTRY_STATUSES)}),
                               _query("program", TEXT), _query("q", TEXT),
                               _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                               _query("offset", {"type": "integer", "minimum": 0, "maximum": 10**9})], tag="list"),
            "post": _op("Add an entry (admin)", {"201": {"description": "Created", "content": _json(_ref("EntryRecord"))},
                                                 "400": PROBLEM, "409": PROBLEM, "422": PROBLEM},
                        body=_json(_ref("Entry")), tag="admin")},
        "/v1/entries/{entry_id}": {
            "get": _op("One entry in full", {**entry_ok, "404": PROBLEM}, params=[_path("entry_id")], tag="list"),
            "put": _op("Replace an entry (admin)", {**entry_ok, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM,
                                                    "422": PROBLEM, "428": PROBLEM},
                       body=_json(_ref("Entry")), params=[_path("entry_id"), IF_MATCH], tag="admin"),
            "delete": _op("Delist an entry (admin)", {**change, "400": PROBLEM, "404": PROBLEM, "409": PROBLEM,
                                                      "428": PROBLEM},
                          params=[_path("entry_id"), IF_MATCH], tag="admin")},
        "/v1/sources": {"get": _op("The sources register", {"200": {"description": "Sources",
                                                                    "content": _json(OBJECT)}}, tag="list")},
        "/v1/sources/{source_id}": {"get": _op("One source", {"200": {"description": "Source",
                                                                      "content": _json(_ref("Source"))},
                                                              "404": PROBLEM}, params=[_path("source_id")], tag="list")},
        "/v1/lists/import": {"post": _op("Import a list (admin)", {**change, "400": PROBLEM, "409": PROBLEM,
                                                                   "413": PROBLEM, "422": PROBLEM},
                                         params=[_query("format", {"type": "string",
                                                                   "enum": ["native", "ofac-csv", "ftm"]}),
                                                 _query("mode", {"type": "string", "enum": ["replace", "merge"]}),
                                                 _query("allow_empty", {"type": "boolean"},
                                                        description="A replace by a list without entries is "
                                                                    "refused (422) unless this is true")],
                                         body={"application/octet-stream": {"schema": {"type": "string",
                                                                                        "format": "binary"}}},
                                         tag="admin")},
        "/v1/lists/export": {"get": _op("Export the list (admin)", {"200": {"description": "The list", "content": {
            "application/yaml": {"schema": {"type": "object"}},
            "application/x-ndjson": {"schema": {"type": "string"}}}}, "400": PROBLEM},
            params=[_query("format", {"type": "string", "enum": ["native", "ftm"]})], tag="admin")},
        "/v1/lists/versions": {"get": _op("List versions (admin)", {"200": {"description": "Versions",
                                                                            "content": _json(OBJECT)}, "400": PROBLEM},
                                          params=[_query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                                                  _query("offset", {"type": "integer", "minimum": 0,
                                                                    "maximum": 10**9})], tag="admin")},
        "/v1/lists/versions/{version}/diff": {"get": _op(
            "What changed between two versions (admin)", {"200": {"description": "Diff", "content": _json(OBJECT)},
                                                          "400": PROBLEM, "404": PROBLEM},
            params=[_path("version", {"type": "integer", "minimum": 0}),
                    _query("against", {"type": "integer", "minimum": 0})], tag="admin")},  # any number: 404 if none
        "/v1/lists/versions/{version}/restore": {"post": _op(
            "Restore a version as a new one (admin)", {**change, "404": PROBLEM},
            params=[_path("version", {"type": "integer", "minimum": 0})], tag="admin")},
        "/v1/audit": {"get": _op("The audit trail (admin)", {"200": {"description": "Events", "content": _json(OBJECT)},
                                                             "400": PROBLEM},
                                 params=[_query("kind", {"type": "string", "enum": ["list", "screening", "monitoring"]}),
                                         _query("actor", TEXT), _query("reference", TEXT),
                                         _query("since", {"type": "string", "format": "date-time"}),
                                         _query("until", {"type": "string", "format": "date-time"}),
                                         _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                                         _query("cursor", {"type": "string", "pattern": "^[0-9]{1,18}$",
                                                           "description": "next_cursor of the previous page"})],
                                 tag="admin")},
        "/v1/alerts/{alert_id}/decision": {"post": _op(
            "Decide an alert (analyst or admin): true_match, false_positive (suppresses the hit until the entry or the "
            "subject changes), confirm (four-eyes, another key), reverse",
            {"200": {"description": "The alert's status and decisions", "content": _json(_ref("DecisionResponse"))},
             "400": PROBLEM, "404": PROBLEM, "409": PROBLEM},
            body=_json(_ref("DecisionRequest")), params=[_path("alert_id", ALERT_ID)], tag="monitoring")},
        "/v1/alerts/{alert_id}/deliveries": {"get": _op(
            "The alert's webhook deliveries and every attempt (admin)",
            {"200": {"description": "Deliveries", "content": _json(_ref("DeliveriesResponse"))}, "404": PROBLEM},
            params=[_path("alert_id", ALERT_ID)], tag="monitoring")},
        **monitoring_paths(),
        "/healthz": {"get": _op("Process up", {"200": {"description": "ok", "content": _json(OBJECT)}},
                                secured=False, tag="operations")},
        "/readyz": {"get": _op("Database reachable and list loaded",
                               {"200": {"description": "ready", "content": _json(OBJECT)}, "503": PROBLEM},
                               secured=False, tag="operations")},
    }
    return {"openapi": "3.1.0",
            "info": {"title": "Sanctions screening service", "version": "1",
                     "description": "Screen names against a cited designation list. See README.md."},
            "paths": paths,
            "components": {"schemas": components,
                           "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}}}
