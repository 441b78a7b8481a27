"""FollowTheMoney entities, one JSON object a line -> list entries, and back.

Person, Company, Organization, LegalEntity and Vessel become entries (name, alias, weakAlias, birthDate,
nationality, country, topics, program, sourceUrl, datasets). Other schemata (Sanction, Address, ...) are skipped
and reported as warnings. Our own export carries the whole entry under the key `screening`, so that it imports back
unchanged; its FollowTheMoney properties are filled as well, for other tools.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Iterator

from pydantic import ValidationError

from ..listfile import (ENTRY_ID_PATTERN, MAX_REPORTED, Entry, ListDocument, ListValidationError, PARTIAL_DATE_PATTERN,
                        Problem, Source, UnreadableList, pydantic_problems, text_defects)
from .countries import to_country_code

TYPES = {"Person": "person", "Company": "organization", "Organization": "organization",
         "LegalEntity": "organization", "PublicBody": "organization", "Vessel": "vessel", "Airplane": "aircraft"}
SCHEMATA = {"person": "Person", "organization": "Organization", "vessel": "Vessel", "aircraft": "Airplane"}
DESIGNATED_TOPICS = {"sanction"}
RESTRICTED_TOPICS = {"export.control", "debarment", "sanction.counter", "export.risk", "trade.risk"}
IDENTIFIER_PROPERTIES = ("idNumber", "passportNumber", "registrationNumber", "taxNumber", "innCode", "ogrnCode",
                         "leiCode", "imoNumber", "mmsi", "swiftBic", "isin", "uscCode")
_DATE_PREFIX = re.compile(PARTIAL_DATE_PATTERN[:-1])


def _source_for(dataset: str, url: str | None) -> Source:
    return Source(id=f"ftm-{re.sub(r'[^A-Za-z0-9._-]+', '-', dataset)[:150]}", title=f"FollowTheMoney dataset {dataset}",
                  publisher="FollowTheMoney import", kind="import", url=url)


def _status(topics: list[str]) -> str:
    if DESIGNATED_TOPICS & set(topics):
        return "designated"
    if RESTRICTED_TOPICS & set(topics):
        return "restricted"
    return "flagged"


def _date(value: str) -> str | None:
    match = _DATE_PREFIX.match(value.strip())
    return match.group(0) if match else None


# The properties read; each must be a list of strings (FollowTheMoney's shape) or one string. Others are ignored.
READ_PROPERTIES = ("name", "alias", "weakAlias", "previousName", "sourceUrl", "nationality", "citizenship",
                   "country", "address", "topics", "program", "programId", "gender", "birthDate", "birthPlace",
                   "notes") + IDENTIFIER_PROPERTIES


def _strings(value: Any) -> list[str] | None:
    """A property's values: a list of strings, or one string as a list of one (not its letters); else None."""
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        return None
    for item in value:  # a loop, not all(<generator>): this runs for every property of every entity
        if not isinstance(item, str):
            return None
    return value


def _read_properties(record: dict[str, Any], where: str) -> tuple[dict[str, list[str]], list[Problem]]:
    raw = record.get("properties")
    if raw is None:
        return {}, []
    if not isinstance(raw, dict):
        return {}, [Problem(where, "properties", "must be an object of property -> list of strings")]
    props: dict[str, list[str]] = {}
    problems = []
    for key in READ_PROPERTIES:
        if key not in raw or raw[key] is None:
            continue
        values = _strings(raw[key])
        if values is None:
            problems.append(Problem(where, f"properties.{key}",
                                    f"must be a list of strings, not {type(raw[key]).__name__} {_brief(raw[key])}"))
        else:
            props[key] = values
    bad_dates = [d for d in props.get("birthDate", []) if not _date(d)]
    if bad_dates:
        problems.append(Problem(where, "properties.birthDate", f"not a date: {', '.join(map(repr, bad_dates[:10]))}"))
    return props, problems


