"""A throwaway PostgreSQL cluster for the test suite: initdb into a temp dir, Unix socket only, no TCP.

As root, the server runs as the `postgres` user. pg_ctl is given a log file (-l) so that the server does not hold
the caller's pipes open. Under CI=true a missing PostgreSQL is a failure, not a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path


def find_bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        if out.returncode == 0:
            candidates.append(out.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for found in (shutil.which("initdb"),):
        if found:
            candidates.append(str(Path(found).resolve().parent))
    for candidate in candidates:
        path = Path(candidate)
        if (path / "initdb").exists() and (path / "pg_ctl").exists() and (path / "postgres").exists():
            return path
    return None


@dataclass
class Cluster:
    bindir: Path
    root: Path
    run_as: str | None

    @property
    def datadir(self) -> Path:
        return self.root / "data"

    @property
    def socketdir(self) -> Path:
        return self.root / "sock"

    def _cmd(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else args

    def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.socketdir.mkdir(exist_ok=True)
        if self.run_as:
            user = pwd.getpwnam(self.run_as)
            for path in (self.root, self.socketdir):
                os.chown(path, user.pw_uid, user.pw_gid)
        subprocess.run(self._cmd([str(self.bindir / "initdb"), "-D", str(self.datadir), "--auth=trust",
                                  "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        options = (f"-k {self.socketdir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   f"-c full_page_writes=off -c max_connections=200")
        subprocess.run(self._cmd([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l",
                                  str(self.root / "server.log"), "-o", options, "-w", "-t", "60", "start"]),
                       check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        subprocess.run(self._cmd([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate",
                                  "-w", "stop"]), capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socketdir}"

    def create_database(self) -> str:
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(f"host={self.socketdir} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(f"host={self.socketdir} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_cluster() -> Cluster | None:
    bindir = find_bindir()
    if bindir is None:
        return None
    run_as = "postgres" if os.geteuid() == 0 else None
    if run_as:
        try:
            pwd.getpwnam(run_as)
        except KeyError:
            return None
    cluster = Cluster(bindir, Path(tempfile.mkdtemp(prefix="screening-pg-")), run_as)
    cluster.start()
    return cluster
