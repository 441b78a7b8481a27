"""A built Matcher kept on disk per list content, so that a process which starts (the command line, a new gunicorn
worker) loads the index in a tenth of a second instead of building it for seconds.

A file is named by the list's content hash and by a fingerprint of the matching code and the libraries that
normalize names, so a list change or an upgrade never reads a stale index: it builds a new one. Files are written
whole to a temporary name and renamed into place (readers never see half a file; two processes building the same
index at once both succeed). A file that cannot be read is rebuilt; a directory that cannot be written only costs the
speed-up. The least recently used files beyond KEEP_FILES are removed.

The files are pickles: the directory must be writable only by the service's own user, like its SQLite database.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Iterable, Iterator

from .index import Matcher
from .text import load_converters

log = logging.getLogger(__name__)

KEEP_FILES = 4
LIBRARIES = ("numpy", "opencc", "pypinyin", "pykakasi", "korean-romanizer", "unidecode", "rapidfuzz")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """What a built index depends on besides the list: this package's source, the libraries' versions, Python's."""
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=absent".encode())
    return digest.hexdigest()[:16]


def cache_path(directory: Path, content_hash: str) -> Path:
    return directory / f"matcher-{content_hash[:32]}-{code_fingerprint()}.pickle"


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building or unpickling an index allocates hundreds of thousands of objects, none of which can be garbage yet;
    the cyclic collector running over them meanwhile costs half as much time again as the work itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load(path: Path) -> Matcher | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("index cache %s not readable (%s); building the index", path, exc)
        return None
    try:
        matcher = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file of any kind is rebuilt, never trusted
        log.warning("index cache %s unusable (%s: %s); building the index", path, type(exc).__name__, exc)
        return None
    if not isinstance(matcher, Matcher):
        log.warning("index cache %s holds a %s; building the index", path, type(matcher).__name__)
        return None
    try:
        os.utime(path)  # recently used: kept by the pruning below
    except OSError:
        pass
    return matcher


def _save(matcher: Matcher, path: Path) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", suffix=".pickle", delete=False) as handle:
            pickle.dump(matcher, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, path)
    except OSError as exc:
        log.warning("index cache %s not written (%s); the index is rebuilt at the next start", path, exc)
        return
    _prune(path.parent)


def _prune(directory: Path) -> None:
    files = sorted(directory.glob("matcher-*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
    for stale in files[KEEP_FILES:]:
        try:
            stale.unlink()
        except OSError:
            pass


def load_or_build(entries: Iterable[dict[str, Any]], content_hash: str | None, directory: Path | None) -> Matcher:
    """The Matcher for these entries: from the cache directory when it holds one for this content, else built (and
    saved there). No directory or no content hash: always built."""
    with collector_paused():
        load_converters()  # a built index has them loaded by its Han names, a loaded one by nothing yet
        if directory is None or not content_hash:
            return Matcher(entries)
        path = cache_path(directory, content_hash)
        matcher = _load(path)
        if matcher is None:
            matcher = Matcher(entries)
            _save(matcher, path)
        return matcher
