"""health_app: what a probe and a scrape cost, against the plain alternatives."""

from __future__ import annotations

from prometheus_client import REGISTRY, generate_latest


def run(bench) -> None:
    from health_app.components.redis import RedisCheck
    from health_app.conf import import_checks
    from health_app.metrics import prometheus_text
    from health_app.probes import get_probe_redis
    from health_app.runner import health_report, readiness_report

    group = "health_app"
    probe = get_probe_redis("state")

    def bare_ping_both() -> None:
        probe.ping()
        get_probe_redis("cache").ping()

    bench.compare(group, "readiness (PING both aliases + SELECT 1, in threads)", ours=readiness_report,
                  anchor=bare_ping_both, anchor_name="two bare PINGs", number=200,
                  target="overhead of threads + DB query, reported", target_ratio=None)

    def bare_redis() -> None:
        probe.ping()
        probe.info()

    # The component also summarises the connection layer's command metrics (a registry walk),
    # which the raw commands do not: hence the looser target.
    bench.compare(group, "redis component (2 aliases: PING + INFO + judgement + metrics summary)",
                  ours=lambda: RedisCheck().run(), anchor=lambda: (bare_redis(), bare_redis()),
                  anchor_name="PING + INFO x2 aliases, raw", number=200,
                  target="within 2.5x of the raw commands", target_ratio=1 / 2.5)

    checks = import_checks("CHECKS")

    def sequential() -> None:
        for cls in checks:
            cls().run()

    bench.compare(group, "full /health report (5 components in parallel threads)", ours=health_report,
                  anchor=sequential, anchor_name="same checks one after another", number=100,
                  target="no slower than running them in sequence (within 1.2x)", target_ratio=1 / 1.2)

    bench.compare(group, "Prometheus scrape (recorded + scrape-time gauges)", ours=prometheus_text,
                  anchor=lambda: generate_latest(REGISTRY), anchor_name="generate_latest(REGISTRY)", number=200,
                  target="within 2x of the bare registry dump", target_ratio=1 / 2)
