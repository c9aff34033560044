"""Two daphne processes sharing PROMETHEUS_MULTIPROC_DIR: either one exports the sum of both."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "e2e-health-token-0123456789abcdefghij"


def _get(url: str, token: str | None = TOKEN) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local test server
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
def test_two_servers_one_metrics_export(daphne_factory, tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "HEALTH_TOKEN": TOKEN}
    first = daphne_factory(env=env)
    second = daphne_factory(env=env)
    for server, runs in ((first, 3), (second, 2)):
        for _ in range(runs):
            status, body = _get(f"{server.url}/health/cache")
            assert status == 200, body
            assert json.loads(body)["status"] == "healthy"

    status, text = _get(f"{first.url}/health/metrics?format=prometheus")
    assert status == 200
    sets = [sample for family in text_string_to_metric_families(text.decode()) for sample in family.samples
            if sample.name == "winkr_redis_commands_total" and sample.labels == {"alias": "cache", "command": "SET"}]
    assert sum(sample.value for sample in sets) == 5  # one probe SET per /health/cache, on either server

    assert _get(f"{second.url}/health/metrics", token=None)[0] == 401
    assert _get(f"{second.url}/health/liveness", token=None)[0] == 200
