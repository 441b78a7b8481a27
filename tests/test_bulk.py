"""Bulk CSV: encodings, delimiters, bad rows reported in place, refusals up front, order kept, CLI and HTTP."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient

from bench.bulk_file import rows as customer_rows
from screening.bulk import RESULT_COLUMNS
from tests.test_api import assert_problem

HEADER = ["customer_id", "name", "type"]


def _csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue()


def post_csv(client: FlaskClient, headers: dict, body: bytes, **params: str):  # type: ignore[no-untyped-def, type-arg]
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.post(f"/v1/screen/csv?{query}", data=body, content_type="text/csv", headers=headers)


def test_exact_output_with_bad_rows_in_place(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    body = _csv([HEADER, ["1", "Chen Quanguo", "person"], ["2", "", "person"], ["3", "Hikvision"],
                 ["4", "John Smith", "person", "extra"], ["5", "Acme Trading LLC", "robot"],
                 ["6", "Gao Yan", "person"]]).encode()
    r = post_csv(client, screener, body, id_column="customer_id", type_column="type")
    assert r.status_code == 200, r.text
    assert r.mimetype == "text/csv" and r.headers["X-List-Version"] == "1"
    sources = "diplomat-2020-07; wsj-2018-08-29; nyt-2020-07-09; treasury-sm1055; ofac-sdn"
    assert r.get_data(as_text=True) == _csv([
        HEADER + RESULT_COLUMNS,
        ["1", "Chen Quanguo", "person", "1", "chen-quanguo", "CHEN, Quanguo", "1.000", "designated", sources, ""],
        ["2", "", "person", "", "", "", "", "", "", "name is blank"],
        ["3", "Hikvision", "", "", "", "", "", "", "", "row has 2 fields, the header has 3"],
        ["4", "John Smith", "person", "", "", "", "", "", "", "row has 4 fields, the header has 3"],
        ["5", "Acme Trading LLC", "robot", "", "", "", "", "", "", "type 'robot' is not person, organization or any"],
        ["6", "Gao Yan", "person", "1", "gao-yan", "GAO, Yan", "1.000", "designated", "diplomat-2020-07; ofac-sdn", ""],
    ])


@pytest.mark.parametrize("encoding, delimiter", [("utf-8", ","), ("utf-8-sig", ";"), ("utf-16", "\t"),
                                                 ("latin-1", ";"), ("cp1252", ",")])
def test_encodings_and_delimiters(client: FlaskClient, screener: dict, encoding: str, delimiter: str) -> None:  # type: ignore[type-arg]
    rows = [HEADER, ["1", "José Müller García", "person"], ["2", "Zhu Hailun", "person"],
            ["3", "Société Générale", "organization"]]
    r = post_csv(client, screener, _csv(rows, delimiter).encode(encoding))
    assert r.status_code == 200, r.text
    out = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert [row[1] for row in out[1:]] == ["José Müller García", "Zhu Hailun", "Société Générale"], (encoding, out)
    assert out[2][4] == "zhu-hailun"


def test_charset_parameter(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    body = _csv([["name"], ["Müller"]]).encode("latin-1")
    out = post_csv(client, screener, body, charset="latin-1").get_data(as_text=True)
    assert "Müller" in out
    assert_problem(post_csv(client, screener, body, charset="klingon"), 400)


def test_quoted_newlines_and_multipart(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    body = _csv([["name", "note"], ["Gao Yan", "line one\nline two"], ["Li Wei", "x"]]).encode()
    r = client.post("/v1/screen/csv", data={"file": (io.BytesIO(body), "c.csv")}, headers=screener)
    out = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert out[1][:3] == ["Gao Yan", "line one\nline two", "1"] and out[2][2] == "0", out


def test_refusals_up_front(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    problem = assert_problem(post_csv(client, screener, b"customer,country\r\nA,US\r\n"), 400)
    assert problem["errors"][0]["field"] == "name_column" and "customer" in problem["detail"], problem
    problem = assert_problem(post_csv(client, screener, bytes(range(256)) * 50), 400)
    assert problem["errors"][0]["field"] == "file", problem
    assert_problem(post_csv(client, screener, b""), 400)
    assert_problem(post_csv(client, screener, b"name\r\nx\r\n", threshold="2"), 400)
    assert_problem(client.post("/v1/screen/csv", data=b"name\r\nx\r\n", content_type="text/csv"), 401)


def test_size_limit_is_413(app, client: FlaskClient, screener: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    app.config["MAX_CSV_BYTES"] = 100
    assert_problem(post_csv(client, screener, b"name\r\n" + b"Gao Yan\r\n" * 100), 413)


def test_rows_are_audited_with_their_reference(app, client: FlaskClient, screener: dict) -> None:  # type: ignore[no-untyped-def, type-arg]
    from sqlalchemy import select

    from screening.models import AuditEvent

    post_csv(client, screener, _csv([HEADER, ["c-1", "Gao Yan", "person"], ["c-2", "", ""]]).encode(),
             id_column="customer_id").get_data()
    with app.extensions["db_sessionmaker"]() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "screening")).all()
    assert [(e.reference, e.action) for e in events] == [("c-1", "bulk-row")]
    assert events[0].actor == "analyst" and events[0].data["matches"][0]["entry_id"] == "gao-yan"


def test_twenty_thousand_rows_come_back_complete_and_in_order(client: FlaskClient, screener: dict,
                                                              tmp_path: Path) -> None:  # type: ignore[type-arg]
    rows = customer_rows(20_000)
    body = _csv([["customer_id", "name", "type", "country"]] + rows).encode()
    r = post_csv(client, screener, body, id_column="customer_id", type_column="type")
    assert r.status_code == 200
    out = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert len(out) == 20_001
    assert [row[0] for row in out[1:]] == [row[0] for row in rows]
    errors = [row for row in out[1:] if row[-1]]
    assert errors and all(row[4] == "" for row in errors)
    assert sum(1 for row in out[1:] if row[5] == "chen-quanguo") > 10


def test_cli_bulk(app, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from screening.cli import main

    monkeypatch.setenv("SCREENING_DATABASE_URL", app.config["DATABASE_URL"])
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    rows = customer_rows(3000, seed=4)
    source.write_text(_csv([["customer_id", "name", "type", "country"]] + rows), encoding="utf-16")
    result = CliRunner().invoke(main, ["bulk", str(source), str(target), "--type-column", "type", "--id-column",
                                       "customer_id", "--processes", "2"])
    assert result.exit_code == 0, result.output
    out = list(csv.reader(target.open(encoding="utf-8", newline="")))
    assert [row[0] for row in out[1:]] == [row[0] for row in rows]
    assert out[0][-7:] == RESULT_COLUMNS
    from sqlalchemy import func, select

    from screening.models import AuditEvent

    with app.extensions["db_sessionmaker"]() as session:  # every screened row audited, each once
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "bulk-row"))
        references = set(session.scalars(select(AuditEvent.reference).where(AuditEvent.action == "bulk-row")))
    screened = [row[0] for row in out[1:] if not row[-1]]
    assert audited == len(screened) and references == set(screened), (audited, len(screened))
    refused = CliRunner().invoke(main, ["bulk", str(source), str(target), "--name-column", "nom"])
    assert refused.exit_code == 2 and "nom" in refused.output


def test_a_repeated_name_is_screened_once_and_answered_everywhere(monkeypatch: pytest.MonkeyPatch) -> None:
    from screening import bulk

    monkeypatch.setattr(bulk, "CHUNK_ROWS", 3)
    monkeypatch.setattr(bulk, "CACHE_NAMES", 4)  # the memo also starts afresh along the way
    names = ["Ann", "Bob", "Ann", "Cy", "Bob", "Ann", "Dee", "Eve", "Ann", "Fay", "Gus", "Bob", "Ann"]
    rows = [[f"r{i}", name] for i, name in enumerate(names)]
    sent: list[list[tuple[str, str]]] = []

    def screen_chunks(chunks):  # type: ignore[no-untyped-def]
        for queries in chunks:
            sent.append(queries)
            yield [[(f"entry-{name.lower()}", 0.9)] for name, _ in queries]

    options = bulk.BulkOptions()
    columns = bulk.resolve_columns(["id", "name"], options)
    counters = bulk.Counters()
    entries = {f"entry-{n.lower()}": {"names": [{"name": n, "kind": "primary"}], "citations": [], "status": "designated"}
               for n in set(names)}
    chunks = list(bulk.screen_rows(["id", "name"], rows, columns, options, entries, counters, screen_chunks))
    out = [row for chunk in chunks[1:] for row in chunk]
    assert [row[0] for row in out] == [row[0] for row in rows]
    assert [row[3] for row in out] == [f"entry-{n.lower()}" for n in names], out
    sent_names = [name for queries in sent for name, _ in queries]
    assert len(sent_names) < len(names) and sent_names.count("Ann") <= 2, sent  # at most once per memo generation
    assert all(len(set(queries)) == len(queries) for queries in sent), sent


GAO_YAN = 'gao-yan,"GAO, Yan",1.000,designated,diplomat-2020-07; ofac-sdn'
RESULT_HEADER = ",".join(RESULT_COLUMNS)


def test_formula_cells_come_back_neutralised_from_the_stream_jobs_and_the_cli(
        app: Flask, client: FlaskClient, screener: dict[str, str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from screening import jobs
    from screening.cli import main

    body = ('customer_id,name,@note\r\n'
            '"=HYPERLINK(""http://evil.invalid/"",""x"")",Gao Yan,+1\r\n'
            "-2,@SUM(A1),'=already\r\n"
            '3,\tGao Yan,"\r=cmd"\r\n'
            "4,'plain,ok\r\n"
            "5,Li Wei,'\r\n").encode()
    expected = (f"customer_id,name,'@note,{RESULT_HEADER}\r\n"
                f'"\'=HYPERLINK(""http://evil.invalid/"",""x"")",Gao Yan,\'+1,1,{GAO_YAN},\r\n'
                "'-2,'@SUM(A1),''=already,0,,,,,,\r\n"
                f'3,\'\tGao Yan,"\'\r=cmd",1,{GAO_YAN},\r\n'
                "4,'plain,ok,0,,,,,,\r\n"
                "5,Li Wei,',0,,,,,,\r\n")
    r = post_csv(client, screener, body, id_column="customer_id")
    assert r.status_code == 200, r.text
    assert r.get_data(as_text=True) == expected

    r = client.post("/v1/jobs?id_column=customer_id", data=body, content_type="text/csv", headers=screener)
    assert r.status_code == 202, r.text
    assert jobs.run_pending(app) == 1
    assert jobs.result_path(app, r.get_json()["job_id"]).read_bytes().decode("utf-8") == expected

    monkeypatch.setenv("SCREENING_DATABASE_URL", app.config["DATABASE_URL"])
    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_bytes(body)
    result = CliRunner().invoke(main, ["bulk", str(source), str(target), "--id-column", "customer_id",
                                       "--processes", "1"])
    assert result.exit_code == 0, result.output
    assert target.read_bytes().decode("utf-8") == expected


@pytest.mark.parametrize("value", ["=1+2", "+1", "-1", "@A1", "\tx", "\rx", "'=1", "''-1", "'", "'x", "x'=", "", "a=b",
                                   "GAO, Yan", "0.812"])
def test_neutralised_cells_give_back_their_value(value: str) -> None:
    from screening.bulk import neutralise, original_value

    written = neutralise(value)
    assert original_value(written) == value, (value, written)
    assert written[:1] not in ("=", "+", "-", "@", "\t", "\r"), written
    assert (written != value) == (value.lstrip("'")[:1] in ("=", "+", "-", "@", "\t", "\r")), (value, written)


UNCLOSED = (b'customer_id,name\r\n1,Gao Yan\r\n2,"Li Wei\r\n'
            + b"".join(b"%d,Customer %d\r\n" % (i, i) for i in range(3, 20_003)))  # 20,000 lines, over 128 KB


def test_a_quote_never_closed_is_refused_naming_its_line(app: Flask, client: FlaskClient,
                                                         screener: dict[str, str]) -> None:
    from sqlalchemy import func, select

    from screening import jobs
    from screening.models import AuditEvent, Job

    message = "line 3: a quoted field opened there is never closed"
    problem = assert_problem(post_csv(client, screener, UNCLOSED), 400)
    assert problem["errors"] == [{"field": "file", "line": 3, "message": message}], problem
    assert message in problem["detail"], problem
    # as a job (it used to be a 500): the same refusal when it is created, nothing queued, no file left
    before = set(jobs.jobs_dir(app).iterdir())  # the folder is shared by the whole test session
    problem = assert_problem(client.post("/v1/jobs", data=UNCLOSED, content_type="text/csv", headers=screener), 400)
    assert problem["errors"] == [{"field": "file", "line": 3, "message": message}], problem
    assert set(jobs.jobs_dir(app).iterdir()) == before
    # a quote that runs to the end of a short file (no field limit reached) is found at the end
    problem = assert_problem(post_csv(client, screener, b'name\r\nGao Yan\r\n"Li Wei\r\nZhu Hailun\r\n'), 400)
    assert problem["errors"][0]["line"] == 3, problem
    # a quote opened on a later line of a record that began on a quoted newline
    body = b'name,note\r\nGao Yan,"two\r\nlines"\r\nLi Wei,"open\r\nZhu Hailun,x\r\n'
    assert assert_problem(post_csv(client, screener, body), 400)["errors"][0]["line"] == 4
    with app.extensions["db_sessionmaker"]() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "screening")) == 0
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_quote_never_closed_after_the_first_chunk_ends_the_stream_with_an_error_row(
        app: Flask, client: FlaskClient, screener: dict[str, str], caplog: pytest.LogCaptureFixture) -> None:
    from sqlalchemy import func, select

    from screening.models import AuditEvent

    good = [[f"c-{i}", "Gao Yan" if i == 1 else f"Customer Number {i}"] for i in range(1, 601)]
    body = _csv([["customer_id", "name"]] + good).encode() + b'c-601,"Li Wei\r\n' + b"c-x,Someone\r\n" * 20_000
    with caplog.at_level("WARNING", logger="screening.bulk"):
        r = post_csv(client, screener, body, id_column="customer_id")
        text = r.get_data(as_text=True)
    assert r.status_code == 200
    lines = text.split("\r\n")
    assert len(lines) == 1 + 600 + 1 + 1 and lines[-1] == "", lines[-3:]  # header, 600 rows, the error row, ""
    assert lines[1] == f"c-1,Gao Yan,1,{GAO_YAN},", lines[1]
    message = "line 602: a quoted field opened there is never closed; the rest of the file was not screened"
    assert lines[-2] == ",,,,,,,," + message, lines[-2]
    assert any(message in record.getMessage() for record in caplog.records), caplog.records
    with app.extensions["db_sessionmaker"]() as session:
        audited = session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.kind == "screening"))
    assert audited == 600


def test_a_failure_mid_stream_ends_it_with_an_error_row(client: FlaskClient, screener: dict[str, str],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from screening import store

    def unreachable(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database unreachable")

    monkeypatch.setattr(store, "record_audit_batch", unreachable)
    r = post_csv(client, screener, b"name\r\nGao Yan\r\n")
    assert r.status_code == 200
    assert r.get_data(as_text=True) == (
        f"name,{RESULT_HEADER}\r\n,,,,,,,the server failed here; the rest of the file was not screened\r\n")


@pytest.mark.parametrize("body", [
    "name\r\nJosé Müller\r\n".encode("latin-1"),
    "customer_id,name\r\n1,José Müller\r\n".encode("latin-1"),
    "name\r\nJosé Müller".encode("latin-1"),  # the last byte is a lone é
    "name,note\r\nFrançois Lefèvre,€ 5 – “quoted”\r\nBjörk Guðmundsdóttir,x\r\n".encode("cp1252"),
])
def test_a_short_western_file_is_read_as_cp1252(client: FlaskClient, screener: dict[str, str], body: bytes) -> None:
    r = post_csv(client, screener, body)
    assert r.status_code == 200, r.text
    assert r.headers["X-Input-Encoding"] == "cp1252"
    out = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert [row[:-7] for row in out[1:]] == [row for row in csv.reader(io.StringIO(body.decode("cp1252")))][1:], out
    assert all(row[-1] == "" for row in out[1:]), out


@pytest.mark.parametrize("text, encoding", [
    ("name,type\r\nВладимир Путин,person\r\nСергей Лавров,person\r\nРоснефть,organization\r\n", "cp1251"),
    ("name\r\n陈全国\r\n华为技术有限公司\r\n中国人民解放军\r\n", "gbk"),
])
def test_other_scripts_are_still_detected(client: FlaskClient, screener: dict[str, str], text: str,
                                          encoding: str) -> None:
    r = post_csv(client, screener, text.encode(encoding))
    assert r.status_code == 200, r.text
    out = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert [row[0] for row in out[1:]] == [line.split(",")[0] for line in text.splitlines()[1:]], out


def test_rows_not_valid_in_the_encoding_get_an_error_and_the_rest_is_screened(client: FlaskClient,
                                                                               screener: dict[str, str]) -> None:
    body = ("name\r\nJosé Martí\r\n".encode() + "Jürgen Müller\r\n".encode("latin-1")
            + "Gao Yan\r\nZoë Ñúñez\r\n".encode())
    r = post_csv(client, screener, body)
    assert r.status_code == 200, r.text
    assert r.headers["X-Input-Encoding"] == "utf-8"
    assert r.get_data(as_text=True) == (f"name,{RESULT_HEADER}\r\n"
                                        "José Martí,0,,,,,,\r\n"
                                        "J\ufffdrgen M\ufffdller,,,,,,,line 3 is not valid utf-8\r\n"
                                        f"Gao Yan,1,{GAO_YAN},\r\n"
                                        "Zoë Ñúñez,0,,,,,,\r\n")


BAD_CHARSETS = ["hex", "rot13", "base64", "zlib", "bz2", "uu", "quopri", "idna", "punycode", "undefined", "utf-8%00",
                "klingon"]


def test_a_charset_that_is_not_a_text_encoding_is_refused(client: FlaskClient, screener: dict[str, str]) -> None:
    for charset in BAD_CHARSETS:
        for path in ("/v1/screen/csv", "/v1/jobs"):
            r = client.post(f"{path}?charset={charset}", data=b"name\r\nGao Yan\r\n", content_type="text/csv",
                            headers=screener)
            problem = assert_problem(r, 400)
            assert [e["field"] for e in problem["errors"]] == ["charset"], (charset, path, problem)
    assert post_csv(client, screener, "name\r\nMüller\r\n".encode("utf-16-le"), charset="utf-16-le").status_code == 200


def test_nul_and_lone_surrogates_give_their_row_an_error_and_are_never_stored(
        app: Flask, client: FlaskClient, screener: dict[str, str]) -> None:
    from sqlalchemy import select

    from screening import jobs
    from screening.models import AuditEvent

    body = (codecs.BOM_UTF8 + b"customer_id,name\r\n"
            b"c-1,Gao\x00Yan\r\n"  # NUL in the name
            b"c\x00-2,Gao Yan\r\n"  # NUL in another field (the audit reference)
            b"c-3,Gao \xed\xa0\x80Yan\r\n"  # a surrogate encoded in UTF-8: not valid UTF-8
            b"c-4,Gao Yan\r\n")
    expected = (f"customer_id,name,{RESULT_HEADER}\r\n"
                "c-1,Gao\ufffdYan,,,,,,,line 2 holds a NUL character\r\n"
                "c\ufffd-2,Gao Yan,,,,,,,line 3 holds a NUL character\r\n"
                "c-3,Gao \ufffd\ufffd\ufffdYan,,,,,,,line 4 is not valid utf-8\r\n"
                f"c-4,Gao Yan,1,{GAO_YAN},\r\n")
    r = post_csv(client, screener, body, id_column="customer_id")
    assert r.status_code == 200, r.text
    assert r.get_data(as_text=True) == expected
    r = client.post("/v1/jobs?id_column=customer_id", data=body, content_type="text/csv", headers=screener)
    assert r.status_code == 202, r.text
    assert jobs.run_pending(app) == 1
    status = client.get(r.get_json()["status_url"], headers=screener).get_json()
    assert status["status"] == "done", status
    assert jobs.result_path(app, status["job_id"]).read_bytes().decode() == expected

    utf16 = "name\r\nGao Yan\r\nGao ".encode("utf-16") + b"\x00\xd8" + "Yan\r\n".encode("utf-16-le")  # unpaired
    out = post_csv(client, screener, utf16).get_data(as_text=True)
    assert out.splitlines()[-1] == "Gao \ufffd\ufffdYan,,,,,,,line 3 is not valid utf-16", out
    escaped = post_csv(client, screener, b"name\r\nGao \\ud800Yan\r\n", charset="unicode_escape").get_data(as_text=True)
    assert escaped.splitlines()[-1] == "Gao \ufffdYan,,,,,,,line 2 holds a lone surrogate (U+D800)", escaped

    with app.extensions["db_sessionmaker"]() as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "screening")).all()
    audited = sorted((str(e.reference), e.data["query"]) for e in events)  # the stream's, the job's, the UTF-16 file's
    assert audited == [("None", "Gao Yan"), ("c-4", "Gao Yan"), ("c-4", "Gao Yan")], audited
