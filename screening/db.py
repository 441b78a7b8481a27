"""Engine, sessions and migrations. One session per request (Flask `g`), rolled back on error.

Engines hide bound parameters from their errors (`hide_parameters`): a failing statement's message reaches the log,
and its parameters are screened names, references and key ids.

A SQLite database is a file that can be deleted or replaced under a running service; connections already open keep
reading and writing the old, unlinked file, so every write would vanish at the next restart. The app remembers the
file's identity (device and inode) and checks it whenever a connection is taken from the pool: a missing or different
file is a database error (503), never a silent success. A file the service creates is private (0600).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

from flask import Flask, g
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
PG_CONNECT_TIMEOUT_SECONDS = 10  # an unreachable host fails the request in seconds, not at gunicorn's timeout
log = logging.getLogger(__name__)


def default_sqlite_url(instance_path: str) -> str:
    # The instance folder holds the database, job files and index cache: private to the service's user.
    Path(instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)
    return f"sqlite:///{Path(instance_path) / 'screening.db'}"


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL, absolute; None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    if parsed.database.startswith("file:"):  # a URI filename (uri=true): left to SQLite
        return None
    return Path(parsed.database).absolute()


def create_private_file(path: Path) -> None:
    """Create an empty database file readable by the owner only, before SQLite creates it with the umask's mode.
    (SQLite gives its -wal and -shm files the database file's mode.) An existing file is left as it is; a folder
    that does not exist is left for SQLite to report."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError, PermissionError, NotADirectoryError):
        pass


class SqliteFile:
    """The SQLite file an app serves and its identity when first seen, to notice its deletion or replacement."""

    def __init__(self, path: Path):
        self.path = path
        self.identity: tuple[int, int] | None = None

    def remember(self) -> None:
        """Record the file's identity, the first time it exists."""
        if self.identity is None:
            try:
                st = self.path.stat()
            except OSError:
                return
            self.identity = (st.st_dev, st.st_ino)

    def problem(self) -> str | None:
        """Why the file is not the one the app started with, or None when it is (or none was seen yet)."""
        if self.identity is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return "was deleted"
        except OSError as error:
            return f"cannot be read ({error.strerror})"
        if (st.st_dev, st.st_ino) != self.identity:
            return "was replaced by another file"
        return None

    def check(self) -> None:
        """Raise the DBAPI's OperationalError (so SQLAlchemy wraps it like any connection failure) when the file
        is gone or replaced."""
        reason = self.problem()
        if reason is not None:
            log.error("SQLite database file %s %s while serving; restart the service after restoring it",
                      self.path, reason)
            raise sqlite3.OperationalError(f"the database file {reason}")


def make_engine(url: str, *, for_writes: bool = False, guard: SqliteFile | None = None) -> Engine:
    """An engine; `for_writes` on SQLite makes every transaction BEGIN IMMEDIATE, taking the database's write lock
    up front, so that two list changes run one after the other instead of failing halfway (SQLAlchemy's recipe).
    `guard` (SQLite): the app's database file, checked before connecting and at every checkout."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, hide_parameters=True)
        path = sqlite_file(url)

        if path is not None:
            @event.listens_for(engine, "do_connect")
            def _private_file(_dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
                if guard is not None and guard.identity is not None:
                    guard.check()  # before sqlite3 would create a new, empty file in the old one's place
                else:
                    create_private_file(path)

        if guard is not None:
            @event.listens_for(engine, "connect")
            def _remember_file(_dbapi_connection: Any, _record: Any) -> None:
                guard.remember()

            @event.listens_for(engine, "checkout")
            def _same_file(_dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
                # A pooled connection would go on using the unlinked file: drop every pooled connection, so the
                # reconnect runs the check in do_connect and fails with a database error.
                if guard.problem() is not None:
                    raise exc.InvalidatePoolError()

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
    connect_args: dict[str, Any] = {}
    if "connect_timeout" not in make_url(url).query:
        connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_SECONDS
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, hide_parameters=True,
                         connect_args=connect_args)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the schema to the newest migration (what `screening init-db` runs)."""
    from alembic import command

    path = sqlite_file(url)
    if path is not None:
        create_private_file(path)

    command.upgrade(alembic_config(url), "head")


def init_app(app: Flask) -> None:
    url = app.config.get("DATABASE_URL") or default_sqlite_url(app.instance_path)
    app.config["DATABASE_URL"] = url
    path = sqlite_file(url)
    guard = SqliteFile(path) if path is not None else None
    if guard is not None:
        guard.remember()  # a file created later is remembered at its first connection
    app.extensions["db_file"] = guard
    engine = make_engine(url, guard=guard)
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    write_engine = make_engine(url, for_writes=True, guard=guard) if url.startswith("sqlite") else engine
    app.extensions["db_write_engine"] = write_engine
    app.extensions["db_write_sessionmaker"] = sessionmaker(write_engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def database_file(app: Flask) -> SqliteFile | None:
    """The app's SQLite database file (None on PostgreSQL and in-memory SQLite)."""
    return app.extensions.get("db_file")


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
