"""A plain `pip install .` carries everything the service needs: the built-in list loads from any directory with no
SCREENING_LIST_PATH."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                            "--wheel-dir", str(out), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    return next(out.glob("screening-*.whl"))


def test_the_wheel_holds_the_built_in_list_and_the_migrations(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for wanted in ("screening/lists/designations.yaml", "screening/lists/sources.yaml",
                   "screening/migrations/env.py", "screening/migrations/script.py.mako",
                   "screening/migrations/versions/0005_ui_sessions.py", "screening/ui/templates/base.html",
                   "screening/ui/templates/_macros.html", "screening/ui/static/ui.css",
                   "screening/ui/static/vendor/htmx.min.js", "screening/ui/static/vendor/htmx.LICENSE"):
        assert wanted in names, sorted(n for n in names if not n.endswith(".py"))


def test_an_installed_package_loads_the_built_in_list_from_any_directory(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    installed = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                                str(target), str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The installed copy first on the path, the checkout nowhere on it: the dependencies come from this venv.
    env = {k: v for k, v in os.environ.items() if k not in ("SCREENING_LIST_PATH", "PYTHONPATH")}
    env.update(PYTHONPATH=str(target), SCREENING_DATABASE_URL=f"sqlite:///{tmp_path / 'screening.db'}",
               SCREENING_LOG_LEVEL="WARNING")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-c", "from screening.cli import main; main()", *args],
                              cwd=elsewhere, env=env, capture_output=True, text=True)

    where = subprocess.run([sys.executable, "-c", "import screening.listfile as f; print(f.default_list_path())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True)
    assert where.stdout.strip().startswith(str(target)), where.stdout + where.stderr
    assert cli("init-db").returncode == 0
    loaded = cli("load-list")
    assert loaded.returncode == 0 and "list version 1" in loaded.stdout, loaded.stdout + loaded.stderr
    screened = cli("screen", "Chen Quanguo", "--type", "person")
    assert screened.returncode == 0 and '"entry_id"' in screened.stdout, screened.stdout + screened.stderr
