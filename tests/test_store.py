"""List versions on SQLite and PostgreSQL: immutable versions, one moving pointer, idempotent loads."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from screening import store
from screening.listfile import Entry, load_list_file
from screening.models import AuditEvent, EntryRevision, ListHead, ListVersion


def _session(app: Flask):  # type: ignore[no-untyped-def]
    return app.extensions["db_sessionmaker"]()


def test_first_load_makes_version_one_and_moves_the_head(empty_app: Flask) -> None:
    with _session(empty_app) as session:
        assert store.current_version(session) is None
        result = store.publish_document(session, load_list_file(), actor="tests")
        session.commit()
        assert (result.version, result.created) == (1, True)
        assert session.scalar(select(ListHead.current_version)) == 1
        assert len(store.version_entries(session, 1)) == 9
        assert "9 added" in result.summary


def test_loading_the_same_list_twice_makes_no_new_version(app: Flask) -> None:
    with _session(app) as session:
        result = store.publish_document(session, load_list_file(), actor="tests")
        session.commit()
        assert (result.version, result.created) == (1, False)
        assert session.scalar(select(func.count()).select_from(ListVersion)) == 1


def test_a_change_is_a_new_version_and_the_old_one_is_untouched(app: Flask) -> None:
    document = load_list_file()
    changed = document.entries[0].canonical()
    changed["names"].append({"name": "Chen Quan Guo", "kind": "weak"})
    document.entries[0] = Entry.model_validate(changed)
    with _session(app) as session:
        result = store.publish_document(session, document, actor="editor", summary="add a weak alias")
        session.commit()
        assert (result.version, result.created) == (2, True)
        assert "1 changed" in result.summary
        old = store.version_entry(session, 1, "chen-quanguo")
        new = store.version_entry(session, 2, "chen-quanguo")
        assert len(new["names"]) == len(old["names"]) + 1
        # Unchanged entries share their revision: 9 revisions from v1, 1 more from v2.
        assert session.scalar(select(func.count()).select_from(EntryRevision)) == 10
        assert store.current_version(session) == 2
        events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "list").order_by(AuditEvent.id)).all()
        assert [e.list_version for e in events] == [1, 2]
        assert events[-1].actor == "editor" and events[-1].data["changed"] == ["chen-quanguo"]


def test_removed_entry_stays_in_its_old_version(app: Flask) -> None:
    document = load_list_file()
    document.entries = [e for e in document.entries if e.id != "gao-yan"]
    with _session(app) as session:
        store.publish_document(session, document, actor="tests")
        session.commit()
        assert store.version_entry(session, 2, "gao-yan") is None
        assert store.version_entry(session, 1, "gao-yan") is not None


def test_optimistic_check_refuses_a_stale_writer(app: Flask) -> None:
    import pytest

    with _session(app) as session:
        with pytest.raises(store.VersionConflict):
            store.publish_document(session, load_list_file(), actor="tests", expected_version=0, check_expected=True)


def test_republishing_a_stored_version_changes_nothing(app: Flask) -> None:
    with _session(app) as session:
        entries = store.version_entries(session, 1)
        sources = list(store.version_sources(session, 1).values())
        result = store.publish(session, entries, sources, actor="tests")
        assert result.created is False
