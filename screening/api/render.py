"""Shaping list data and matches for responses."""

from __future__ import annotations

from typing import Any

from ..liststate import ListSnapshot
from ..matching import EntryMatch, NameForm


def citation_json(citation: dict[str, Any], sources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    source = sources.get(citation["source"], {})
    out = {"source_id": citation["source"], "source": citation["source"], "title": source.get("title"), "publisher": source.get("publisher"),
           "published": source.get("published"), "url": source.get("url"), "kind": source.get("kind"),
           "quote": citation["quote"]}
    for key in ("via", "note"):
        if citation.get(key):
            out[key] = citation[key]
    return out


def primary_name(entry: dict[str, Any]) -> str:
    return next(n["name"] for n in entry["names"] if n["kind"] == "primary")


def entry_json(entry: dict[str, Any], snapshot: ListSnapshot) -> dict[str, Any]:
    """The full record: the list format, plus read-only fields (`name`, `list_version`, resolved citations)."""
    out = dict(entry)
    out["name"] = primary_name(entry)
    out["citations"] = [citation_json(c, snapshot.sources) for c in entry["citations"]]
    out["list_version"] = snapshot.version
    return out


def entry_summary(entry: dict[str, Any]) -> dict[str, Any]:
    return {"id": entry["id"], "name": primary_name(entry), "type": entry["type"], "status": entry["status"],
            "programs": entry.get("programs", [])}


def match_json(match: EntryMatch, query: NameForm, snapshot: ListSnapshot) -> dict[str, Any]:
    entry = snapshot.entries[match.entry_id]
    return {"entry_id": match.entry_id, "name": primary_name(entry), "type": entry["type"],
            "score": match.score, "matched_name": match.matched_name, "status": entry["status"],
            "programs": entry.get("programs", []), "explanation": match.explanation(query),
            "citations": [citation_json(c, snapshot.sources) for c in entry["citations"]]}
