"""Bulk screening on Dask: a LocalCluster of 2 worker processes (one for the module) against the single-machine
command, byte for byte; Parquet in and out; the audit; a name screened once per worker; clear errors."""

from __future__ import annotations

import codecs
import csv
import io
import re
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy import func, select

from screening.cli import main
from screening.db import dispose
from tests.conftest import ROOT, make_app
from tests.test_bulk import UNCLOSED

distributed = pytest.importorskip("distributed", reason="the extra 'dask' is not installed")

HEADER = ["customer_id", "name", "type", "note"]
NAMES = ["Gao Yan", "Chen Quanguo", "José Müller García", "Hikvision", "Maria López", "Usama bin Ladin", "Zhu Hailun"]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    url = f"sqlite:///{tmp_path / 'dask.db'}"
    app = make_app(url)
    monkeypatch.setenv("SCREENING_DATABASE_URL", url)
    assert CliRunner().invoke(main, ["load-list"]).exit_code == 0
    yield app
    dispose(app)


def customers(count: int = 80) -> list[list[str]]:
    """Repeated names and every kind of bad row the single-machine command reports in place."""
    rows = [[f"c{i}", NAMES[i % len(NAMES)], "person" if i % 3 else "any", f"note {i}"] for i in range(count)]
    rows[5] = ["c-blank", "", "person", "x"]
    rows[9] = ["c-few", "Too Few"]
    rows[11] = ["c-many", "Too Many", "person", "x", "extra"]
    rows[12] = ["c-newline", "Line\nBreak Trading", "organization", "two\r\nlines"]
    rows[15] = ["=HYPERLINK(\"http://evil.invalid/\")", "@SUM(A1)", "person", "+1"]
    rows[16] = ["-2", "\tGao Yan", "person", "'=already"]
    rows[20] = ["c-robot", "Acme", "robot", "x"]
    rows[33] = ["c-long", "X" * 600, "person", "x"]
    return rows


def as_csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def bulk(source: Path, target: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["bulk", str(source), str(target), "--type-column", "type", "--id-column",
                                     "customer_id", *extra])


def audited(app: Flask) -> list[str]:
    from screening.models import AuditEvent

    with app.extensions["db_sessionmaker"]() as session:
        return sorted(str(r) for r in session.scalars(select(AuditEvent.reference)
                                                      .where(AuditEvent.action == "bulk-row")))


def single_and_dask(app: Flask, source: Path, tmp_path: Path, scheduler: str, *extra: str) -> tuple[bytes, bytes]:
    """Both commands' output; the audit of the Dask run checked against its screened rows."""
    single, on_dask = tmp_path / "single.csv", tmp_path / "dask.csv"
    result = bulk(source, single, "--processes", "1")
    assert result.exit_code == 0, result.output
    before = audited(app)
    result = bulk(source, on_dask, "--dask", scheduler, "--partition-rows", "4", *extra)
    assert result.exit_code == 0, result.output
    assert "on 2 workers" in result.output, result.output
    after = audited(app)
    screened = sorted(row[0] for row in csv.reader(io.StringIO(single.read_text("utf-8")))
                      if row[-1] == "")  # the header's last cell is "error"
    assert len(after) - len(before) == len(screened) == len(before), (len(after), len(before), len(screened))
    assert after == sorted(before + before), "each screened row audited once more, with its reference"
    return single.read_bytes(), on_dask.read_bytes()


BAD_BYTES = {"utf-8": b"c-bad,J\xfcrgen M\xfcller,person,x\r\nc-nul,Gao\x00Yan,person,x\r\n",
             "utf-16": "c-nul,Gao\x00Yan,person,x\r\n".encode("utf-16-le")}


@pytest.mark.parametrize("encoding, delimiter, newline", [
    ("utf-8", ",", "\r\n"), ("utf-8-sig", ";", "\n"), ("utf-16", "\t", "\r\n"), ("cp1252", ",", "\r"),
])
def test_csv_output_is_the_single_machine_commands_byte_for_byte(
        app: Flask, tmp_path: Path, scheduler: str, encoding: str, delimiter: str, newline: str) -> None:
    text = as_csv([HEADER] + customers(), delimiter).replace("\r\n", newline)
    body = text.encode(encoding)
    if encoding == "utf-8":  # bytes not valid in the file's encoding and a NUL, each reported on its line
        body += BAD_BYTES["utf-8"] + "c-last,Gao Yan,person,é\r\n".encode()
    elif encoding == "utf-16":
        body += BAD_BYTES["utf-16"]
    source = tmp_path / "customers.csv"
    source.write_bytes(body)
    single, on_dask = single_and_dask(app, source, tmp_path, scheduler)
    assert on_dask == single
    assert b"'=HYPERLINK" in single and single.count(b"Line\nBreak Trading") == 1
    if encoding in BAD_BYTES:
        assert single.count(b"holds a NUL character") == 1
        assert single.count(b"is not valid utf-8") == (encoding == "utf-8")


def test_a_name_repeated_across_the_file_is_screened_once_per_worker(app: Flask, tmp_path: Path,
                                                                      scheduler: str) -> None:
    source = tmp_path / "repeated.csv"
    # Names no other test screens: the workers' memo outlives a run (and the module's tests share the cluster).
    names = [f"Repeated Customer {chr(65 + k)}" for k in range(5)]
    source.write_text(as_csv([HEADER] + [[f"c{i}", names[i % 5], "person", ""] for i in range(600)]), "utf-8")
    result = bulk(source, tmp_path / "out.csv", "--dask", scheduler, "--partition-rows", "25")
    assert result.exit_code == 0, result.output
    found = re.search(r"dask: (\d+) partitions on 2 workers; (\d+) names screened", result.output)
    assert found and found.group(1) == "24", result.output
    assert 5 <= int(found.group(2)) <= 10, result.output  # 5 distinct names, at most once on each worker
    again = bulk(source, tmp_path / "again.csv", "--dask", scheduler, "--partition-rows", "25")
    screened_again = re.search(r"; (\d+) names screened", again.output)
    assert screened_again, again.output
    # The workers remember them: across both runs still at most once on each worker.
    assert int(found.group(2)) + int(screened_again.group(1)) <= 10, (result.output, again.output)


