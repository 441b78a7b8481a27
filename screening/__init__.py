"""Sanctions screening service."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .config import settings_from_env


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory: settings from SCREENING_* variables, overridden by `config`."""
    from .observability import LimitedRequest

    app = Flask(__name__, instance_relative_config=True)
    app.request_class = LimitedRequest  # a streamed body over MAX_BODY_BYTES is refused, not cut (observability)
    app.config.update(settings_from_env())
    app.config.update(config or {})
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_BODY_BYTES"]
    from . import db, errors, liststate, monitoring_runner, notifications, observability
    from .api import admin, audit, bulk, decisions, entries, guard, jobs, monitoring, ops, screen

    observability.configure_logging(app.config["LOG_LEVEL"])
    db.init_app(app)
    errors.init_app(app)
    observability.init_app(app)
    guard.init_app(app)  # after the request id and the size limits: a refusal here is logged like any answer
    liststate.init_app(app)
    notifications.init_app(app)  # the webhook delivery thread, started per worker process (off in tests)
    monitoring_runner.init_app(app)
    for module in (ops, screen, bulk, jobs, entries, admin, audit, monitoring, decisions):
        app.register_blueprint(module.bp)
    from . import ui

    ui.init_app(app)  # the analyst interface under /ui
    return app
