"""The list format of `lists/`: a designations file and a register of sources, validated by one schema.

The same entry shape is what `GET /v1/entries/{id}` returns and what the admin API accepts, so what is read
can be sent back. A bad file is refused with every problem named by entry and field (`ListValidationError`).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterator, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

ENTRY_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$"  # FollowTheMoney ids keep their case
PARTIAL_DATE_PATTERN = r"^\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
MAX_REMARKS = 10_000  # the longest OFAC Remarks (with sdn_comments.csv) are under 2,000 characters
MAX_NOTE = 2_000

EntryType = Literal["person", "organization", "vessel", "aircraft"]
# designated: blocked or sanctioned; restricted: on a trade, procurement or investment restriction list but not
# blocked; flagged: named for sanctions without a measure; delisted: no longer matches, kept for history.
EntryStatus = Literal["designated", "restricted", "flagged", "delisted"]
NameKind = Literal["primary", "alias", "weak", "abbreviation", "script"]


_PARTIAL_DATE = re.compile(PARTIAL_DATE_PATTERN)
_MONTH_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def date_problem(value: str) -> str | None:
    """Why `value` is not a partial date (YYYY, YYYY-MM or YYYY-MM-DD on the calendar), or None."""
    if not _PARTIAL_DATE.match(value):
        return "not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"
    if len(value) == 10 and value[8:] > "28":  # the pattern lets 2020-02-31 through; days 1-28 are in every month
        year, month, day = int(value[:4]), int(value[5:7]), int(value[8:])
        days = 29 if month == 2 and calendar.isleap(year) else _MONTH_DAYS[month - 1]
        if day > days:
            return f"no such day: {calendar.month_name[month]} {year} has {days} days"
    return None


def _partial_date(value: str) -> str:
    problem = date_problem(value) if len(value) == 10 else None  # the Field pattern has checked the rest
    if problem:
        raise ValueError(f"{problem}: {value!r}")
    return value


# The pattern stays in the JSON schema (OpenAPI); the validator adds the calendar, which no pattern can say.
PartialDate = Annotated[str, Field(pattern=PARTIAL_DATE_PATTERN), AfterValidator(_partial_date)]
Ref = Annotated[str, Field(max_length=200)]  # a source id (ids are at most 200 characters)
Note = Annotated[str, Field(max_length=MAX_NOTE)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Source(_Strict):
    id: str = Field(pattern=ENTRY_ID_PATTERN)
    title: str = Field(min_length=1, max_length=500)
    publisher: str = Field(min_length=1, max_length=300)
    kind: Literal["news", "official", "import"]
    published: PartialDate | None = None
    url: str | None = Field(default=None, max_length=2000)
    authors: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list)
    seed: str | None = Field(default=None, max_length=300)
    note: Note | None = None


class Name(_Strict):
    name: str = Field(min_length=1, max_length=500)
    kind: NameKind = "alias"
    script: str | None = Field(default=None, pattern=r"^[A-Z][a-z]{3}$")
    source: Ref | None = None
    derived: Note | None = None
    note: Note | None = None


class Address(_Strict):
    full: str = Field(min_length=1, max_length=1000)
    country: str | None = Field(default=None, pattern=COUNTRY_PATTERN)
    source: Ref | None = None


class Identifier(_Strict):
    kind: str = Field(min_length=1, max_length=100)
    value: str = Field(min_length=1, max_length=200)
    country: str | None = Field(default=None, pattern=COUNTRY_PATTERN)
    note: Note | None = None
    source: Ref | None = None


class Measure(_Strict):
    program: str = Field(min_length=1, max_length=100)
    kind: str = Field(min_length=1, max_length=100)
    authority: str | None = Field(default=None, max_length=500)
    date: PartialDate | None = None
    effective: PartialDate | None = None
    source: Ref | None = None


class Citation(_Strict):
    source: Ref
    quote: str = Field(min_length=1, max_length=2000)
    via: Ref | None = None  # the source that reproduces the quote verbatim, where the original is not stored
    note: Note | None = None


class Entry(_Strict):
    id: str = Field(pattern=ENTRY_ID_PATTERN)
    type: EntryType
    status: EntryStatus = "designated"
    names: list[Name] = Field(min_length=1)
    gender: Literal["male", "female"] | None = None
    birth_dates: list[str] = Field(default_factory=list)
    birth_places: list[Annotated[str, Field(max_length=500)]] = Field(default_factory=list)
    nationalities: list[str] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    identifiers: list[Identifier] = Field(default_factory=list)
    programs: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list)
    measures: list[Measure] = Field(default_factory=list)
    citations: list[Citation] = Field(min_length=1)
    remarks: str | None = Field(default=None, max_length=MAX_REMARKS)

    @field_validator("birth_dates")
    @classmethod
    def _dates(cls, values: list[str]) -> list[str]:
        # One message for the whole field (not one per item), as the list format has always reported it.
        bad = [f"{v} ({problem})" for v in values if (problem := date_problem(v))]
        if bad:
            raise ValueError(f"not a date of the form YYYY, YYYY-MM or YYYY-MM-DD on the calendar: {', '.join(bad)}")
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
    """A list refused, with every problem named. `status` and `title` are how the API answers it."""

    status = 422
    title = "Invalid list"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  {p.location}: {p.field}: {p.message}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the list:\n{lines}")


class UnreadableList(ListValidationError):
    """Not list text at all: not UTF-8, NUL characters or lone surrogates, not a zip, nested beyond reason."""

    status = 400
    title = "Unreadable list"


class ListTooLarge(ListValidationError):
    """More data than the import limits allow (unpacked size, zip members, compression ratio)."""

    status = 413
    title = "Import too large"


MAX_REPORTED = 100  # problems of one kind named before the rest are only counted


def text_defect(text: str) -> str | None:
    """Why a string cannot be stored as it is, or None. PostgreSQL refuses NUL in text (SQLite keeps it) and no
    UTF-8 encodes a lone surrogate, so both are refused before the database, with one answer on either."""
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains a lone surrogate (not Unicode text)"
    return None


class TooManyNodes(ValueError):
    pass


def text_defects(value: Any, path: str = "", max_nodes: int | None = None) -> Iterator[tuple[str, str]]:
    """(field path, why) for every string, or mapping key, in a parsed JSON/YAML value that `text_defect` refuses.
    Iterative, so that depth costs no recursion. `max_nodes` bounds the walk: a YAML file of n characters without
    aliases holds fewer than n values, so more means aliases expanding (a "billion laughs"): TooManyNodes."""
    stack: list[tuple[str, Any]] = [(path, value)]
    seen = 0
    while stack:
        where, item = stack.pop()
        seen += 1
        if max_nodes is not None and seen > max_nodes:
            raise TooManyNodes(f"more than {max_nodes} values")
        if isinstance(item, str):
            if problem := text_defect(item):
                yield where or "(value)", problem
        elif isinstance(item, dict):
            for key, child in item.items():
                key_text = str(key)
                if isinstance(key, str) and (problem := text_defect(key)):
                    key_text = ascii(key)  # the path is answered as JSON text: escaped, never the raw character
                    yield f"{where}.{key_text}" if where else key_text, f"field name {problem}"
                stack.append((f"{where}.{key_text}" if where else key_text, child))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{where}.{i}" if where else str(i), child) for i, child in enumerate(item))


def nul_problems(text: str, location: str) -> list[Problem]:
    """A NUL character in raw text, by line: no list format has a use for one."""
    if "\x00" not in text:
        return []
    lines = [n for n, line in enumerate(text.split("\n"), start=1) if "\x00" in line]
    return [Problem(f"{location} line {n}", "(line)", "contains a NUL character") for n in lines[:MAX_REPORTED]]


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


def _label(kind: str, raw: Any, index: int) -> str:
    ident = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(ident, (str, int)) and not text_defect(str(ident)):
        return f"{kind} {ident}"
    return f"{kind} #{index + 1}"


def _text_problems(raw_entries: list[Any], raw_sources: list[Any], meta: dict[str, Any] | None,
                   locations: list[str] | None, max_nodes: int | None) -> list[Problem]:
    """Every string of the document that `text_defect` refuses, by entry (or source) and field."""
    whole = {"entries": raw_entries, "sources": raw_sources, "list": meta}
    problems: list[Problem] = []
    try:
        for path, why in text_defects(whole, max_nodes=max_nodes):
            group, _, rest = path.partition(".")
            index, _, field_path = rest.partition(".")
            if group == "list" or not index.isdigit():
                problems.append(Problem("(file)", path, why))
            elif group == "entries":
                i = int(index)
                where = locations[i] if locations else _label("entry", raw_entries[i], i)
                problems.append(Problem(where, field_path or "(entry)", why))
            else:
                problems.append(Problem(_label("source", raw_sources[int(index)], int(index)), field_path or "(source)",
                                        why))
            if len(problems) >= MAX_REPORTED:
                break
    except TooManyNodes as exc:
        raise ListTooLarge([Problem("(file)", "(file)", f"YAML aliases expand it to {exc}, more than its size "
                                                        "allows: refused as an alias bomb")]) from None
    return problems


def validate_document(raw_entries: Any, raw_sources: Any, meta: dict[str, Any] | None = None,
                      *, locations: list[str] | None = None, max_nodes: int | None = None) -> ListDocument:
    """Validate raw entries and sources; collect every problem before refusing. Text that no database stores
    alike (NUL, lone surrogates) refuses the document as unreadable before the schema is checked."""
    problems: list[Problem] = []
    if not isinstance(raw_entries, list):
        raise ListValidationError([Problem("(file)", "entries", "must be a list of entries")])
    if not isinstance(raw_sources, list):
        raise ListValidationError([Problem("(file)", "sources", "must be a list of sources")])
    if not isinstance(meta, (dict, type(None))):
        raise ListValidationError([Problem("(file)", "list", "must be a mapping (the list's id, title, ...)")])
    unreadable = _text_problems(raw_entries, raw_sources, meta, locations, max_nodes)
    if unreadable:
        raise UnreadableList(unreadable)

    sources: list[Source] = []
    for i, raw in enumerate(raw_sources):
        where = f"source {raw.get('id', i) if isinstance(raw, dict) else i}"
        try:
            sources.append(Source.model_validate(raw))
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, where))
    source_ids = [s.id for s in sources]
    for dup in sorted(s for s, n in Counter(source_ids).items() if n > 1):
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


def _load_yaml(text: str, location: str) -> Any:
    """YAML (or JSON) text -> data; what PyYAML raises besides YAMLError is a problem, not a crash."""
    unreadable = nul_problems(text, location)
    if unreadable:  # PyYAML would refuse it too, but without saying where
        raise UnreadableList(unreadable)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ListValidationError([Problem(location, "(file)", f"not valid YAML or JSON: {exc}")]) from None
    except ValueError as exc:  # a YAML timestamp off the calendar (2020-02-31) fails in PyYAML's constructor
        raise ListValidationError([Problem(location, "(file)", f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise UnreadableList([Problem(location, "(file)", "nested too deeply to be a list")]) from None


def read_yaml(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ListValidationError([Problem(str(path), "(file)", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise UnreadableList([Problem(str(path), "(file)", f"not UTF-8 text: {exc}")]) from None
    return _load_yaml(text, str(path))


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
    raw = _load_yaml(text, "(body)")
    if not isinstance(raw, dict):
        raise ListValidationError([Problem("(body)", "(file)", "must be a mapping with 'entries' and 'sources'")])
    # Without aliases a file holds fewer values than characters; the margin is for the empty document.
    return validate_document(raw.get("entries"), raw.get("sources", []), raw.get("list") or {},
                             max_nodes=len(text) + 100)


def dump_native(entries: list[dict[str, Any]], sources: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    return yaml.safe_dump({"list": meta, "sources": sources, "entries": entries},
                          allow_unicode=True, sort_keys=False, width=120)
