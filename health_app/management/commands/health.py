"""``manage.py health``: the /health document on stdout; exit status 1 when unhealthy."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from health_app.components.base import UNHEALTHY
from health_app.runner import check_names, health_report


class Command(BaseCommand):
    help = "Run the health checks and print the same JSON as /health (exit status 1 when unhealthy)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("components", nargs="*", help="Only these components (default: all configured).")

    def handle(self, *args: Any, components: list[str], **options: Any) -> None:
        known = check_names()
        unknown = [name for name in components if name not in known]
        if unknown:
            msg = f"Unknown component(s) {', '.join(unknown)}; configured: {', '.join(known)}."
            raise CommandError(msg)
        report = health_report(components or None)
        self.stdout.write(json.dumps(report, indent=2))
        if report["status"] == UNHEALTHY:
            raise SystemExit(1)
