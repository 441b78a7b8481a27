"""Fixtures: a fresh app and database per test, on SQLite and on a real PostgreSQL cluster."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from screening import create_app, store
from screening.auth import create_key
from screening.db import dispose, upgrade
from screening.listfile import load_list_file
from tests.pgcluster import Cluster, start_cluster

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_configure(config: pytest.Config) -> None:
    # Registered here (--strict-markers): `-m "not browser"` runs the suite without chromium.
    config.addinivalue_line("markers", "browser: drives Debian's chromium (tests/test_ui_browser.py)")


@pytest.fixture(scope="session", autouse=True)
def service_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Built match indexes and job files go to temporary directories shared by the session (apps, the CLI, gunicorn
    children), not to the repository's instance folder. Index files are content-addressed and job files named by
    job id, so sharing never mixes two tests' data."""
    home = tmp_path_factory.mktemp("service")
    wanted = {"SCREENING_INDEX_CACHE_DIR": str(home / "index-cache"), "SCREENING_JOBS_DIR": str(home / "jobs")}
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    yield home
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def refuse_index_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    """From here on, building a Matcher fails the test: what follows must load the index from the snapshot cache."""
    from screening.matching import Matcher

    def refuse(self: Matcher, entries: object) -> None:
        raise AssertionError("the index was built although the snapshot cache holds it")

    monkeypatch.setattr(Matcher, "__init__", refuse)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster | None]:
    cluster = start_cluster()
    if cluster is None and IN_CI:
        pytest.fail("PostgreSQL server binaries not found (pg_config --bindir); under CI=true this is a failure")
    yield cluster
    if cluster is not None:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    cluster: Cluster | None = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL not available on this machine")
    name = cluster.create_database()
    yield cluster.url(name)
    cluster.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


def make_app(url: str, **config: object) -> Flask:
    upgrade(url)
    return create_app({"DATABASE_URL": url, "LIST_POLL_SECONDS": 0.0, "TESTING": True, **config})


@pytest.fixture
def empty_app(db_url: str) -> Iterator[Flask]:
    app = make_app(db_url)
    yield app
    dispose(app)


@pytest.fixture
def app(empty_app: Flask) -> Flask:
    with empty_app.extensions["db_sessionmaker"]() as session:
        store.publish_document(session, load_list_file(), actor="tests", action="load-list")
        session.commit()
    return empty_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _key(app: Flask, role: str, label: str) -> str:
    with app.extensions["db_sessionmaker"]() as session:
        key = create_key(session, role=role, label=label)
        session.commit()
    return key


@pytest.fixture
def screener(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(app, 'screener', 'analyst')}"}


@pytest.fixture
def admin(app: Flask) -> dict[str, str]:
    return {"Authorization": f"Bearer {_key(app, 'admin', 'ops')}"}