def test_parquet_in_and_out(app: Flask, tmp_path: Path, scheduler: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [row for row in customers() if len(row) == len(HEADER)]  # a Parquet row has every column
    table = pa.table({name: [row[i] for row in rows] for i, name in enumerate(HEADER)})
    folder = tmp_path / "parquet"
    folder.mkdir()
    pq.write_table(table.slice(0, 30), folder / "a.parquet", row_group_size=7)  # row groups cut into partitions
    pq.write_table(table.slice(30), folder / "b.parquet", row_group_size=100)
    source = tmp_path / "customers.csv"
    source.write_text(as_csv([HEADER] + rows), "utf-8")
    single = tmp_path / "single.csv"
    assert bulk(source, single, "--processes", "1").exit_code == 0
    for given in (folder, tmp_path / "parquet" / "*.parquet"):
        result = bulk(given, tmp_path / "dask.csv", "--dask", scheduler, "--partition-rows", "4")
        assert result.exit_code == 0, result.output
        assert (tmp_path / "dask.csv").read_bytes() == single.read_bytes(), given
    result = bulk(folder, tmp_path / "dask.parquet", "--dask", scheduler, "--partition-rows", "4")
    assert result.exit_code == 0, result.output
    back = pq.read_table(tmp_path / "dask.parquet")
    expected = list(csv.reader(io.StringIO(single.read_bytes().decode("utf-8"), newline="")))
    assert back.column_names == expected[0]
    assert [list(row.values()) for row in back.to_pylist()] == expected[1:]


def test_a_folder_of_csv_files_is_one_input(app: Flask, tmp_path: Path, scheduler: str) -> None:
    rows = [row for row in customers() if len(row) == len(HEADER)]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "1.csv").write_text(as_csv([HEADER] + rows[:40]), "utf-8")
    (folder / "2.csv").write_text(as_csv([HEADER] + rows[40:]), "utf-8")
    whole = tmp_path / "whole.csv"
    whole.write_text(as_csv([HEADER] + rows), "utf-8")
    assert bulk(whole, tmp_path / "single.csv", "--processes", "1").exit_code == 0
    result = bulk(folder, tmp_path / "dask.csv", "--dask", scheduler, "--partition-rows", "6")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()


def test_the_list_is_scattered_when_the_workers_have_no_cache_file(app: Flask, tmp_path: Path, scheduler: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCREENING_INDEX_CACHE_DIR", "off")
    source = tmp_path / "customers.csv"
    source.write_text(as_csv([HEADER] + customers(40)), "utf-8")
    single, on_dask = single_and_dask(app, source, tmp_path, scheduler)
    assert on_dask == single


def test_a_local_cluster(app: Flask, tmp_path: Path) -> None:
    source = tmp_path / "customers.csv"
    source.write_text(as_csv([HEADER] + customers(40)), "utf-8")
    assert bulk(source, tmp_path / "single.csv", "--processes", "1").exit_code == 0
    result = bulk(source, tmp_path / "dask.csv", "--dask", "local", "--processes", "1")
    assert result.exit_code == 0, result.output
    assert "1 partitions on 1 workers" in result.output, result.output
    assert (tmp_path / "dask.csv").read_bytes() == (tmp_path / "single.csv").read_bytes()


def test_input_refused_up_front_writes_nothing(app: Flask, tmp_path: Path, scheduler: str) -> None:
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(UNCLOSED)
    result = CliRunner().invoke(main, ["bulk", str(source), str(target), "--dask", scheduler])
    assert result.exit_code == 2, result.output
    assert "refused (file): line 3: a quoted field opened there is never closed" in result.output, result.output
    result = CliRunner().invoke(main, ["bulk", str(tmp_path / "none-*.csv"), str(target), "--dask", scheduler])
    assert result.exit_code == 2 and "no input file" in result.output, result.output
    assert not target.exists() and audited(app) == []


def test_a_bad_scheduler_address_is_a_clear_error(app: Flask, tmp_path: Path) -> None:
    import dask

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("name\r\nGao Yan\r\n", "utf-8")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = CliRunner().invoke(main, ["bulk", str(source), str(target), "--dask", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1, result.output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output, result.output
    assert not target.exists()


def test_without_the_extra_the_error_says_what_to_install(app: Flask, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed now raises ImportError
    source = tmp_path / "in.csv"
    source.write_text("name\r\nGao Yan\r\n", "utf-8")
    result = CliRunner().invoke(main, ["bulk", str(source), str(tmp_path / "out.csv"), "--dask", "local"])
    assert result.exit_code == 1 and "pip install 'screening[dask]'" in result.output, result.output


def test_the_single_machine_path_never_imports_dask(app: Flask, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("name\r\nGao Yan\r\n", "utf-8")
    code = ("import sys; from click.testing import CliRunner; from screening.cli import main; "
            f"r = CliRunner().invoke(main, ['bulk', {str(source)!r}, {str(tmp_path / 'out.csv')!r}, "
            "'--processes', '1']); assert r.exit_code == 0, r.output; "
            "assert not [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed', 'pyarrow', 'pandas')]")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert codecs.decode((tmp_path / "out.csv").read_bytes(), "utf-8").startswith("name,match_count")
