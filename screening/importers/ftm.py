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

from ..listfile import (ENTRY_ID_PATTERN, Entry, ListDocument, ListValidationError, PARTIAL_DATE_PATTERN, Problem,
                        Source, pydantic_problems)
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


def _entry_from_properties(record: dict[str, Any], entry_type: str) -> tuple[dict[str, Any], Source]:
    props: dict[str, list[str]] = record.get("properties") or {}
    names = [{"name": n, "kind": "primary" if i == 0 else "alias"} for i, n in enumerate(props.get("name", []))]
    names += [{"name": n, "kind": "alias"} for n in props.get("alias", [])]
    names += [{"name": n, "kind": "weak"} for n in props.get("weakAlias", [])]
    names += [{"name": n, "kind": "alias"} for n in props.get("previousName", [])]
    datasets = record.get("datasets") or ["ftm"]
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
    caption = record.get("caption") or (names[0]["name"] if names else "")
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


def parse_ftm(lines: Iterable[str]) -> ListDocument:
    """All or nothing: a line that is not JSON, or a record that is not a valid entry, refuses the file."""
    problems: list[Problem] = []
    warnings: list[Problem] = []
    entries: list[Entry] = []
    sources: dict[str, Source] = {}
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(Problem(where, "(line)", f"not JSON: {exc.msg}"))
            continue
        if not isinstance(record, dict):
            problems.append(Problem(where, "(line)", "not a JSON object"))
            continue
        schema = record.get("schema")
        if schema not in TYPES:
            warnings.append(Problem(where, "schema", f"{schema!r} is not a screened schema; skipped"))
            continue
        ident = record.get("id")
        if not isinstance(ident, str) or not re.match(ENTRY_ID_PATTERN, ident):
            problems.append(Problem(where, "id", f"missing or not a usable id: {ident!r}"))
            continue
        if ident in seen:
            problems.append(Problem(where, "id", f"{ident!r} already on line {seen[ident]}"))
            continue
        seen[ident] = number
        try:
            if isinstance(record.get("screening"), dict):  # our own export: the entry as it was
                entry = Entry.model_validate(record["screening"])
                for raw_source in record.get("screening_sources", []):
                    source = Source.model_validate(raw_source)
                    sources.setdefault(source.id, source)
            else:
                bad_dates = [d for d in (record.get("properties") or {}).get("birthDate", []) if not _date(d)]
                if bad_dates:
                    problems.append(Problem(where, "properties.birthDate", f"not a date: {', '.join(bad_dates)}"))
                    continue
                raw, source = _entry_from_properties(record, TYPES[schema])
                if not raw.get("names"):
                    problems.append(Problem(where, "properties.name", "an entity without a name cannot be screened"))
                    continue
                sources.setdefault(source.id, source)
                entry = Entry.model_validate(raw)
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, f"{where} ({ident})"))
            continue
        entries.append(entry)
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
