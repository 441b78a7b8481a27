"""The list format of `lists/`: a designations file and a register of sources, validated by one schema.

The same entry shape is what `GET /v1/entries/{id}` returns and what the admin API accepts, so what is read
can be sent back. A bad file is refused with every problem named by entry and field (`ListValidationError`).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ENTRY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"  # FollowTheMoney ids keep their case
PARTIAL_DATE_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"

EntryType = Literal["person", "organization", "vessel", "aircraft"]
# designated: blocked or sanctioned; restricted: on a trade, procurement or investment restriction list but not
# blocked; flagged: named for sanctions without a measure; delisted: no longer matches, kept for history.
EntryStatus = Literal["designated", "restricted", "flagged", "delisted"]
NameKind = Literal["primary", "alias", "weak", "abbreviation", "script"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Source(_Strict):
    id: str = Field(pattern=ENTRY_ID_PATTERN)
    title: str = Field(min_length=1, max_length=500)
    publisher: str = Field(min_length=1, max_length=300)
    kind: Literal["news", "official", "import"]
    published: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    url: str | None = Field(default=None, max_length=2000)
    authors: list[str] = Field(default_factory=list)
    seed: str | None = None
    note: str | None = None


class Name(_Strict):
    name: str = Field(min_length=1, max_length=500)
    kind: NameKind = "alias"
    script: str | None = Field(default=None, pattern=r"^[A-Z][a-z]{3}$")
    source: str | None = None
    derived: str | None = None
    note: str | None = None


class Address(_Strict):
    full: str = Field(min_length=1, max_length=1000)
    country: str | None = Field(default=None, pattern=COUNTRY_PATTERN)
    source: str | None = None


class Identifier(_Strict):
    kind: str = Field(min_length=1, max_length=100)
    value: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, pattern=COUNTRY_PATTERN)
    note: str | None = None
    source: str | None = None


class Measure(_Strict):
    program: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=100)
    authority: str | None = None
    date: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    effective: str | None = Field(default=None, pattern=PARTIAL_DATE_PATTERN)
    source: str | None = None


class Citation(_Strict):
    source: str
    quote: str = Field(min_length=1, max_length=2000)
    via: str | None = None  # the source that reproduces the quote verbatim, where the original is not stored
    note: str | None = None


class Entry(_Strict):
    id: str = Field(pattern=ENTRY_ID_PATTERN)
    type: EntryType
    status: EntryStatus = "designated"
    names: list[Name] = Field(min_length=1)
    gender: Literal["male", "female"] | None = None
    birth_dates: list[str] = Field(default_factory=list)
    birth_places: list[str] = Field(default_factory=list)
    nationalities: list[str] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(default_factory=list)
    programs: list[str] = Field(default_factory=list)
    measures: list[Measure] = Field(default_factory=list)
    citations: list[Citation] = Field(min_length=1)
    remarks: str | None = None

    @field_validator("birth_dates")
    @classmethod
    def _dates(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.match(PARTIAL_DATE_PATTERN, v)]
        if bad:
            raise ValueError(f"not a date of the form YYYY, YYYY-MM or YYYY-MM-DD: {', '.join(bad)}")
        return values

    @field_validator("nationalities")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if not re.match(COUNTRY_PATTERN, v)]
        if bad:
            raise ValueError(f"not an ISO 3166-1 alpha-2 code: {', '.join(bad)}")
        return values

    @field_validator("names")
    @classmethod
    def _one_primary(cls, names: list[Name]) -> list[Name]:
        # A field validator (not a model validator) so that it reports alongside the other fields' problems.
        primaries = [n for n in names if n.kind == "primary"]
        if len(primaries) != 1:
            raise ValueError(f"exactly one name of kind 'primary' is required, found {len(primaries)}")
        return names

    @property
    def primary_name(self) -> str:
        return next(n.name for n in self.names if n.kind == "primary")

    def source_ids(self) -> set[str]:
        """Every source key this entry refers to, wherever it appears."""
        refs = {c.source for c in self.citations} | {c.via for c in self.citations if c.via}
        for group in (self.names, self.addresses, self.identifiers, self.measures):
            refs |= {item.source for item in group if item.source}
        return refs

    def canonical(self) -> dict[str, Any]:
        """The JSON form stored and returned by the API, without empty optional fields."""
        return self.model_dump(mode="json", exclude_none=True)


def content_hash(document: Any) -> str:
    """A stable hash of a JSON-able document (sorted keys), used to tell identical content apart."""
    blob = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a list: where (entry or line) and which field."""

    location: str
    field: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"location": self.location, "field": self.field, "message": self.message}


