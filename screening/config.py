"""Every setting in one table: name, environment variable, default, meaning. The README renders this table."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    parse: Callable[[str], Any]
    doc: str

    @property
    def env(self) -> str:
        return f"SCREENING_{self.key}"


SETTINGS: list[Setting] = [
    Setting("DATABASE_URL", None, str,
            "SQLAlchemy URL. Default: SQLite file `screening.db` in the instance folder. "
            "PostgreSQL: `postgresql+psycopg://user:pass@host/db`."),
    Setting("LIST_PATH", None, str, "List file loaded by `screening load-list` without a path. Default: the built-in list, shipped in the package."),
    Setting("THRESHOLD", None, float, "Default match threshold; unset means the matcher's calibrated DEFAULT_THRESHOLD."),
    Setting("AUTH_DISABLED", False, _bool, "Switch API keys off for a local trial. Never the default."),
    Setting("MAX_NAME_LENGTH", 500, int, "Longest name accepted, in characters after trimming."),
    Setting("MAX_BATCH", 1000, int, "Most queries in one `POST /v1/screen/batch`."),
    Setting("MAX_BODY_BYTES", 10 * 1024 * 1024, int, "Largest JSON request body (bytes); larger is 413."),
    Setting("MAX_URL_BYTES", 8000, int,
            "Longest request target (path and query string, bytes); longer is 414. Under gunicorn at most 8170: "
            "gunicorn refuses a request line over 8190 bytes itself (also as problem+json)."),
    Setting("MAX_HEADER_BYTES", 8190, int, "Longest request header field (name, value and separators, bytes); longer "
            "is 431."),
    Setting("MAX_CSV_BYTES", 512 * 1024 * 1024, int, "Largest CSV file for `POST /v1/screen/csv`; larger is 413."),
    Setting("JOBS_DIR", None, str, "Where job files (input and result CSV) are kept. Default: `jobs/` in the instance folder."),
    Setting("JOB_LEASE_SECONDS", 60, int, "A running job whose worker has not reported for this long is taken up again."),
    Setting("JOB_POLL_SECONDS", 1.0, float, "How often a worker's job runner looks for queued jobs."),
    Setting("JOB_RETENTION_DAYS", 7, int,
            "Days a finished job (done, failed, cancelled) is kept; then its result file and its row are removed "
            "(0: at the runner's next sweep, within minutes)."),
    Setting("MAX_IMPORT_BYTES", 1024 * 1024 * 1024, int, "Largest list import (bytes); larger is 413."),
    Setting("MAX_IMPORT_UNPACKED_BYTES", 256 * 1024 * 1024, int,
            "Most list data one import may hold once unzipped, all files together (bytes); more is 413, refused "
            "while unpacking, not after."),
    Setting("MAX_IMPORT_MEMBERS", 100, int, "Most members in an imported zip; more is 413."),
    Setting("MAX_IMPORT_RATIO", 100, int,
            "Largest unpacked-to-packed size ratio of a zip member over 1 MiB (text packs about 5-20:1); more is 413 "
            "(a zip bomb)."),
    Setting("AUDIT_RETENTION_DAYS", 400, int, "Screening records older than this are pruned (list changes are kept)."),
    Setting("INDEX_CACHE_DIR", None, str,
            "Where each list version's entries and built index are kept (by content hash), so a start-up loads them "
            "instead of building; `off` to build every time. Default: `index-cache/` in the instance folder."),
    Setting("LIST_POLL_SECONDS", 2.0, float, "How often a worker checks whether the current list version moved."),
    Setting("PORT", 8000, int, "Port of `make run` and `screening serve`."),
    Setting("WORKERS", 2, int, "gunicorn worker processes of `screening serve`."),
    Setting("THREADS", 4, int, "Threads per gunicorn worker."),
    Setting("TIMEOUT", 120, int, "gunicorn worker timeout (seconds): a request running longer is killed."),
    Setting("BIND", None, str, "gunicorn bind address; default `127.0.0.1:$SCREENING_PORT` (`screening serve` sets it)."),
    Setting("LOG_LEVEL", "INFO", str, "Logging level."),
    Setting("PUBLIC_METRICS", True, _bool,
            "`/metrics` answers without an API key; `false` requires a valid key of any role. "
            "(`/healthz` and `/readyz` never need one.)"),
    Setting("MONITORING_RUNNER", True, _bool,
            "Each gunicorn worker runs a monitoring runner thread (re-screens subjects after list changes)."),
    Setting("MONITORING_PROCESSES", 0, int,
            "Processes a monitoring run of 5,000 subjects or more screens on, beside the runner's database work "
            "(0: one per core; 1: the runner screens alone)."),
    Setting("FOUR_EYES", False, _bool,
            "A `true_match` decision on an alert needs a second `true_match` (or `confirm`) from a different API key; "
            "until then the alert is `pending_confirmation`."),
    Setting("WEBHOOK_URL", None, str,
            "Where new alerts are POSTed (JSON, signed; see the README, *Ongoing monitoring*). Unset: no webhook deliveries."),
    Setting("WEBHOOK_SECRET", None, str,
            "Key of the HMAC-SHA256 signature of webhook deliveries (`X-Screening-Signature`)."),
    Setting("WEBHOOK_MAX_ATTEMPTS", 8, int,
            "Attempts at one webhook delivery (waits of 10 s doubling, at most 1 h) before it is marked failed."),
    Setting("WEBHOOK_POLL_SECONDS", 2.0, float, "How often a worker's delivery thread looks for due deliveries."),
    Setting("PUBLIC_DOCS", True, _bool,
            "`/docs` and `/openapi.json` answer without an API key; `false` requires a valid key of any role."),
    Setting("UI_SESSION_IDLE_MINUTES", 30, int,
            "The analyst interface (`/ui`) signs a session out after this many minutes without a request."),
    Setting("UI_SESSION_MAX_HOURS", 12, int,
            "The analyst interface signs a session out this many hours after sign-in, however active."),
]


def default_threshold(config: Any) -> float:
    """SCREENING_THRESHOLD when set (0.0 included), else the matcher's calibrated DEFAULT_THRESHOLD."""
    from .matching import DEFAULT_THRESHOLD

    configured = config.get("THRESHOLD")
    return DEFAULT_THRESHOLD if configured is None else configured


def settings_from_env(environ: dict[str, str] | None = None) -> dict[str, Any]:
    environ = dict(os.environ if environ is None else environ)
    out: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = environ.get(setting.env)
        out[setting.key] = setting.default if raw in (None, "") else setting.parse(raw)
    return out


def settings_markdown() -> str:
    rows = ["| variable | default | meaning |", "| --- | --- | --- |"]
    for s in SETTINGS:
        default = "" if s.default is None else f"`{s.default}`"
        rows.append(f"| `{s.env}` | {default} | {s.doc} |")
    return "\n".join(rows)


def update_readme(path: str = "README.md") -> None:
    """Rewrite the settings table between the README's markers (`make settings-table`)."""
    import re
    from pathlib import Path

    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    block = f"<!-- settings:start (make settings-table) -->\n{settings_markdown()}\n<!-- settings:end -->"
    readme.write_text(re.sub(r"<!-- settings:start.*?<!-- settings:end -->", lambda _: block, text, flags=re.S),
                      encoding="utf-8")
