"""The API against its own OpenAPI document: schemathesis generates requests, no 5xx and no response that breaks
the spec. Bounded (a few examples per operation) so that it fits in the suite."""

from __future__ import annotations

import tempfile
from typing import Iterator

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                               status_code_conformance)

from screening import store
from screening.auth import create_key
from schemathesis.checks import not_a_server_error
from screening.db import dispose
from screening.listfile import load_list_file
from tests.conftest import make_app


def _fuzzed_app() -> tuple[Flask, str]:
    """One app for the whole module (the schema is loaded when the module is collected)."""
    # Built when the module is collected, before the session's fixtures: everything it writes goes to its own
    # temporary directory, not the repository's instance folder.
    home = tempfile.mkdtemp(prefix="screening-fuzz-")
    app = make_app(f"sqlite:///{home}/fuzz.db", JOBS_DIR=f"{home}/jobs", INDEX_CACHE_DIR=f"{home}/index-cache")
    with app.extensions["db_sessionmaker"]() as session:
        store.publish_document(session, load_list_file(), actor="tests")
        key = create_key(session, role="admin", label="fuzz")
        session.commit()
    return app, key


FUZZED = _fuzzed_app()
schema = schemathesis.openapi.from_wsgi("/openapi.json", FUZZED[0])


@pytest.fixture(scope="module")
def fuzzed_app() -> Iterator[tuple[Flask, str]]:
    yield FUZZED
    dispose(FUZZED[0])


@schema.parametrize()
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_responses_match_the_spec(case) -> None:  # type: ignore[no-untyped-def]
    case.call_and_validate(headers={"Authorization": f"Bearer {FUZZED[1]}"},
                           checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                                   response_schema_conformance])


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
