"""Nicknames and short forms of given names (Bill / William, Bob / Robert), from the `nicknames` package: a
hand-curated, maintained table of English names (carltonnorthern/nicknames), rather than a list of our own."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _related() -> dict[str, frozenset[str]]:
    from nicknames import NickNamer

    namer = NickNamer()
    related: dict[str, set[str]] = {}
    for canonical, nicks in namer.nickname_lookup.items():
        for nick in nicks:
            if nick.isalpha() and canonical.isalpha():
                related.setdefault(canonical, set()).add(nick)
                related.setdefault(nick, set()).add(canonical)
    return {name: frozenset(others) for name, others in related.items()}


def related_names(name: str) -> frozenset[str]:
    """The names that are nicknames of this one, or of which it is a nickname."""
    return _related().get(name, frozenset())


def are_nicknames(a: str, b: str) -> bool:
    """True when one part is a nickname or short form of the other (not two nicknames of one name)."""
    return b in _related().get(a, ())


def load_nicknames() -> None:
    _related()
