"""The on-disk index cache: a start-up loads the index built for this list content and this code, never a stale one."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from screening.listfile import load_list_file
from screening.matching import Matcher, cache

ENTRIES = [e.canonical() for e in load_list_file().entries]


def _top(matcher: Matcher, name: str) -> list[tuple[str, float]]:
    return [(m.entry_id, m.score) for m in matcher.screen(name)[1]]


def _refuse_build(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Matcher, entries: object) -> None:
        raise AssertionError("the index was built although the cache holds it")

    monkeypatch.setattr(Matcher, "__init__", refuse)


def test_a_built_index_is_saved_and_loaded_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = cache.load_or_build(ENTRIES, "a" * 64, tmp_path)
    saved = cache.cache_path(tmp_path, "a" * 64)
    assert saved.exists(), list(tmp_path.iterdir())
    _refuse_build(monkeypatch)
    loaded = cache.load_or_build(ENTRIES, "a" * 64, tmp_path)
    for name in ("Chen Quanguo", "陳全國", "Hikvision", "Zhejiang Dahua Technology Co., Ltd.", "Wang Ming"):
        assert _top(loaded, name) == _top(built, name), name
    assert not list(tmp_path.glob(".tmp-*")), "a temporary file was left behind"


def test_other_content_or_other_code_never_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache.load_or_build(ENTRIES, "a" * 64, tmp_path)
    few = cache.load_or_build(ENTRIES[:1], "b" * 64, tmp_path)  # another list version: its own file
    assert [m.entry_id for m in few.screen("Hikvision")[1]] == [], "an index of another list was read"
    monkeypatch.setattr(cache, "code_fingerprint", lambda: "changed-code")
    assert not cache.cache_path(tmp_path, "a" * 64).exists(), "a code change must not find the old index"


def test_a_damaged_file_is_rebuilt_and_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = cache.cache_path(tmp_path, "c" * 64)
    path.write_bytes(b"not a pickle at all")
    with caplog.at_level(logging.WARNING):
        matcher = cache.load_or_build(ENTRIES, "c" * 64, tmp_path)
    assert _top(matcher, "Chen Quanguo")[0][0] == "chen-quanguo"
    assert "unusable" in caplog.text, caplog.text
    assert path.read_bytes()[:1] == b"\x80", "the damaged file was not replaced by a pickle"


def test_an_unwritable_directory_only_costs_the_speed_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the directory should be")
    with caplog.at_level(logging.WARNING):
        matcher = cache.load_or_build(ENTRIES, "d" * 64, blocked / "cache")
    assert _top(matcher, "Zhu Hailun")[0][0] == "zhu-hailun"
    assert "not written" in caplog.text, caplog.text


def test_old_files_are_pruned(tmp_path: Path) -> None:
    for i in range(cache.KEEP_FILES + 2):
        cache.load_or_build(ENTRIES[:1], f"{i:02d}".ljust(64, "0"), tmp_path)
    assert len(list(tmp_path.glob("matcher-*.pickle"))) == cache.KEEP_FILES
    assert cache.cache_path(tmp_path, f"{cache.KEEP_FILES + 1:02d}".ljust(64, "0")).exists(), "the newest file was pruned"


def test_without_a_directory_nothing_is_written(tmp_path: Path) -> None:
    matcher = cache.load_or_build(ENTRIES, "e" * 64, None)
    assert _top(matcher, "Gao Yan")[0][0] == "gao-yan"
    assert not list(tmp_path.iterdir())
