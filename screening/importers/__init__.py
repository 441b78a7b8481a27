"""Importers: the native list format, OFAC's SDN CSV files and FollowTheMoney entities."""

from __future__ import annotations

from typing import Mapping

from ..listfile import ListDocument, ListValidationError, Problem, UnreadableList, parse_native
from .archive import Budget, ImportLimits, read_zip_members
from .ftm import parse_ftm
from .ofac import parse_ofac

FORMATS = ("native", "ofac-csv", "ftm")
OFAC_PARTS = {"sdn": "sdn.csv", "alt": "alt.csv", "add": "add.csv", "comments": "sdn_comments.csv"}

__all__ = ["FORMATS", "OFAC_PARTS", "ImportLimits", "ofac_parts_from_zip", "parse_import"]


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableList([Problem(where, "(file)", f"not UTF-8 text: {exc}")]) from None


def ofac_parts_from_zip(data: bytes, limits: ImportLimits | None = None) -> dict[str, bytes]:
    """sdn.csv, alt.csv, add.csv and sdn_comments.csv out of one zip (any folder, any case), within `limits`."""
    return read_zip_members(data, {filename: part for part, filename in OFAC_PARTS.items()},
                            Budget(limits or ImportLimits()))


def parse_import(fmt: str, files: Mapping[str, bytes], limits: ImportLimits | None = None) -> ListDocument:
    """Parse an import. `files`: for native and ftm {"file": ...}; for ofac-csv {"sdn", "alt", "add", "comments"}
    or {"zip": ...}. Refused (ListTooLarge) when it holds more than `limits` allow, before it is parsed."""
    budget = Budget(limits or ImportLimits())
    if fmt in ("native", "ftm"):
        budget.take("file", len(files["file"]))
        text = _decode(files["file"], "(file)")
        # Lines end at \n only: str.splitlines would also cut at U+2028 and others, which JSON strings may hold.
        return parse_native(text) if fmt == "native" else parse_ftm(text.split("\n"))
    if fmt == "ofac-csv":
        if "zip" in files:
            parts = read_zip_members(files["zip"], {filename: part for part, filename in OFAC_PARTS.items()}, budget)
        else:
            parts = {part: data for part, data in files.items() if part in OFAC_PARTS}
            for part, data in parts.items():
                budget.take(OFAC_PARTS[part], len(data))
        if "sdn" not in parts:
            raise ListValidationError([Problem("(request)", "sdn", "sdn.csv is required")])
        return parse_ofac(parts["sdn"], parts.get("alt"), parts.get("add"), parts.get("comments"))
    raise ListValidationError([Problem("(request)", "format", f"must be one of {', '.join(FORMATS)}")])
