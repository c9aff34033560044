"""/health/metrics: JSON and Prometheus text, scrape-time gauges, multiprocess sums."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.core import CounterMetricFamily
from prometheus_client.parser import text_string_to_metric_families

from caching_app.foundation.connections import get_redis
from health_app.metrics import cache_summary

ROOT = Path(__file__).resolve().parents[2]


def _families(text: str) -> dict:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(families: dict, family: str, sample: str, **labels) -> float:
    return sum(s.value for s in families[family].samples
               if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()))


def test_json_by_default(operator):
    client = get_redis("state")
    for index in range(3):
        client.set("metrics-test", index)
    response = operator.get("/health/metrics")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["multiprocess"] is False
    assert body["redis"]["commands"]["state"] >= 3
    pool = body["redis"]["pools"]["state"]
    assert pool["in_use"] == 0 and pool["idle"] >= 1 and pool["max_connections"] == 50
    assert set(body) == {"timestamp", "multiprocess", "redis", "cache", "sessions", "rate_limit", "pubsub"}


def test_prometheus_text_parses(operator):
    get_redis("state").set("metrics-test", 1)
    for kwargs in ({"path": "/health/metrics?format=prometheus"},
                   {"path": "/health/metrics", "HTTP_ACCEPT": "text/plain"},
                   {"path": "/health/metrics/", "HTTP_ACCEPT": "application/openmetrics-text;version=1.0.0,"
                    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"}):  # what Prometheus itself sends
        response = operator.get(kwargs.pop("path"), **kwargs)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain; version=")
        families = _families(response.content.decode())
        assert _value(families, "winkr_redis_commands", "winkr_redis_commands_total", alias="state", command="SET") >= 1
        assert families["winkr_redis_command_seconds"].type == "histogram"
        assert _value(families, "winkr_health_redis_pool_connections", "winkr_health_redis_pool_connections",
                      alias="state", state="idle") >= 1
        assert "winkr_health_redis_pool_max_connections" in families


def test_unknown_format_is_a_json_404(operator):
    response = operator.get("/health/metrics?format=xml")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_cache_hit_ratio_per_kind():
    hits = CounterMetricFamily("winkr_cache_hits", "hits", labels=["kind"])
    hits.add_metric(["user_profile"], 3)
    hits.add_metric(["photo_metadata"], 0)
    misses = CounterMetricFamily("winkr_cache_misses", "misses", labels=["kind"])
    misses.add_metric(["user_profile"], 1)
    assert cache_summary([hits, misses]) == {
        "photo_metadata": {"hits": 0, "misses": 0, "ratio": None},
        "user_profile": {"hits": 3, "misses": 1, "ratio": 0.75},
    }


_WORKER = """
import django
django.setup()
from caching_app.foundation.connections import get_redis
for index in range({count}):
    get_redis("state").set("multiprocess-probe", index)
"""


def test_multiprocess_export_sums_every_process(tmp_path, redis_server, operator, monkeypatch):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "DJANGO_SETTINGS_MODULE": "tests.settings",
           "REDIS_URL": redis_server.url, "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([sys.executable, "-c", _WORKER.format(count=count)], env=env, cwd=ROOT)
               for count in (7, 5)]
    assert [worker.wait(timeout=60) for worker in workers] == [0, 0]
    assert len(list(metrics_dir.glob("counter_*.db"))) == 2  # one file per process

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    families = _families(operator.get("/health/metrics?format=prometheus").content.decode())
    assert _value(families, "winkr_redis_commands", "winkr_redis_commands_total", alias="state", command="SET") == 12
    assert _value(families, "winkr_redis_command_seconds", "winkr_redis_command_seconds_count", alias="state") == 12
    body = operator.get("/health/metrics").json()
    assert body["multiprocess"] is True
    assert body["redis"]["commands"]["state"] == 12
