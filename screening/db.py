"""Engine, sessions and migrations. One session per request (Flask `g`), rolled back on error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def default_sqlite_url(instance_path: str) -> str:
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'screening.db'}"


def make_engine(url: str, *, for_writes: bool = False) -> Engine:
    """An engine; `for_writes` on SQLite makes every transaction BEGIN IMMEDIATE, taking the database's write lock
    up front, so that two list changes run one after the other instead of failing halfway (SQLAlchemy's recipe)."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets gunicorn workers read while an admin change is written; foreign keys are off by default.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL is WAL's usual companion: no corruption on a crash, one fsync per checkpoint, not per commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
            if for_writes:
                dbapi_connection.isolation_level = None  # pysqlite must not emit its own BEGIN

        if for_writes:
            @event.listens_for(engine, "begin")
            def _begin_immediate(connection: Any) -> None:
                connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration (what `screening init-db` runs)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def init_app(app: Flask) -> None:
    url = app.config.get("DATABASE_URL") or default_sqlite_url(app.instance_path)
    app.config["DATABASE_URL"] = url
    engine = make_engine(url)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    write_engine = make_engine(url, for_writes=True) if url.startswith("sqlite") else engine
    app.extensions["db_write_engine"] = write_engine
    app.extensions["db_write_sessionmaker"] = sessionmaker(write_engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def session_factory(app: Flask) -> sessionmaker[Session]:
    return app.extensions["db_sessionmaker"]


def write_sessions(app: Flask) -> sessionmaker[Session]:
    """Sessions for list changes (see make_engine)."""
    return app.extensions["db_write_sessionmaker"]


def dispose(app: Flask) -> None:
    app.extensions["db_engine"].dispose()
    app.extensions["db_write_engine"].dispose()


def get_session() -> Session:
    """The request's session, made on first use."""
    from flask import current_app

    if "db_session" not in g:
        g.db_session = session_factory(current_app)()
    return g.db_session
