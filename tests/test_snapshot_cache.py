"""The on-disk snapshot cache: a start-up loads the list content and index built for this content and this code,
never a stale one."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from screening import snapshotcache, store
from screening.listfile import load_list_file
from screening.liststate import build_snapshot
from screening.matching import Matcher
from tests.conftest import refuse_index_builds

ENTRIES = {e.canonical()["id"]: e.canonical() for e in load_list_file().entries}


def _builder(entries: dict[str, dict[str, Any]], calls: list[int]) -> Any:
    def build() -> snapshotcache.Content:
        calls.append(1)
        return entries, {"a-source": {"id": "a-source"}}, Matcher(entries.values())

    return build


def _top(matcher: Matcher, name: str) -> list[tuple[str, float]]:
    return [(m.entry_id, m.score) for m in matcher.screen(name)[1]]


def test_content_is_saved_and_loaded_back(tmp_path: Path) -> None:
    calls: list[int] = []
    entries, sources, built = snapshotcache.load_or_build("a" * 64, _builder(ENTRIES, calls), tmp_path)
    assert snapshotcache.cache_path(tmp_path, "a" * 64).exists(), list(tmp_path.iterdir())
    loaded_entries, loaded_sources, loaded = snapshotcache.load_or_build("a" * 64, _builder(ENTRIES, calls), tmp_path)
    assert calls == [1], "the content was built again although the cache holds it"
    assert loaded_entries == entries and loaded_sources == sources
    for name in ("Chen Quanguo", "陳全國", "Hikvision", "Zhejiang Dahua Technology Co., Ltd.", "Wang Ming"):
        assert _top(loaded, name) == _top(built, name), name
    assert not list(tmp_path.glob(".tmp-*")), "a temporary file was left behind"


def test_other_content_or_other_code_never_reads_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    snapshotcache.load_or_build("a" * 64, _builder(ENTRIES, []), tmp_path)
    one = {"hu-lianhe": ENTRIES["hu-lianhe"]}
    _, _, few = snapshotcache.load_or_build("b" * 64, _builder(one, []), tmp_path)  # another list: its own file
    assert [m.entry_id for m in few.screen("Chen Quanguo")[1]] == [], "the index of another list was read"
    monkeypatch.setattr(snapshotcache, "code_fingerprint", lambda: "changed-code")
    assert not snapshotcache.cache_path(tmp_path, "a" * 64).exists(), "a code change must not find the old index"


def test_a_damaged_file_is_rebuilt_and_replaced(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = snapshotcache.cache_path(tmp_path, "c" * 64)
    path.write_bytes(b"not a pickle at all")
    calls: list[int] = []
    with caplog.at_level(logging.WARNING):
        _, _, matcher = snapshotcache.load_or_build("c" * 64, _builder(ENTRIES, calls), tmp_path)
    assert calls == [1] and _top(matcher, "Chen Quanguo")[0][0] == "chen-quanguo"
    assert "unusable" in caplog.text, caplog.text
    snapshotcache.load_or_build("c" * 64, _builder(ENTRIES, calls), tmp_path)
    assert calls == [1], "the damaged file was not replaced"


def test_an_unwritable_directory_only_costs_the_speed_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the directory should be")
    with caplog.at_level(logging.WARNING):
        _, _, matcher = snapshotcache.load_or_build("d" * 64, _builder(ENTRIES, []), blocked / "cache")
    assert _top(matcher, "Zhu Hailun")[0][0] == "zhu-hailun"
    assert "not written" in caplog.text, caplog.text


def test_old_files_are_pruned(tmp_path: Path) -> None:
    one = {"gao-yan": ENTRIES["gao-yan"]}
    for i in range(snapshotcache.KEEP_FILES + 2):
        snapshotcache.load_or_build(f"{i:02d}".ljust(64, "0"), _builder(one, []), tmp_path)
    assert len(list(tmp_path.glob("list-*.pickle"))) == snapshotcache.KEEP_FILES
    newest = snapshotcache.cache_path(tmp_path, f"{snapshotcache.KEEP_FILES + 1:02d}".ljust(64, "0"))
    assert newest.exists(), "the newest file was pruned"


def test_pruning_passes_over_a_file_another_process_removed(tmp_path: Path) -> None:
    # Two processes save at once and both prune: a file one lists may be gone when it looks at it (here a link to
    # nothing stands for it). A save must not fail for that.
    for i in range(snapshotcache.KEEP_FILES + 2):
        (tmp_path / f"list-{i}.pickle").write_bytes(b"x")
    (tmp_path / "list-gone.pickle").symlink_to(tmp_path / "nowhere")
    snapshotcache._prune(tmp_path)
    assert len([p for p in tmp_path.glob("list-*.pickle") if p.exists()]) == snapshotcache.KEEP_FILES


def test_without_a_directory_nothing_is_written(tmp_path: Path) -> None:
    calls: list[int] = []
    snapshotcache.load_or_build("e" * 64, _builder(ENTRIES, calls), None)
    snapshotcache.load_or_build("e" * 64, _builder(ENTRIES, calls), None)
    assert calls == [1, 1] and not list(tmp_path.iterdir())


def test_a_restored_version_reuses_the_content_under_its_own_number(app: Flask, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from screening import lists

    sessions = app.extensions["db_sessionmaker"]
    with sessions() as session:
        first = store.current_version(session)
        assert build_snapshot(session, first, tmp_path).version == first
        lists.delist_entry(session, "gao-yan", actor="tests")
        session.commit()
        lists.restore(session, first, actor="tests")
        session.commit()
        restored = store.current_version(session)
    assert restored not in (None, first)

    refuse_index_builds(monkeypatch)
    with sessions() as session:
        snapshot = build_snapshot(session, restored, tmp_path)
    assert snapshot.version == restored, "the snapshot must carry the current version number, not the cached one"
    assert [m.entry_id for m in snapshot.matcher.screen("Gao Yan")[1]] == ["gao-yan"]


def test_a_failed_write_leaves_no_half_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snapshotcache.pickle, "dump", disk_full)
    _, _, matcher = snapshotcache.load_or_build("f" * 64, _builder(ENTRIES, []), tmp_path)
    assert _top(matcher, "Gao Yan")[0][0] == "gao-yan"
    assert list(tmp_path.iterdir()) == [], list(tmp_path.iterdir())
