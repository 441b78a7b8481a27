"""The API against its own OpenAPI document, on SQLite and on PostgreSQL: schemathesis generates requests (valid
ones and ones the spec forbids) and runs all of its checks: no 5xx, status codes, content types, headers and
bodies as documented, invalid input refused, valid input accepted, authentication enforced. Bounded (a few
examples per operation) so that it fits in the suite."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from flask import Flask
from hypothesis import HealthCheck, settings

from screening import store
from screening.auth import create_key
from screening.db import dispose
from screening.listfile import load_list_file
from tests.conftest import make_app
from tests.pgcluster import Cluster
from schemathesis.checks import positive_data_acceptance


def _fuzzed_app(url: str | None = None) -> tuple[Flask, str]:
    """An app with the built-in list and an admin key; its files go to a temporary directory of its own."""
    home = tempfile.mkdtemp(prefix="screening-fuzz-")
    app = make_app(url or f"sqlite:///{home}/fuzz.db", JOBS_DIR=f"{home}/jobs", INDEX_CACHE_DIR=f"{home}/index-cache")
    with app.extensions["db_sessionmaker"]() as session:
        store.publish_document(session, load_list_file(), actor="tests")
        key = create_key(session, role="admin", label="fuzz")
        session.commit()
    return app, key


# The schema is loaded when the module is collected, before the session's fixtures (the PostgreSQL cluster among
# them): from a SQLite app. Each generated request is then sent to the app of the database under test.
FUZZED = _fuzzed_app()
schema = schemathesis.openapi.from_wsgi(
    "/openapi.json", FUZZED[0], config=SchemathesisConfig.from_path(str(Path(__file__).with_name("schemathesis.toml"))))


@pytest.fixture(scope="module")
def fuzzed_app() -> Iterator[tuple[Flask, str]]:
    yield FUZZED
    dispose(FUZZED[0])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_target(request: pytest.FixtureRequest, fuzzed_app: tuple[Flask, str]) -> Iterator[tuple[Flask, str]]:
    if request.param == "sqlite":
        yield fuzzed_app
        return
    cluster: Cluster | None = request.getfixturevalue("pg_cluster")
    if cluster is None:
        pytest.skip("PostgreSQL not available on this machine")
    name = cluster.create_database()
    target = _fuzzed_app(cluster.url(name))
    yield target
    dispose(target[0])
    cluster.drop_database(name)


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_all_checks_pass_on_both_databases(case, fuzz_target: tuple[Flask, str]) -> None:  # type: ignore[no-untyped-def]
    app, key = fuzz_target
    # Every schemathesis check; "schema-valid data is accepted" only where JSON Schema can say what is valid:
    # not for files (a CSV or a list is checked line by line) nor for rules across fields (a batch's ids are
    # unique, an entry has one primary name and cites known sources).
    whole_body_rules = case.operation.method.upper() in ("POST", "PUT") and case.operation.path != "/v1/screen"
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {key}"},
                           excluded_checks=[positive_data_acceptance] if whole_body_rules else None)


def test_spec_documents_every_route(fuzzed_app: tuple[Flask, str]) -> None:
    app, _ = fuzzed_app
    documented = set(app.test_client().get("/openapi.json").get_json()["paths"])
    routes = {rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}") for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/v1/") or rule.rule in ("/healthz", "/readyz")}
    assert routes <= documented, routes - documented


def test_docs_page_renders_the_spec(fuzzed_app: tuple[Flask, str]) -> None:
    app, _ = fuzzed_app
    page = app.test_client().get("/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "/v1/screen/batch" in page.get_data(as_text=True)
