"""The command line: init-db, load-list (idempotent, refuses bad files), keys, screen."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from screening.cli import main
from tests.conftest import refuse_index_builds


@pytest.fixture
def runner(db_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("SCREENING_DATABASE_URL", db_url)
    runner = CliRunner()
    result = runner.invoke(main, ["init-db"])
    assert result.exit_code == 0, result.output
    return runner


def test_load_list_is_idempotent(runner: CliRunner) -> None:
    first = runner.invoke(main, ["load-list"])
    assert first.exit_code == 0 and "list version 1" in first.output, first.output
    again = runner.invoke(main, ["load-list"])
    assert again.exit_code == 0 and "unchanged: still version 1" in again.output, again.output


def test_init_db_twice_is_harmless(runner: CliRunner) -> None:
    assert runner.invoke(main, ["init-db"]).exit_code == 0


def test_bad_list_file_is_refused_and_nothing_changes(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["load-list"]).exit_code == 0
    bad = tmp_path / "designations.yaml"
    bad.write_text("entries:\n  - {id: Bad Id, type: person, names: [], citations: []}\n", encoding="utf-8")
    result = runner.invoke(main, ["load-list", str(bad)])
    assert result.exit_code == 2, result.output
    assert "entry Bad Id" in result.output and "names" in result.output and "id" in result.output, result.output
    assert "unchanged: still version 1" in runner.invoke(main, ["load-list"]).output


def test_keys_create_prints_the_key_alone_on_the_last_line(runner: CliRunner) -> None:
    result = runner.invoke(main, ["keys", "create", "--role", "admin", "--label", "ops"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[-1]
    assert key.startswith("scr_") and " " not in key
    listing = runner.invoke(main, ["keys", "list"]).output
    assert "ops" in listing and "admin" in listing and key not in listing
    key_id = key.split("_")[1]
    assert runner.invoke(main, ["keys", "revoke", key_id]).exit_code == 0
    assert "revoked" in runner.invoke(main, ["keys", "list"]).output
    assert runner.invoke(main, ["keys", "revoke", key_id]).exit_code == 1


def test_screen_command(runner: CliRunner) -> None:
    runner.invoke(main, ["load-list"])
    result = runner.invoke(main, ["screen", "Hikvision"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{"):])
    assert body["matches"][0]["entry_id"] == "hangzhou-hikvision-digital-technology"


def test_readme_settings_table_is_current() -> None:
    from screening.config import settings_markdown
    from tests.conftest import ROOT

    assert settings_markdown() in (ROOT / "README.md").read_text(encoding="utf-8"), "regenerate the README table"


def test_configured_threshold_applies_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from screening.config import default_threshold
    from screening.matching import DEFAULT_THRESHOLD

    assert default_threshold({"THRESHOLD": None}) == DEFAULT_THRESHOLD
    assert default_threshold({"THRESHOLD": 0.0}) == 0.0  # a configured 0 is a threshold, not "unset"
    assert default_threshold({"THRESHOLD": 0.9}) == 0.9


def test_a_list_change_leaves_its_index_for_the_next_start(runner: CliRunner, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "index-cache"
    monkeypatch.setenv("SCREENING_INDEX_CACHE_DIR", str(cache))
    result = runner.invoke(main, ["load-list"])
    assert result.exit_code == 0 and "index ready for list version 1" in result.output, result.output
    assert len(list(cache.glob("list-*.pickle"))) == 1, list(cache.iterdir())

    refuse_index_builds(monkeypatch)  # the list change left the index in the cache
    result = runner.invoke(main, ["screen", "Chen Quanguo"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["matches"][0]["entry_id"] == "chen-quanguo"


def test_lists_index_builds_the_current_index_and_leaves_the_list(runner: CliRunner, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert runner.invoke(main, ["load-list"]).exit_code == 0  # (its index goes to the session's cache, not this one)
    cache = tmp_path / "index-cache"
    monkeypatch.setenv("SCREENING_INDEX_CACHE_DIR", str(cache))
    result = runner.invoke(main, ["lists", "index"])
    assert result.exit_code == 0 and "index ready for list version 1" in result.output, result.output
    assert len(list(cache.glob("list-*.pickle"))) == 1, list(cache.iterdir())
    assert "* " in runner.invoke(main, ["lists", "versions"]).output
    assert len(runner.invoke(main, ["lists", "versions"]).output.strip().splitlines()) == 1, "a version was added"
    monkeypatch.setenv("SCREENING_INDEX_CACHE_DIR", "off")
    result = runner.invoke(main, ["lists", "index"])
    assert result.exit_code == 1 and "nothing to build" in result.output, result.output


def test_without_the_cache_a_list_change_builds_nothing_extra(runner: CliRunner,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_INDEX_CACHE_DIR", "off")
    result = runner.invoke(main, ["load-list"])
    assert result.exit_code == 0 and "index ready" not in result.output, result.output


@pytest.mark.parametrize("charset", ["hex", "rot13", "base64", "zlib", "bz2", "uu", "quopri", "idna", "punycode",
                                     "utf-8\x00", "klingon"])
def test_bulk_refuses_a_charset_that_is_not_a_text_encoding(runner: CliRunner, tmp_path: Path, charset: str) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(b"name\r\nGao Yan\r\n")
    result = runner.invoke(main, ["bulk", str(source), str(target), "--charset", charset])
    assert result.exit_code == 2, result.output
    assert "--charset" in result.output and ("not a text encoding" in result.output
                                             or "unknown charset" in result.output), result.output
    assert not target.exists()


def test_bulk_refuses_a_quote_never_closed_naming_its_line(runner: CliRunner, tmp_path: Path) -> None:
    from tests.test_bulk import UNCLOSED

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(UNCLOSED)
    result = runner.invoke(main, ["bulk", str(source), str(target)])
    assert result.exit_code == 2, result.output
    assert "refused (file): line 3: a quoted field opened there is never closed" in result.output, result.output
    assert not target.exists()


def test_an_empty_replace_import_needs_allow_empty(runner: CliRunner, tmp_path: Path) -> None:
    assert runner.invoke(main, ["load-list"]).exit_code == 0
    empty = tmp_path / "empty.yaml"
    empty.write_text("entries: []\nsources: []\n", encoding="utf-8")
    refused = runner.invoke(main, ["lists", "import", "--format", "native", "--mode", "replace", str(empty)])
    assert refused.exit_code == 2 and "--allow-empty" in refused.output, refused.output
    assert "unchanged: still version 1" in runner.invoke(main, ["load-list"]).output
    emptied = runner.invoke(main, ["lists", "import", "--format", "native", "--mode", "replace", "--allow-empty",
                                   str(empty)])
    assert emptied.exit_code == 0 and "list version 2" in emptied.output, emptied.output
