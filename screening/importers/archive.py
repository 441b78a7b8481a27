"""Reading an import's files within limits: a zip is read member by member in chunks, counting what it unpacks.

A zip's directory states each member's size, but nothing binds the compressed data to it, so the stated size (and
ratio) only lets a bomb be refused before any work; the bytes are counted again while they are read. A refusal
names the member and comes after at most `max_bytes` (plus one chunk) of reading: time and memory are bounded by
the limit, never by what the bomb unpacks to. Plain files (not zipped) share the same budget, so no import makes
the service parse more than `max_bytes`.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, Mapping

from ..listfile import ListTooLarge, ListValidationError, Problem, UnreadableList

CHUNK = 1024 * 1024
RATIO_FLOOR = 1024 * 1024  # below this a member may compress as well as it likes (a small file of one repeated row)


@dataclass(frozen=True)
class ImportLimits:
    """How much one import may hold. The defaults are the settings' defaults (screening/config.py)."""

    max_bytes: int = 256 * 1024 * 1024  # list data, all files together, once unpacked
    max_members: int = 100  # members in one zip
    max_ratio: int = 100  # unpacked / compressed size of one zip member; text compresses about 5-20:1

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> ImportLimits:
        defaults = cls()
        return cls(max_bytes=int(config.get("MAX_IMPORT_UNPACKED_BYTES", defaults.max_bytes)),
                   max_members=int(config.get("MAX_IMPORT_MEMBERS", defaults.max_members)),
                   max_ratio=int(config.get("MAX_IMPORT_RATIO", defaults.max_ratio)))


class Budget:
    """What is left of `max_bytes` for this import's files."""

    def __init__(self, limits: ImportLimits):
        self.limits = limits
        self.left = limits.max_bytes

    def too_large(self, name: str, message: str) -> ListTooLarge:
        return ListTooLarge([Problem("(import)", name, message)])

    def take(self, name: str, size: int) -> None:
        if size > self.left:
            raise self.too_large(name, f"more than the {self.limits.max_bytes:,} bytes an import may hold once "
                                       "unpacked (SCREENING_MAX_IMPORT_UNPACKED_BYTES)")
        self.left -= size

    def read(self, stream: IO[bytes], name: str, compressed_size: int | None = None) -> bytes:
        """All of `stream`, refused as soon as it passes the budget (or, zipped, the compression ratio)."""
        out = bytearray()
        while chunk := stream.read(CHUNK):
            self.take(name, len(chunk))
            out += chunk
            if compressed_size is not None and len(out) > RATIO_FLOOR and \
                    len(out) > self.limits.max_ratio * max(compressed_size, 1):
                raise self.too_large(name, f"unpacks to more than {self.limits.max_ratio} times its compressed size "
                                           "(SCREENING_MAX_IMPORT_RATIO): refused as a zip bomb")
        return bytes(out)


# What a damaged or hostile zip makes zipfile raise, besides BadZipFile: a truncated stream, corrupt deflate data,
# an unsupported method (NotImplementedError), encryption (RuntimeError), a bad header (struct.error, ValueError).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, NotImplementedError,
              RuntimeError, ValueError, struct.error)


def read_zip_members(data: bytes, wanted: Mapping[str, str], budget: Budget) -> dict[str, bytes]:
    """The members named in `wanted` (file name, any folder, any case -> key), read within the budget. Other
    members are never unpacked; only their number counts."""
    limits = budget.limits
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except ZIP_ERRORS:
        raise UnreadableList([Problem("(zip)", "(file)", "not a zip file")]) from None
    if len(members) > limits.max_members:
        raise budget.too_large("(zip)", f"{len(members):,} members, more than {limits.max_members} "
                                        "(SCREENING_MAX_IMPORT_MEMBERS)")
    chosen: dict[str, zipfile.ZipInfo] = {}
    for info in members:
        key = wanted.get(info.filename.rsplit("/", 1)[-1].lower())
        if key is None or info.is_dir():
            continue
        if key in chosen:
            raise UnreadableList([Problem("(zip)", _printable(info.filename),
                                          f"a second member for {key} (the first is {_printable(chosen[key].filename)})")])
        chosen[key] = info
    # The stated sizes first, so that an honest bomb is refused before anything is unpacked.
    for info in chosen.values():
        name = _printable(info.filename)
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise budget.too_large(name, f"states {info.file_size:,} bytes packed in {info.compress_size:,}, more "
                                         f"than {limits.max_ratio} times (SCREENING_MAX_IMPORT_RATIO): refused as a "
                                         "zip bomb")
    stated = sum(info.file_size for info in chosen.values())
    if stated > budget.left:
        biggest = max(chosen.values(), key=lambda i: i.file_size)
        budget.take(_printable(biggest.filename), stated)  # raises, naming the largest member
    out: dict[str, bytes] = {}
    for key, info in chosen.items():
        name = _printable(info.filename)
        try:
            with archive.open(info) as stream:
                out[key] = budget.read(stream, name, info.compress_size)
        except ListValidationError:
            raise  # the budget's own refusal (a ValueError, like some of zipfile's)
        except ZIP_ERRORS as exc:
            raise UnreadableList([Problem("(zip)", name, f"cannot be unpacked: {exc}")]) from None
    return out


def _printable(name: str) -> str:
    """A member name as it can be answered in JSON (zip names are bytes decoded as cp437 or UTF-8)."""
    return name if name.isprintable() else ascii(name)
