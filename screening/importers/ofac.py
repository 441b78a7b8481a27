"""OFAC's SDN CSV files (sdn.csv, alt.csv, add.csv, sdn_comments.csv) -> list entries `ofac-<ent_num>`.

The files have no header row and write null as `-0-`. Programs read `SDGT] [NPWMD`. alt.csv holds the strong
a.k.a.s (and f.k.a., n.k.a.); the weak a.k.a.s are in Remarks, in single quotes. sdn_comments.csv continues
Remarks that sdn.csv cut short. Remarks also carry birth dates and places, nationality, citizenship, gender and
identifiers, which become fields; the whole Remarks text is kept as it was.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from typing import Any

from pydantic import ValidationError

from ..listfile import (MAX_REPORTED, Entry, ListDocument, ListValidationError, Problem, Source, UnreadableList,
                        nul_problems, pydantic_problems)
from .countries import to_country_code

SOURCE_ID = "ofac-sdn-import"
TYPES = {"individual": "person", "vessel": "vessel", "aircraft": "aircraft", None: "organization"}
MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
COLUMNS = {"sdn": 12, "alt": 5, "add": 6, "comments": 2}

_DATE = re.compile(r"(?:\b(\d{1,2}) )?(?:\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]* )?\b(\d{4})\b",
                   re.IGNORECASE)
_WEAK_AKA = re.compile(r"a\.k\.a\. '([^']+)'")
_ID_KINDS = re.compile(
    r"^(Passport|National ID No\.|Tax ID No\.|SSN|Cedula No\.|R\.F\.C\.|C\.U\.R\.P\.|Registration (?:Number|ID)|"
    r"Identification Number|NIT #|D\.N\.I\.|Vessel Registration Identification|MMSI|Company Number|"
    r"Legal Entity Number|Equity Ticker|ISIN|Unified Social Credit Code \(USCC\)|Driver's License No\.|"
    r"Personal ID Card|Business Registration (?:Document #|Number)|Digital Currency Address - [A-Z0-9]+|SWIFT/BIC|"
    r"Aircraft Manufacturer's Serial Number \(MSN\)|Aircraft Tail Number|Trade License No\.|V\.A\.T\. Number|"
    r"RUC #|Residency Number|Birth Certificate Number|Matricula Mercantil No|Refugee ID Card|UK Company Number|"
    r"Chinese Commercial Code|Stateless Person ID Card|Kenyan ID No\.|Serial No\.|Other Vessel Call Sign|"
    r"Website|Email Address|Telephone No\.|Phone Number|Fax No\.|Fax|Telephone)\s+(.+)$")
_KIND_SUFFIX = re.compile(r"(?: No\.?| #|\.)$")
_TRAILING_COUNTRY = re.compile(r"^(.*?)\s*\(([^()]+)\)\s*$")


def _null(value: str | None) -> str | None:
    value = (value or "").strip()
    return None if value in ("", "-0-") else value


def decode(data: bytes, name: str = "sdn") -> str:
    """OFAC's files are UTF-8 today; older exports were Windows-1252. Bytes that are neither (five byte values
    are undefined in Windows-1252), or a NUL character, make the file unreadable, not a crash."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise UnreadableList([Problem(f"{name}.csv", "(file)", "neither UTF-8 nor Windows-1252 text: byte "
                                                                   f"{data[exc.start]:#04x} at offset {exc.start}")]) from None
    unreadable = nul_problems(text, f"{name}.csv")
    if unreadable:
        raise UnreadableList(unreadable)
    return text


def read_rows(name: str, data: bytes, problems: list[Problem]) -> list[tuple[int, list[str | None]]]:
    """Rows with their line numbers; a row with the wrong number of fields is a problem, not a crash."""
    text = decode(data, name).replace("\x1a", "")
    reader = csv.reader(io.StringIO(text, newline=""))
    rows = []
    try:
        for raw in reader:
            if not raw or all(not field.strip() for field in raw):
                continue
            line = reader.line_num
            if len(raw) != COLUMNS[name]:
                problems.append(Problem(f"{name}.csv line {line}", "(row)",
                                        f"expected {COLUMNS[name]} fields, found {len(raw)}"))
                if len(problems) >= MAX_REPORTED:
                    break  # random bytes are all bad rows: name the first ones, not every one
                continue
            rows.append((line, [_null(field) for field in raw]))
    except csv.Error as exc:
        problems.append(Problem(f"{name}.csv line {reader.line_num}", "(row)", f"not valid CSV: {exc}"))
    return rows


def parse_date(text: str) -> list[str]:
    """'13 May 1965' -> 1965-05-13, 'May 1965' -> 1965-05, 'circa 1965' -> 1965, '1960 to 1962' -> each year."""
    found = []
    for day, month, year in _DATE.findall(text):
        month_no = MONTHS.get(month.lower()) if month else None
        if month and not month_no:
            continue
        value = year
        if month_no:
            value += f"-{month_no:02d}"
            if day:
                value += f"-{int(day):02d}"
        found.append(value)
    if " to " in text and len(found) == 2 and all(len(v) == 4 for v in found):
        start, end = int(found[0]), int(found[1])
        if 0 < end - start <= 10:
            return [str(y) for y in range(start, end + 1)]
    return found


