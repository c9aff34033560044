"""Django's own test suites, from the sdist of the installed Django, fetched at test time.

Where Django defines behaviour (a session backend, a cache backend), its own tests decide.
They are never copied into this repository: :func:`load_django_tests` downloads the sdist of
exactly ``django.__version__`` once (``pip download --no-binary :all:``) into the system temp
dir, extracts the test packages asked for, and imports ``<package>.tests`` from there.

Django's test packages are test *apps* (``sessions_tests/models.py``, ``cache/models.py``
define models), so they are imported with the package added to INSTALLED_APPS for the
duration of the import; the test classes built on them add it again while they run
(:func:`with_test_app`). The extracted ``tests/`` directory is appended to ``sys.path``, and a
package that resolves anywhere else (a shadowing module) is refused rather than used.

If PyPI cannot be reached the importing module is skipped with a message saying so, except
under CI (``CI`` set), where it fails: there the suite must run.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import django
import pytest
from django.conf import settings
from django.test.utils import modify_settings

CACHE_ROOT = Path(tempfile.gettempdir()) / "winkr-django-sdist"
PYPI = ("pypi.org", 443)


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(PYPI, timeout=5).close()
    except OSError:
        return False
    return True


def _unavailable(message: str) -> None:
    if os.environ.get("CI") or _pypi_reachable():
        pytest.fail(message, pytrace=False)
    pytest.skip(f"PyPI cannot be reached, so Django's own tests were not fetched: {message}",
                allow_module_level=True)


def _download_sdist(version: str, into: Path) -> Path:
    into.mkdir(parents=True, exist_ok=True)
    found = sorted(into.glob(f"[Dd]jango-{version}.tar.gz"))
    if found:
        return found[0]
    work = Path(tempfile.mkdtemp(dir=into))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
             f"Django=={version}", "--dest", str(work)],
            capture_output=True, text=True, timeout=300,
        )
        archives = sorted(work.glob("*.tar.gz"))
        if result.returncode != 0 or not archives:
            _unavailable(f"pip download Django=={version} failed: {result.stderr.strip()[-800:]}")
        target = into / archives[0].name
        os.replace(archives[0], target)  # atomic: a concurrent run sees the whole file or none
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def django_tests_dir(*packages: str) -> Path:
    """``tests/`` of the installed Django's sdist, with ``packages`` extracted (cached per version)."""
    version = django.__version__
    root = CACHE_ROOT / version
    tests_dir = root / "tests"
    missing = [name for name in packages if not (tests_dir / name / ".extracted").exists()]
    if not missing:
        return tests_dir
    archive = _download_sdist(version, root)
    with tarfile.open(archive) as tar:
        top = tar.getmembers()[0].name.split("/")[0]
        for name in missing:
            prefix = f"{top}/tests/{name}/"
            members = [m for m in tar.getmembers() if m.name.startswith(prefix) and m.isfile()]
            if not members:
                pytest.fail(f"Django {version}'s sdist has no tests/{name}/", pytrace=False)
            staging = Path(tempfile.mkdtemp(dir=root))
            for member in members:
                member.name = member.name[len(f"{top}/tests/"):]
                tar.extract(member, staging, filter="data")
            (staging / name / ".extracted").touch()
            shutil.rmtree(tests_dir / name, ignore_errors=True)
            tests_dir.mkdir(exist_ok=True)
            try:
                os.replace(staging / name, tests_dir / name)
            except OSError:  # another run extracted it meanwhile
                pass
            shutil.rmtree(staging, ignore_errors=True)
    return tests_dir


def with_test_app(package: str) -> modify_settings:
    """``modify_settings`` adding one of Django's test apps to INSTALLED_APPS (class decorator)."""
    return modify_settings(INSTALLED_APPS={"append": package})


def load_django_tests(package: str) -> ModuleType:
    """Import ``<package>.tests`` from the installed Django's sdist (see the module docstring)."""
    tests_dir = django_tests_dir(package)
    if str(tests_dir) not in sys.path:
        sys.path.append(str(tests_dir))
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None or not Path(spec.origin).is_relative_to(tests_dir):
        pytest.fail(f"{package!r} resolves to {spec and spec.origin}, not Django's tests in {tests_dir}",
                    pytrace=False)
    if package in settings.INSTALLED_APPS:
        return importlib.import_module(f"{package}.tests")
    with with_test_app(package):
        return importlib.import_module(f"{package}.tests")
