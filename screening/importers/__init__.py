"""Importers: the native list format, OFAC's SDN CSV files and FollowTheMoney entities."""

from __future__ import annotations

import io
import zipfile
from typing import Mapping

from ..listfile import ListDocument, ListValidationError, Problem, parse_native
from .ftm import parse_ftm
from .ofac import parse_ofac

FORMATS = ("native", "ofac-csv", "ftm")
OFAC_PARTS = {"sdn": "sdn.csv", "alt": "alt.csv", "add": "add.csv", "comments": "sdn_comments.csv"}


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListValidationError([Problem(where, "(file)", f"not UTF-8 text: {exc}")]) from None


def ofac_parts_from_zip(data: bytes) -> dict[str, bytes]:
    """sdn.csv, alt.csv, add.csv and sdn_comments.csv out of one zip (any folder, any case)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ListValidationError([Problem("(zip)", "(file)", "not a zip file")]) from None
    by_name = {name.rsplit("/", 1)[-1].lower(): name for name in archive.namelist()}
    return {part: archive.read(by_name[filename]) for part, filename in OFAC_PARTS.items() if filename in by_name}


def parse_import(fmt: str, files: Mapping[str, bytes]) -> ListDocument:
    """Parse an import. `files`: for native and ftm {"file": ...}; for ofac-csv {"sdn", "alt", "add", "comments"}
    or {"zip": ...}."""
    if fmt == "native":
        return parse_native(_decode(files["file"], "(file)"))
    if fmt == "ftm":
        return parse_ftm(_decode(files["file"], "(file)").splitlines())
    if fmt == "ofac-csv":
        parts = ofac_parts_from_zip(files["zip"]) if "zip" in files else dict(files)
        if "sdn" not in parts:
            raise ListValidationError([Problem("(request)", "sdn", "sdn.csv is required")])
        return parse_ofac(parts["sdn"], parts.get("alt"), parts.get("add"), parts.get("comments"))
    raise ListValidationError([Problem("(request)", "format", f"must be one of {', '.join(FORMATS)}")])
