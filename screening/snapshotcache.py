"""A list version's entries, sources and built Matcher kept on disk per list content, so that a process which starts
(the command line, a new gunicorn worker) loads them in a fifth of a second instead of reading and indexing for
seconds.

A file is named by the list's content hash and by a fingerprint of the matching code and the libraries that
normalize names, so a list change or an upgrade never reads a stale index: it builds a new one. (The entries and
sources are the content the hash is taken over, so they cannot be stale.) Files are written
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
from contextlib import contextmanager
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterator

from .matching import Matcher

log = logging.getLogger(__name__)

KEEP_FILES = 4
LIBRARIES = ("numpy", "opencc", "pypinyin", "pykakasi", "korean-romanizer", "unidecode", "rapidfuzz", "nicknames")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """What a built index depends on besides the list: the matching package's source, the name libraries' versions,
    Python's version."""
    digest = hashlib.sha256(sys.version.encode())
    for path in sorted((Path(__file__).parent / "matching").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for name in LIBRARIES:
        try:
            digest.update(f"{name}={metadata.version(name)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}=absent".encode())
    return digest.hexdigest()[:16]


def cache_path(directory: Path, content_hash: str) -> Path:
    return directory / f"list-{content_hash[:32]}-{code_fingerprint()}.pickle"


@contextmanager
def collector_paused() -> Iterator[None]:
    """Building or unpickling a list snapshot allocates hundreds of thousands of objects, none of which can be garbage
    yet; the cyclic collector running over them meanwhile costs half as much time again as the work itself. They are
    long-lived, so at the end they go to the collector's permanent generation (gc.freeze) rather than be walked by
    the next collections: that also keeps the pages a forked worker shares with its parent shared. (An old snapshot
    is still freed by reference counting when it is dropped; it holds no reference cycles.)"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


Content = tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], Matcher]  # entries, sources, matcher


def _valid(content: Any) -> bool:
    return (isinstance(content, tuple) and len(content) == 3 and isinstance(content[0], dict)
            and isinstance(content[1], dict) and isinstance(content[2], Matcher))


def load_file(path: Path) -> Content | None:
    """The content of one cache file, or None when it is missing or unusable (logged)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.warning("index cache %s not readable (%s); building the index", path, exc)
        return None
    try:
        content = pickle.loads(data)
    except Exception as exc:  # noqa: BLE001 - a damaged or foreign file of any kind is rebuilt, never trusted
        log.warning("index cache %s unusable (%s: %s); building the index", path, type(exc).__name__, exc)
        return None
    if not _valid(content):
        log.warning("index cache %s holds a %s; building the index", path, type(content).__name__)
        return None
    try:
        os.utime(path)  # recently used: kept by the pruning below
    except OSError:
        pass
    return content  # type: ignore[no-any-return]


def _save(content: Content, path: Path) -> None:
    temporary: str | None = None
    try:
        # Private: the files are pickles (loading one runs code) and hold the whole list. NamedTemporaryFile makes
        # the file 0600, and the rename keeps that mode.
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".tmp-", suffix=".pickle", delete=False) as handle:
            temporary = handle.name
            pickle.dump(content, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
    except OSError as exc:
        log.warning("index cache %s not written (%s); the index is rebuilt at the next start", path, exc)
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)  # a disk that filled up keeps no half file
        return
    _prune(path.parent)


def _prune(directory: Path) -> None:
    # Another process (a worker, a runner thread) may prune the same folder at once: a file listed here can be gone
    # by the time it is looked at, which is what pruning wanted anyway.
    dated = []
    for path in directory.glob("list-*.pickle"):
        try:
            dated.append((path.stat().st_mtime, path))
        except OSError:
            continue
    for _, stale in sorted(dated, key=lambda item: item[0], reverse=True)[KEEP_FILES:]:
        try:
            stale.unlink()
        except OSError:
            pass


def load_or_build(content_hash: str | None, build: Callable[[], Content], directory: Path | None) -> Content:
    """The list content (entries, sources, matcher) with this hash: from the cache directory when it holds it, else
    built by `build` (and saved there). No directory or no content hash: always built. (Callers pause the collector
    around this: see collector_paused.)"""
    if directory is None or not content_hash:
        return build()
    path = cache_path(directory, content_hash)
    content = load_file(path)
    if content is None:
        content = build()
        _save(content, path)
    return content
