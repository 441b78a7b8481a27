"""Country names as lists write them -> ISO 3166-1 alpha-2 codes (pycountry, plus the spellings lists use)."""

from __future__ import annotations

from functools import lru_cache

# Spellings OFAC and other lists use that ISO's names and pycountry's fuzzy search miss or misplace.
LIST_SPELLINGS = {
    "korea, north": "KP", "north korea": "KP", "korea, south": "KR", "south korea": "KR", "burma": "MM",
    "congo, democratic republic of the": "CD", "congo, republic of the": "CG", "turkey": "TR",
    "palestinian": "PS", "west bank": "PS", "gaza": "PS", "palestinian territories": "PS",
    "bahamas, the": "BS", "gambia, the": "GM", "cote d ivoire": "CI", "cote d'ivoire": "CI", "kosovo": "XK",
    "macedonia": "MK", "russia": "RU", "laos": "LA", "syria": "SY", "iran": "IR", "vietnam": "VN",
    "brunei": "BN", "cape verde": "CV", "swaziland": "SZ", "east timor": "TL", "micronesia": "FM",
    "holy see": "VA", "vatican": "VA", "uk": "GB", "usa": "US", "united states of america": "US",
}
MAX_COUNTRY_NAME = 100
NOT_COUNTRIES = {"undetermined", "unknown", "stateless", "region: crimea"}


def to_country_code(name: str) -> str | None:
    # Checked before the cache, which would otherwise keep up to 4,096 long strings alive.
    return None if len(name) > 4 * MAX_COUNTRY_NAME else _lookup(name)


@lru_cache(maxsize=4096)
def _lookup(name: str) -> str | None:
    import pycountry

    key = " ".join(name.strip().strip(".").lower().split())
    # No country's name is this long; fuzzy search would compare a long string with every name and subdivision.
    if not key or key in NOT_COUNTRIES or len(key) > MAX_COUNTRY_NAME:
        return None
    if key in LIST_SPELLINGS:
        return LIST_SPELLINGS[key]
    if len(key) == 2 and key.isalpha():
        found = pycountry.countries.get(alpha_2=key.upper())
        return found.alpha_2 if found else None
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        pass
    try:
        matches = pycountry.countries.search_fuzzy(key)
    except LookupError:
        return None
    return matches[0].alpha_2 if len(matches) == 1 else None