class ListValidationError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  {p.location}: {p.field}: {p.message}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the list:\n{lines}")


@dataclass
class ListDocument:
    entries: list[Entry]
    sources: list[Source]
    meta: dict[str, Any]
    warnings: list[Problem] = field(default_factory=list)  # what was skipped without refusing the file


def pydantic_problems(error: ValidationError, location: str) -> list[Problem]:
    out = []
    for item in error.errors():
        field = ".".join(str(part) for part in item["loc"]) or "(entry)"
        out.append(Problem(location, field, item["msg"]))
    return out


def validate_document(raw_entries: Any, raw_sources: Any, meta: dict[str, Any] | None = None,
                      *, locations: list[str] | None = None) -> ListDocument:
    """Validate raw entries and sources; collect every problem before refusing."""
    problems: list[Problem] = []
    if not isinstance(raw_entries, list):
        raise ListValidationError([Problem("(file)", "entries", "must be a list of entries")])
    if not isinstance(raw_sources, list):
        raise ListValidationError([Problem("(file)", "sources", "must be a list of sources")])

    sources: list[Source] = []
    for i, raw in enumerate(raw_sources):
        where = f"source {raw.get('id', i) if isinstance(raw, dict) else i}"
        try:
            sources.append(Source.model_validate(raw))
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, where))
    source_ids = [s.id for s in sources]
    for dup in sorted({s for s in source_ids if source_ids.count(s) > 1}):
        problems.append(Problem(f"source {dup}", "id", "duplicate source id"))

    entries: list[Entry] = []
    seen: set[str] = set()
    known_sources = set(source_ids)
    for i, raw in enumerate(raw_entries):
        label = raw.get("id", f"#{i + 1}") if isinstance(raw, dict) else f"#{i + 1}"
        where = locations[i] if locations else f"entry {label}"
        try:
            entry = Entry.model_validate(raw)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, where))
            continue
        if entry.id in seen:
            problems.append(Problem(where, "id", f"duplicate entry id {entry.id!r}"))
        seen.add(entry.id)
        for missing in sorted(entry.source_ids() - known_sources):
            problems.append(Problem(where, "source", f"unknown source {missing!r} (not in the sources register)"))
        entries.append(entry)
    if problems:
        raise ListValidationError(problems)
    return ListDocument(entries=entries, sources=sources, meta=meta or {})


def default_list_path() -> Path:
    """The built-in list: inside the installed package (the wheel maps the repository's `lists/` to
    `screening/lists/`), else `lists/` beside the package (a source checkout, an editable install)."""
    package = Path(__file__).resolve().parent
    installed = package / "lists" / "designations.yaml"
    return installed if installed.is_file() else package.parent / "lists" / "designations.yaml"


def read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ListValidationError([Problem(str(path), "(file)", "file not found")]) from None
    except yaml.YAMLError as exc:
        raise ListValidationError([Problem(str(path), "(file)", f"not valid YAML: {exc}")]) from None


def load_list_file(path: Path | str | None = None) -> ListDocument:
    """Read a designations file and the `sources.yaml` beside it."""
    path = Path(path) if path else default_list_path()
    raw = read_yaml(path)
    sources_path = path.with_name("sources.yaml")
    raw_sources = read_yaml(sources_path) if sources_path.exists() else {"sources": []}
    if not isinstance(raw, dict) or not isinstance(raw_sources, dict):
        raise ListValidationError([Problem(str(path), "(file)", "must be a mapping with 'entries' (and 'sources')")])
    # A self-contained file (an export) may carry its own sources.
    sources = raw.get("sources", raw_sources.get("sources", []))
    return validate_document(raw.get("entries"), sources, raw.get("list") or {})


def parse_native(text: str) -> ListDocument:
    """Parse a self-contained native list (YAML or JSON with `entries` and `sources`)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ListValidationError([Problem("(body)", "(file)", f"not valid YAML or JSON: {exc}")]) from None
    if not isinstance(raw, dict):
        raise ListValidationError([Problem("(body)", "(file)", "must be a mapping with 'entries' and 'sources'")])
    return validate_document(raw.get("entries"), raw.get("sources", []), raw.get("list") or {})


def dump_native(entries: list[dict[str, Any]], sources: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    return yaml.safe_dump({"list": meta, "sources": sources, "entries": entries},
                          allow_unicode=True, sort_keys=False, width=120)
