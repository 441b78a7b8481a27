"""Admin list changes on SQLite and PostgreSQL: imports, edits, delisting, versions, diff, restore, audit."""

from __future__ import annotations

import functools
import io
import json
import random
import struct
import threading
import time
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.test_api import assert_problem

DATA = Path(__file__).parent / "data"
OFAC_FILES = {"sdn": "sdn.csv", "alt": "alt.csv", "add": "add.csv", "comments": "sdn_comments.csv"}


def ofac_multipart() -> dict[str, tuple[io.BytesIO, str]]:
    return {part: (io.BytesIO((DATA / "ofac" / name).read_bytes()), name) for part, name in OFAC_FILES.items()}


def screen(client: FlaskClient, headers: dict, name: str, **extra: object) -> list[str]:  # type: ignore[type-arg]
    r = client.post("/v1/screen", json={"name": name, **extra}, headers=headers)
    assert r.status_code == 200, r.text
    return [m["entry_id"] for m in r.get_json()["matches"]]


def test_ofac_import_merges_and_is_screened(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/lists/import?format=ofac-csv&mode=merge", data=ofac_multipart(), headers=admin)
    assert r.status_code == 200, r.text
    body = r.get_json()
    assert body["list_version"] == 2 and body["entries"] == 4 and body["created"] is True
    assert screen(client, admin, "Ilyas Korvald")[0] == "ofac-90001"
    assert screen(client, admin, "Zephyr Maritime Trading")[0] == "ofac-90002"
    assert screen(client, admin, "Chen Quanguo")[0] == "chen-quanguo"  # merge keeps the built-in list
    entry = client.get("/v1/entries/ofac-90004", headers=admin).get_json()
    assert entry["nationalities"] == ["SY"] and entry["birth_places"] == ["Aleppo, Syria"]
    assert entry["birth_dates"] == ["1965"]
    assert {"name": "ABU YUSUF", "kind": "weak", "source": "ofac-sdn-import"} in entry["names"]
    assert {"kind": "Digital Currency Address - XBT", "value": "1FooBarExample123",
            "source": "ofac-sdn-import"} in entry["identifiers"]  # Remarks continued in sdn_comments.csv
    vessel = client.get("/v1/entries/ofac-90003", headers=admin).get_json()
    assert vessel["type"] == "vessel" and any(i["value"] == "9VAB2" for i in vessel["identifiers"])


def test_ofac_import_from_one_zip_replaces_the_list(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in OFAC_FILES.values():
            archive.writestr(f"export/{name.upper()}", (DATA / "ofac" / name).read_bytes())
    r = client.post("/v1/lists/import?format=ofac-csv&mode=replace", data=buffer.getvalue(),
                    content_type="application/zip", headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/v1/entries", headers=admin).get_json()["total"] == 4
    assert screen(client, admin, "Chen Quanguo") == []


def test_malformed_import_is_refused_whole_and_changes_nothing(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    sdn = (DATA / "ofac" / "sdn.csv").read_bytes() + b'abc,"BROKEN ROW","individual"\r\n90001,"DUPLICATE",-0- ,"SDGT",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n'
    r = client.post("/v1/lists/import?format=ofac-csv&mode=merge", headers=admin,
                    data={"sdn": (io.BytesIO(sdn), "sdn.csv")})
    problem = assert_problem(r, 422)
    lines = {(e["location"], e["field"]) for e in problem["errors"]}
    assert ("sdn.csv line 5", "(row)") in lines and ("sdn.csv line 6", "ent_num") in lines, problem
    assert client.get("/readyz").get_json()["list_version"] == 1
    assert screen(client, admin, "Ilyas Korvald") == []

    bad_ftm = b'{"id": "a", "schema": "Person", "properties": {"name": ["Ann"]}}\nnot json\n{"id": "b", "schema": "Person", "properties": {}}\n'
    problem = assert_problem(client.post("/v1/lists/import?format=ftm", data=bad_ftm, headers=admin), 422)
    assert [e["location"] for e in problem["errors"]] == ["line 2", "line 3"], problem
    assert client.get("/v1/lists/versions", headers=admin).get_json()["current"] == 1


def test_ftm_import(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    r = client.post("/v1/lists/import?format=ftm&mode=merge", headers=admin,
                    data={"file": (io.BytesIO((DATA / "ftm" / "entities.jsonl").read_bytes()), "entities.jsonl")})
    assert r.status_code == 200, r.text
    assert r.get_json()["entries"] == 5 and r.get_json()["warning_count"] == 1
    person = client.get("/v1/entries/ftm-person-1", headers=admin).get_json()
    assert person["birth_dates"] == ["1980-05-17"] and person["nationalities"] == ["RU"]
    assert person["status"] == "designated" and person["programs"] == ["RUSSIA-EO14024"]
    assert client.get("/v1/entries/ftm-org-1", headers=admin).get_json()["status"] == "restricted"
    assert screen(client, admin, "Mirela Vostrikova", type="person")[0] == "ftm-person-1"


@pytest.mark.parametrize("fmt", ["native", "ftm"])
def test_export_imports_back_unchanged(client: FlaskClient, admin: dict, fmt: str) -> None:  # type: ignore[type-arg]
    client.post("/v1/lists/import?format=ofac-csv&mode=merge", data=ofac_multipart(), headers=admin)
    exported = client.get(f"/v1/lists/export?format={fmt}", headers=admin)
    assert exported.status_code == 200 and exported.headers["X-List-Version"] == "2"
    r = client.post(f"/v1/lists/import?format={fmt}&mode=replace", data=exported.data, headers=admin)
    assert r.status_code == 200, r.text
    assert r.get_json()["created"] is False and r.get_json()["list_version"] == 2, r.get_json()


def test_entry_lifecycle_versions_diff_restore(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    read = client.get("/v1/entries/gao-yan", headers=admin)
    entry = read.get_json()
    new = {**entry, "id": "gao-yan-test-copy", "names": [{"name": "VARENKO, Tomas", "kind": "primary"}]}
    r = client.post("/v1/entries", json=new, headers=admin)
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith("/v1/entries/gao-yan-test-copy")
    assert screen(client, admin, "Tomas Varenko") == ["gao-yan-test-copy"]
    assert_problem(client.post("/v1/entries", json=new, headers=admin), 409)

    # What you read, you can send back: GET's shape, read-only fields and all.
    entry["names"].append({"name": "Gao Yen", "kind": "weak"})
    r = client.put("/v1/entries/gao-yan", json=entry, headers={**admin, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200, r.text
    assert r.headers["ETag"] == 'W/"3"'

    r = client.delete("/v1/entries/gao-yan-test-copy", headers={**admin, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200 and r.get_json()["list_version"] == 4, r.text
    assert screen(client, admin, "Tomas Varenko") == []
    assert client.get("/v1/entries/gao-yan-test-copy", headers=admin).get_json()["status"] == "delisted"

    versions = client.get("/v1/lists/versions", headers=admin).get_json()
    assert versions["current"] == 4 and [v["version"] for v in versions["versions"]] == [4, 3, 2, 1]
    assert all(v["actor"] == "ops" for v in versions["versions"][:3])

    diff = client.get("/v1/lists/versions/3/diff?against=1", headers=admin).get_json()
    assert [a["id"] for a in diff["added"]] == ["gao-yan-test-copy"]
    changed = {c["id"]: c for c in diff["changed"]}
    assert [f["field"] for f in changed["gao-yan"]["changes"]] == ["names"]

    r = client.post("/v1/lists/versions/1/restore", headers=admin)
    assert r.status_code == 200 and r.get_json()["list_version"] == 5, r.text
    assert client.get("/v1/lists/versions/5/diff?against=1", headers=admin).get_json()["changed"] == []
    assert_problem(client.get("/v1/entries/gao-yan-test-copy", headers=admin), 404)
    assert_problem(client.post("/v1/lists/versions/99/restore", headers=admin), 404)
    assert_problem(client.post(f"/v1/lists/versions/{2**70}/restore", headers=admin), 404)  # found by schemathesis
    assert_problem(client.get(f"/v1/lists/versions/1/diff?against={2**70}", headers=admin), 404)


def test_stale_if_match_is_a_conflict(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    entry = client.get("/v1/entries/hu-lianhe", headers=admin).get_json()
    client.delete("/v1/entries/gao-yan", headers={**admin, "If-Match": 'W/"1"'})  # someone else moves the list on
    problem = assert_problem(client.put("/v1/entries/hu-lianhe", json=entry, headers={**admin, "If-Match": 'W/"1"'}),
                             409)
    assert problem["list_version"] == 2


def test_invalid_entry_names_every_field(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    bad = {"id": "x", "type": "robot", "names": [], "birth_dates": ["1955-13"], "citations": []}
    problem = assert_problem(client.post("/v1/entries", json=bad, headers=admin), 422)
    fields = {e["field"] for e in problem["errors"]}
    assert {"type", "names", "birth_dates", "citations"} <= fields, problem
    unknown = {**client.get("/v1/entries/gao-yan", headers=admin).get_json(), "id": "y"}
    unknown["citations"] = [{"source_id": "nowhere", "quote": "x"}]
    problem = assert_problem(client.post("/v1/entries", json=unknown, headers=admin), 422)
    assert problem["errors"][0]["field"] == "source", problem


def test_concurrent_changes_never_lose_one_another(app: Flask, admin: dict) -> None:  # type: ignore[type-arg]
    template = app.test_client().get("/v1/entries/gao-yan", headers=admin).get_json()
    errors: list[str] = []

    def add(i: int) -> None:
        entry = {**template, "id": f"parallel-{i}", "names": [{"name": f"PARALLEL, Person {i}", "kind": "primary"}]}
        r = app.test_client().post("/v1/entries", json=entry, headers=admin)
        if r.status_code != 201:
            errors.append(r.get_data(as_text=True))

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    listing = app.test_client().get("/v1/entries?q=parallel", headers=admin).get_json()
    assert listing["total"] == 6 and listing["list_version"] == 7, listing


def test_admin_routes_need_the_admin_role(client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    for method, url in [("post", "/v1/entries"), ("put", "/v1/entries/gao-yan"), ("delete", "/v1/entries/gao-yan"),
                        ("post", "/v1/lists/import"), ("get", "/v1/lists/export"), ("get", "/v1/lists/versions"),
                        ("get", "/v1/lists/versions/1/diff"), ("post", "/v1/lists/versions/1/restore"),
                        ("get", "/v1/audit")]:
        assert_problem(getattr(client, method)(url, headers=screener), 403)
        assert_problem(getattr(client, method)(url), 401)


def test_audit_trail(client: FlaskClient, admin: dict, screener: dict) -> None:  # type: ignore[type-arg]
    assert client.delete("/v1/entries/gao-yan", headers={**admin, "If-Match": 'W/"1"'}).status_code == 200
    for i in range(3):
        client.post("/v1/screen", json={"name": "Gao Yan", "reference": f"cust-{i}"}, headers=screener)
    changes = client.get("/v1/audit?kind=list", headers=admin).get_json()["events"]
    assert [e["action"] for e in changes] == ["entry-delist", "load-list"]
    assert changes[0]["actor"] == "ops" and changes[0]["list_version"] == 2 and changes[0]["data"]["changed"] == ["gao-yan"]
    one = client.get("/v1/audit?reference=cust-1", headers=admin).get_json()["events"]
    assert len(one) == 1 and one[0]["actor"] == "analyst" and one[0]["kind"] == "screening"
    page = client.get("/v1/audit?kind=screening&limit=2", headers=admin).get_json()
    assert len(page["events"]) == 2 and page["next_cursor"]
    rest = client.get(f"/v1/audit?kind=screening&limit=2&cursor={page['next_cursor']}", headers=admin).get_json()
    assert len(rest["events"]) == 1 and rest["next_cursor"] is None
    assert client.get("/v1/audit?actor=nobody", headers=admin).get_json()["events"] == []
    assert client.get("/v1/audit?since=2999-01-01", headers=admin).get_json()["events"] == []
    assert_problem(client.get("/v1/audit?since=yesterday", headers=admin), 400)


def test_audit_times_are_utc_on_a_host_in_another_time_zone(client: FlaskClient, admin: dict,  # type: ignore[type-arg]
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import time
    from datetime import datetime, timezone

    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        before = datetime.now(timezone.utc)
        assert client.delete("/v1/entries/gao-yan", headers={**admin, "If-Match": "*"}).status_code == 200
        event = client.get("/v1/audit?kind=list", headers=admin).get_json()["events"][0]
    finally:
        monkeypatch.undo()
        time.tzset()
    written = datetime.fromisoformat(event["time"].replace("Z", "+00:00"))
    assert abs((written - before).total_seconds()) < 60, (event["time"], before)


def test_retention_prunes_old_screenings_only(app: Flask, client: FlaskClient, screener: dict) -> None:  # type: ignore[type-arg]
    from datetime import timedelta

    from sqlalchemy import select, update

    from screening.api.audit import prune_screenings
    from screening.models import AuditEvent, utcnow

    client.post("/v1/screen", json={"name": "Gao Yan"}, headers=screener)
    with app.extensions["db_sessionmaker"]() as session:
        session.execute(update(AuditEvent).values(occurred_at=utcnow() - timedelta(days=500)))
        assert prune_screenings(session, 400) == 1
        session.commit()
        kinds = session.scalars(select(AuditEvent.kind)).all()
    assert kinds == ["list"]


# --- Hardening: every refusal is a problem+json and leaves the list as it was ------------------------------------

def list_state(client: FlaskClient, admin: dict) -> tuple[int, bytes]:  # type: ignore[type-arg]
    """The current version and the whole list (its native export), to show that a refusal changed nothing."""
    version = client.get("/v1/lists/versions", headers=admin).get_json()["current"]
    exported = client.get("/v1/lists/export", headers=admin)
    assert exported.status_code == 200 and exported.headers["X-List-Version"] == str(version), exported.text
    return version, exported.data


def zip_members(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written by hand: (name, deflated data, CRC-32, stated size), so a member may state any size."""
    out, central = b"", b""
    for name, data, crc, size in members:
        raw = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw),
                               0, 0, 0, 0, 0, len(out)) + raw
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc, len(data), size, len(raw), 0) + raw + data
    return out + central + struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central),
                                       len(out), 0)


@functools.cache
def deflated_zeros(mebibytes: int) -> tuple[bytes, int]:
    """`mebibytes` MiB of zeros, deflated about 1000:1 without compressing them: after a full flush every 1 MiB
    block compresses to the same bytes, so one is repeated. With its CRC-32, as a real bomb would have."""
    zeros = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(zeros, crc)
    return first + block * (mebibytes - 1) + compressor.flush(), crc


def test_zip_bomb_is_refused_at_once_naming_the_member(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)
    data, crc = deflated_zeros(1100)  # 1.1 GiB of sdn.csv in a zip of 1.1 MB
    bombs = {"honest": zip_members([("export/SDN.CSV", data, crc, 1100 << 20)]),
             "lying": zip_members([("export/SDN.CSV", data, crc, 1000)])}  # states 1,000 bytes: not trusted
    for label, bomb in bombs.items():
        assert len(bomb) < 1_200_000
        start = time.perf_counter()
        r = client.post("/v1/lists/import?format=ofac-csv&mode=replace", data=bomb, content_type="application/zip",
                        headers=admin)
        elapsed = time.perf_counter() - start
        problem = assert_problem(r, 413 if label == "honest" else 400)
        assert problem["errors"][0]["field"] == "export/SDN.CSV", (label, problem)
        assert elapsed < 5, f"{label} bomb refused only after {elapsed:.1f} s"
        assert list_state(client, admin) == before, label


def test_zip_limits_are_settings(app: Flask, client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)
    sdn = (DATA / "ofac" / "sdn.csv").read_bytes()
    app.config.update(MAX_IMPORT_UNPACKED_BYTES=len(sdn) - 1, MAX_IMPORT_MEMBERS=3)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sdn.csv", sdn)
    url = "/v1/lists/import?format=ofac-csv&mode=merge"
    problem = assert_problem(client.post(url, data=buffer.getvalue(), content_type="application/zip", headers=admin),
                             413)
    assert problem["errors"][0]["field"] == "sdn.csv" and "SCREENING_MAX_IMPORT_UNPACKED_BYTES" in \
        problem["errors"][0]["message"], problem
    assert_problem(client.post(url, data={"sdn": (io.BytesIO(sdn), "sdn.csv")}, headers=admin), 413)  # not zipped
    with zipfile.ZipFile(buffer, "a") as archive:
        for i in range(3):
            archive.writestr(f"readme-{i}.txt", "x")
    problem = assert_problem(client.post(url, data=buffer.getvalue(), content_type="application/zip", headers=admin),
                             413)
    assert "SCREENING_MAX_IMPORT_MEMBERS" in problem["errors"][0]["message"], problem
    app.config.update(MAX_IMPORT_UNPACKED_BYTES=64 << 20, MAX_IMPORT_RATIO=50)
    data, crc = deflated_zeros(8)  # 8 MiB in 8 KB: within the size, not the ratio
    problem = assert_problem(client.post(url, data=zip_members([("sdn.csv", data, crc, 8 << 20)]),
                                         content_type="application/zip", headers=admin), 413)
    assert "SCREENING_MAX_IMPORT_RATIO" in problem["errors"][0]["message"], problem
    assert list_state(client, admin) == before


def test_zip_reading_counts_bytes_at_flat_memory() -> None:
    """The budget counts what is read, whatever the zip stated: an endless stream stops at the limit."""
    from screening.importers.archive import Budget, ImportLimits
    from screening.listfile import ListTooLarge

    class Zeros(io.RawIOBase):
        def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
            buffer[:] = bytes(len(buffer))
            return len(buffer)

    tracemalloc.start()
    try:
        with pytest.raises(ListTooLarge) as caught:
            Budget(ImportLimits(max_bytes=32 << 20)).read(Zeros(), "sdn.csv")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert caught.value.problems[0].field == "sdn.csv"
    assert peak < 80 << 20, f"peak {peak / 2**20:.0f} MiB reading a 32 MiB budget"


def test_unreadable_imports_are_400_and_change_nothing(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)
    noise = random.Random(7).randbytes(20_000)
    for fmt, body in [("ofac-csv", noise), ("ofac-csv", b"PK\x03\x04" + noise), ("native", noise), ("ftm", noise)]:
        assert_problem(client.post(f"/v1/lists/import?format={fmt}&mode=replace", data=body, headers=admin), 400)
    problem = assert_problem(client.post("/v1/lists/import?format=ofac-csv&mode=replace", headers=admin,
                                         data={"sdn": (io.BytesIO(noise), "sdn.csv")}), 400)
    assert problem["errors"][0]["location"].startswith("sdn.csv"), problem
    sdn = (DATA / "ofac" / "sdn.csv").read_bytes().replace(b"Kazan", b"Ka\x00zan")
    problem = assert_problem(client.post("/v1/lists/import?format=ofac-csv&mode=merge", headers=admin,
                                         data={"sdn": (io.BytesIO(sdn), "sdn.csv")}), 400)
    assert problem["errors"] == [{"field": "(line)", "location": "sdn.csv line 1",
                                  "message": "contains a NUL character"}], problem
    ftm = b'{"id": "a", "schema": "Person", "properties": {"name": ["Ann\\u0000"]}}\n' \
          b'{"id": "b", "schema": "Person", "properties": {"name": ["B\x00b"]}}\n' \
          b'{"id": "c", "schema": "Person", "properties": {"name": ["C\\ud800"]}}\n'
    problem = assert_problem(client.post("/v1/lists/import?format=ftm&mode=merge", data=ftm, headers=admin), 400)
    assert [(e["location"], e["field"]) for e in problem["errors"]] == [
        ("line 1", "properties.name.0"), ("line 2", "(line)"), ("line 3", "properties.name.0")], problem
    native = '{"sources": [], "entries": [{"id": "x\\u0000", "type": "person"}]}'
    problem = assert_problem(client.post("/v1/lists/import?format=native&mode=merge", data=native, headers=admin),
                             400)
    assert problem["errors"][0]["field"] == "id", problem
    assert list_state(client, admin) == before


def test_ftm_property_shapes(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)
    lines = ['{"id": "p1", "schema": "Person", "properties": "x"}',
             '{"id": "p2", "schema": "Person", "properties": {"name": ["Ann"], "birthDate": [5]}}',
             '{"id": "p3", "schema": ["Person"], "properties": {"name": ["Bo"]}}',
             '{"id": "p4", "schema": "Person", "properties": {"name": ["Cy"], "notes": ["' + "n" * 10_001 + '"]}}']
    problem = assert_problem(client.post("/v1/lists/import?format=ftm&mode=merge", data="\n".join(lines),
                                         headers=admin), 422)
    found = {(e["location"], e["field"]) for e in problem["errors"]}
    assert found == {("line 1 (p1)", "properties"), ("line 2 (p2)", "properties.birthDate"),
                     ("line 4 (p4)", "remarks")}, problem  # line 3: not a screened schema, skipped
    assert list_state(client, admin) == before
    one = '{"id": "bob-1", "schema": "Person", "properties": {"name": "Bob", "birthDate": "1970"}}\n'
    r = client.post("/v1/lists/import?format=ftm&mode=merge", data=one, headers=admin)
    assert r.status_code == 200, r.text
    bob = client.get("/v1/entries/bob-1", headers=admin).get_json()
    assert [n["name"] for n in bob["names"]] == ["Bob"] and bob["birth_dates"] == ["1970"], bob


@pytest.mark.parametrize("fmt, body", [
    ("ofac-csv", b"\r\n"), ("native", b'{"sources": [], "entries": []}'), ("ftm", b"\n"),
    ("ftm", b'{"id": "s", "schema": "Sanction", "properties": {}}\n')])
def test_a_replace_without_entries_is_refused_unless_asked_for(client: FlaskClient, admin: dict, fmt: str,
                                                               body: bytes) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)

    def post(url: str):  # type: ignore[no-untyped-def]
        data = {"sdn": (io.BytesIO(body), "sdn.csv")} if fmt == "ofac-csv" else body  # an sdn.csv of one blank line
        return client.post(url, data=data, headers=admin)

    url = f"/v1/lists/import?format={fmt}&mode=replace"
    problem = assert_problem(post(url), 422)
    assert problem["errors"][0]["field"] == "entries" and "allow_empty" in problem["errors"][0]["message"], problem
    assert list_state(client, admin) == before
    assert_problem(post(url + "&allow_empty=perhaps"), 400)
    r = post(url + "&allow_empty=true")
    assert r.status_code == 200 and r.get_json()["list_version"] == before[0] + 1, r.text
    assert client.get("/v1/entries", headers=admin).get_json()["total"] == 0


def test_entry_changes_need_if_match(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)
    entry = client.get("/v1/entries/gao-yan", headers=admin).get_json()
    for response in (client.put("/v1/entries/gao-yan", json=entry, headers=admin),
                     client.delete("/v1/entries/gao-yan", headers=admin)):
        problem = assert_problem(response, 428)
        assert problem["errors"] == [{"field": "If-Match", "message": "required"}], problem
    for bad in ("5" * 5000, "W/\"²\"", "W/\"1", "\"-1\"", "W/\"1\", W/\"2\"", ""):
        problem = assert_problem(client.put("/v1/entries/gao-yan", json=entry, headers={**admin, "If-Match": bad}), 400)
        assert problem["errors"][0]["field"] == "If-Match", (bad, problem)
    assert list_state(client, admin) == before
    r = client.put("/v1/entries/gao-yan", json=entry, headers={**admin, "If-Match": "*"})  # overwrite, said aloud
    assert r.status_code == 200 and r.headers["ETag"] == 'W/"1"', r.text  # the same content: no new version


def test_concurrent_edits_with_if_match_lose_nothing(app: Flask, admin: dict) -> None:  # type: ignore[type-arg]
    """20 admins add an alias each to one entry at once. Without If-Match every one is refused (428: before, all 20
    answered 200 and one alias survived). With it, each reads, edits, sends back, and reads again on a 409: every
    alias survives."""
    blind: list[int] = []
    template = app.test_client().get("/v1/entries/gao-yan", headers=admin).get_json()

    def put_blind(i: int) -> None:
        entry = {**template, "names": template["names"] + [{"name": f"GAO, Blind {i}", "kind": "weak"}]}
        blind.append(app.test_client().put("/v1/entries/gao-yan", json=entry, headers=admin).status_code)

    threads = [threading.Thread(target=put_blind, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blind == [428] * 20, blind
    errors: list[str] = []

    def add_alias(i: int) -> None:
        client = app.test_client()
        for _ in range(200):
            read = client.get("/v1/entries/gao-yan", headers=admin)
            entry = read.get_json()
            entry["names"].append({"name": f"GAO, Parallel {i}", "kind": "weak"})
            r = client.put("/v1/entries/gao-yan", json=entry, headers={**admin, "If-Match": read.headers["ETag"]})
            if r.status_code == 200:
                return
            if r.status_code != 409:
                errors.append(r.get_data(as_text=True))
                return
        errors.append(f"admin {i} never got its change in")

    threads = [threading.Thread(target=add_alias, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    names = {n["name"] for n in app.test_client().get("/v1/entries/gao-yan", headers=admin).get_json()["names"]}
    assert {f"GAO, Parallel {i}" for i in range(20)} <= names, sorted(names)
    assert app.test_client().get("/v1/lists/versions", headers=admin).get_json()["current"] == 21


def test_entry_text_and_dates_are_checked_alike_on_both_databases(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    before = list_state(client, admin)
    entry = client.get("/v1/entries/gao-yan", headers=admin).get_json()
    headers = {**admin, "If-Match": 'W/"1"', "Content-Type": "application/json"}
    for bad, field in [("\\u0000", "names.0.name"), ("\\ud800", "names.0.name")]:
        body = json.dumps(entry).replace('"GAO, Yan"', f'"GAO, Y{bad}an"', 1)
        assert bad in body
        problem = assert_problem(client.put("/v1/entries/gao-yan", data=body, headers=headers), 400)
        assert [e["field"] for e in problem["errors"]] == [field], problem
    for changes, field in [({"birth_dates": ["2020-02-31"]}, "birth_dates"), ({"remarks": "r" * 10_001}, "remarks")]:
        problem = assert_problem(client.put("/v1/entries/gao-yan", json={**entry, **changes}, headers=headers), 422)
        assert [e["field"] for e in problem["errors"]] == [field], problem
    assert_problem(client.put("/v1/entries/gao-yan", data="[" * 100_000, headers=headers), 400)
    assert list_state(client, admin) == before


def test_diff_against_must_be_ascii_digits(client: FlaskClient, admin: dict) -> None:  # type: ignore[type-arg]
    for bad in ("%C2%B2", "%D9%A1", "1" * 5000, "-1", "x"):
        problem = assert_problem(client.get(f"/v1/lists/versions/1/diff?against={bad}", headers=admin), 400)
        assert problem["errors"][0]["field"] == "against", problem
    assert client.get("/v1/lists/versions/1/diff?against=1", headers=admin).status_code == 200
