"""``mkdocs build --strict`` passes: no broken link, no missing page, no mkdocstrings reference that fails to
resolve (the CI leg runs the same command: ``.venv/bin/python -m mkdocs build --strict``)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra")
pytest.importorskip("mkdocstrings", reason="mkdocstrings is in the dev extra")


def build(config: Path, site: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config),
                           "--site-dir", str(site)], cwd=config.parent, capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, timeout=300)


def test_docs_build_strict(tmp_path):
    result = build(ROOT / "mkdocs.yml", tmp_path / "site")
    assert result.returncode == 0, result.stderr[-3000:]
    reference = (tmp_path / "site" / "reference" / "sessions_app" / "index.html").read_text()
    assert "create_session" in reference  # mkdocstrings rendered our docstrings


def test_a_broken_link_fails_the_strict_build(tmp_path):
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for package in ("caching_app", "sessions_app", "ratelimit_app", "realtime_app", "health_app"):
        shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    page = copy / "docs" / "settings.md"
    page.write_text(page.read_text() + "\n[broken](no-such-page.md)\n")
    result = build(copy / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-page.md" in result.stderr