def parse_remarks(remarks: str) -> dict[str, Any]:
    facts: dict[str, Any] = {"birth_dates": [], "birth_places": [], "nationalities": [], "identifiers": [],
                             "weak": [], "gender": None}
    facts["weak"] = _WEAK_AKA.findall(remarks)
    for segment in (s.strip().rstrip(".") for s in remarks.split(";")):
        plain = segment[5:] if segment.startswith("alt. ") else segment
        if plain.startswith("DOB "):
            facts["birth_dates"] += parse_date(plain[4:])
        elif plain.startswith("POB "):
            facts["birth_places"].append(plain[4:].strip())
        elif plain.startswith(("nationality ", "citizen ")):
            code = to_country_code(plain.split(" ", 1)[1])
            if code:
                facts["nationalities"].append(code)
        elif plain in ("Gender Male", "Gender Female"):
            facts["gender"] = plain.split()[1].lower()
        elif match := _ID_KINDS.match(plain):
            kind, value = match.group(1), match.group(2).strip()
            identifier: dict[str, Any] = {"kind": _KIND_SUFFIX.sub("", kind), "value": value}
            if country_match := _TRAILING_COUNTRY.match(value):
                code = to_country_code(country_match.group(2))
                if code:
                    identifier.update(value=country_match.group(1), country=code)
            if identifier["value"]:
                identifier["value"] = identifier["value"][:200]
                facts["identifiers"].append(identifier)
    for key in ("birth_dates", "birth_places", "nationalities"):
        facts[key] = list(dict.fromkeys(facts[key]))
    return facts


def _programs(raw: str | None) -> list[str]:
    return [p.strip(" []") for p in (raw or "").split("] [") if p.strip(" []")]


def _address(row: list[str | None]) -> dict[str, Any] | None:
    parts = [p for p in (row[2], row[3], row[4]) if p]
    if not parts:
        return None
    address: dict[str, Any] = {"full": ", ".join(parts)[:1000], "source": SOURCE_ID}
    if row[4] and (code := to_country_code(row[4])):
        address["country"] = code
    return address


def ofac_source() -> Source:
    return Source(id=SOURCE_ID, title="OFAC Specially Designated Nationals list (sdn.csv import)",
                  publisher="U.S. Department of the Treasury, Office of Foreign Assets Control", kind="official",
                  url="https://www.treasury.gov/ofac/downloads/sdn.csv")


def parse_ofac(sdn: bytes, alt: bytes | None = None, add: bytes | None = None,
               comments: bytes | None = None) -> ListDocument:
    """All or nothing: any bad row refuses the whole import, with every problem listed by file and line."""
    problems: list[Problem] = []
    sdn_rows = read_rows("sdn", sdn, problems)
    extra: dict[str, list[tuple[int, list[str | None]]]] = {}
    for name, data in (("alt", alt), ("add", add), ("comments", comments)):
        extra[name] = read_rows(name, data, problems) if data else []

    by_number: dict[str, tuple[int, list[str | None]]] = {}
    for line, row in sdn_rows:
        number = row[0] or ""
        if not (number.isascii() and number.isdigit()):
            problems.append(Problem(f"sdn.csv line {line}", "ent_num", f"not a number: {number!r}"))
        elif number in by_number:
            problems.append(Problem(f"sdn.csv line {line}", "ent_num", f"{number} already on line {by_number[number][0]}"))
        elif not row[1]:
            problems.append(Problem(f"sdn.csv line {line}", "SDN_Name", "empty name"))
        else:
            by_number[number] = (line, row)

    related: dict[str, dict[str, list[list[str | None]]]] = defaultdict(lambda: defaultdict(list))
    warnings: list[Problem] = []
    for name, rows in extra.items():
        for line, row in rows:
            if row[0] in by_number:
                related[row[0]][name].append(row)
            else:
                # Well formed, but for an entry this sdn.csv does not have (files from different days): skipped.
                warnings.append(Problem(f"{name}.csv line {line}", "ent_num",
                                        f"{row[0]!r} is not an entry of sdn.csv; row skipped"))

    entries: list[Entry] = []
    for number, (line, row) in by_number.items():
        own = related.get(number, {})
        remarks = (row[11] or "") + "".join(r[1] or "" for r in own.get("comments", []))
        facts = parse_remarks(remarks)
        names = [{"name": row[1], "kind": "primary", "source": SOURCE_ID}]
        for alt_row in own.get("alt", []):
            if alt_row[3]:
                kind_note = {"fka": "formerly known as", "nka": "now known as"}.get((alt_row[2] or "").lower())
                names.append({"name": alt_row[3], "kind": "alias", "source": SOURCE_ID,
                              **({"note": kind_note} if kind_note else {})})
        names += [{"name": weak, "kind": "weak", "source": SOURCE_ID} for weak in facts["weak"]]
        identifiers = [{**i, "source": SOURCE_ID} for i in facts["identifiers"]]
        if row[5]:
            identifiers.append({"kind": "Call Sign", "value": row[5], "source": SOURCE_ID})
        programs = _programs(row[3])
        raw = {
            "id": f"ofac-{number}", "type": TYPES.get(row[2].lower() if row[2] else None, "organization"),
            "status": "designated", "names": names, "gender": facts["gender"],
            "birth_dates": facts["birth_dates"], "birth_places": facts["birth_places"],
            "nationalities": facts["nationalities"],
            "addresses": [a for a in (_address(r) for r in own.get("add", [])) if a],
            "identifiers": identifiers, "programs": programs,
            "measures": [{"program": p, "kind": "blocking", "authority": "OFAC SDN list", "source": SOURCE_ID}
                         for p in programs],
            "citations": [{"source": SOURCE_ID, "quote": row[1], "note": f"SDN entry {number}"}],
            "remarks": "; ".join(filter(None, [f"Title: {row[4]}" if row[4] else "", remarks])) or None,
        }
        try:
            entries.append(Entry.model_validate({k: v for k, v in raw.items() if v is not None}))
        except ValidationError as exc:
            problems.extend(pydantic_problems(exc, f"sdn.csv line {line} (ent_num {number})"))
    if problems:
        raise ListValidationError(problems)
    return ListDocument(entries=entries, sources=[ofac_source()], meta={"format": "ofac-csv"}, warnings=warnings)