def _brief(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 60 else text[:57] + "..."


def _entry_from_properties(record: dict[str, Any], props: dict[str, list[str]], datasets: list[str],
                           entry_type: str) -> tuple[dict[str, Any], Source]:
    names = [{"name": n, "kind": "primary" if i == 0 else "alias"} for i, n in enumerate(props.get("name", []))]
    names += [{"name": n, "kind": "alias"} for n in props.get("alias", [])]
    names += [{"name": n, "kind": "weak"} for n in props.get("weakAlias", [])]
    names += [{"name": n, "kind": "alias"} for n in props.get("previousName", [])]
    url = (props.get("sourceUrl") or [None])[0]
    source = _source_for(datasets[0], url)
    nationalities = [c for c in (to_country_code(v) for v in props.get("nationality", []) + props.get("citizenship", []))
                     if c]
    countries = [c for c in (to_country_code(v) for v in props.get("country", [])) if c]
    addresses = [{"full": a[:1000]} for a in props.get("address", [])]
    addresses += [{"full": c, "country": c} for c in countries if c not in nationalities]
    identifiers = [{"kind": prop, "value": v[:200]} for prop in IDENTIFIER_PROPERTIES for v in props.get(prop, [])]
    topics = props.get("topics", [])
    programs = list(dict.fromkeys(props.get("program", []) + props.get("programId", [])))
    gender = next((g for g in props.get("gender", []) if g in ("male", "female")), None)
    caption = record.get("caption") if isinstance(record.get("caption"), str) else None
    caption = caption or (names[0]["name"] if names else "")
    entry = {
        "id": record.get("id"), "type": entry_type, "status": _status(topics), "names": names,
        "birth_dates": [d for d in (_date(v) for v in props.get("birthDate", [])) if d],
        "birth_places": props.get("birthPlace", []), "nationalities": list(dict.fromkeys(nationalities)),
        "addresses": addresses, "identifiers": identifiers, "programs": programs,
        "measures": [{"program": p, "kind": "sanction" if "sanction" in topics else "listing", "source": source.id}
                     for p in programs],
        "citations": [{"source": source.id, "quote": caption, "note": ", ".join(datasets)}],
        "remarks": "; ".join(props.get("notes", [])) or None,
    }
    if gender:
        entry["gender"] = gender
    return {k: v for k, v in entry.items() if v is not None}, source


def _unreadable(line: str, record: Any, where: str) -> list[Problem]:
    """NUL characters and lone surrogates, which JSON can only carry escaped (\\u0000, \\ud800): a line without
    an escape has none, so only those lines are walked."""
    if "\\u" not in line:
        return []
    return [Problem(where, path, why) for path, why in text_defects(record)][:MAX_REPORTED]


def parse_ftm(lines: Iterable[str]) -> ListDocument:
    """All or nothing: a line that is not JSON, or a record that is not a valid entry, refuses the file. NUL
    characters or lone surrogates refuse it as unreadable (UnreadableList)."""
    problems: list[Problem] = []
    unreadable: list[Problem] = []
    warnings: list[Problem] = []
    entries: list[Entry] = []
    sources: dict[str, Source] = {}
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        if "\x00" in line:
            unreadable.append(Problem(where, "(line)", "contains a NUL character"))
            continue
        try:
            record = json.loads(line)
        except RecursionError:
            unreadable.append(Problem(where, "(line)", "nested too deeply to be an entity"))
            continue
        except ValueError as exc:  # JSONDecodeError, or an integer of more than 4,300 digits
            problems.append(Problem(where, "(line)", f"not JSON: {getattr(exc, 'msg', exc)}"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(where, "(line)", "not a JSON object"))
            continue
        if found := _unreadable(line, record, where):
            unreadable.extend(found)
            continue
        schema = record.get("schema")
        if not isinstance(schema, str) or schema not in TYPES:
            warnings.append(Problem(where, "schema", f"{_brief(schema)} is not a screened schema; skipped"))
            continue
        ident = record.get("id")
        if not isinstance(ident, str) or not re.match(ENTRY_ID_PATTERN, ident):
            problems.append(Problem(where, "id", f"missing or not a usable id: {_brief(ident)}"))
            continue
        if ident in seen:
            problems.append(Problem(where, "id", f"{ident!r} already on line {seen[ident]}"))
            continue
        seen[ident] = number
        entity = f"{where} ({ident})"
        try:
            if isinstance(record.get("screening"), dict):  # our own export: the entry as it was
                entry = Entry.model_validate(record["screening"])
                raw_sources = record.get("screening_sources", [])
                if not isinstance(raw_sources, list):
                    problems.append(Problem(entity, "screening_sources", "must be a list of sources"))
                    continue
                for raw_source in raw_sources:
                    source = Source.model_validate(raw_source)
                    sources.setdefault(source.id, source)
            else:
                props, found = _read_properties(record, entity)
                datasets = _strings(record.get("datasets") or ["ftm"]) or []
                if not datasets:
                    found.append(Problem(entity, "datasets", "must be a list of dataset names"))
                if found:
                    problems.extend(found)
                    continue
                raw, source = _entry_from_properties(record, props, datasets, TYPES[schema])
                if not raw.get("names"):
                    problems.append(Problem(where, "properties.name", "an entity without a name cannot be screened"))
                    continue
                sources.setdefault(source.id, source)
                entry = Entry.model_validate(raw)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, entity))
            continue
        entries.append(entry)
    if unreadable:
        raise UnreadableList(unreadable + problems)
    if problems:
        raise ListValidationError(problems)
    return ListDocument(entries=entries, sources=list(sources.values()), meta={"format": "ftm"}, warnings=warnings)


def export_ftm(entries: Iterable[dict[str, Any]], sources: dict[str, dict[str, Any]]) -> Iterator[str]:
    """One FollowTheMoney entity a line, carrying the whole entry for an unchanged round trip."""
    for entry in entries:
        names = entry["names"]
        properties: dict[str, list[str]] = {
            "name": [n["name"] for n in names if n["kind"] == "primary"],
            "alias": [n["name"] for n in names if n["kind"] in ("alias", "script", "abbreviation")],
            "weakAlias": [n["name"] for n in names if n["kind"] == "weak"],
            "birthDate": entry.get("birth_dates", []), "birthPlace": entry.get("birth_places", []),
            "nationality": [c.lower() for c in entry.get("nationalities", [])],
            "country": sorted({a["country"].lower() for a in entry.get("addresses", []) if a.get("country")}),
            "address": [a["full"] for a in entry.get("addresses", [])],
            "program": entry.get("programs", []),
            "topics": ["sanction"] if entry["status"] == "designated" else
                      ["export.control"] if entry["status"] == "restricted" else [],
            "sourceUrl": [u for u in (sources.get(c["source"], {}).get("url") for c in entry["citations"]) if u][:1],
        }
        if entry.get("gender"):
            properties["gender"] = [entry["gender"]]
        cited = {c["source"] for c in entry["citations"]} | {c["via"] for c in entry["citations"] if c.get("via")}
        for group in ("names", "addresses", "identifiers", "measures"):
            cited |= {item["source"] for item in entry.get(group, []) if item.get("source")}
        record = {"id": entry["id"], "schema": SCHEMATA[entry["type"]], "caption": properties["name"][0],
                  "properties": {k: v for k, v in properties.items() if v}, "datasets": ["screening"],
                  "screening": entry, "screening_sources": [sources[s] for s in sorted(cited) if s in sources]}
        yield json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
