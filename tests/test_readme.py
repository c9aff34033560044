"""The README and docs/ stay true: every environment variable the settings read is in the Settings table
(docs/settings.md), the README names the two commands, and its links into docs/ resolve."""

import re
from pathlib import Path

from tests.deploy.deployfiles import settings_variables

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
SETTINGS_PAGE = (ROOT / "docs" / "settings.md").read_text()


def test_every_environment_variable_is_documented_in_the_settings_table():
    table = SETTINGS_PAGE[SETTINGS_PAGE.index("## Environment variables"):SETTINGS_PAGE.index(
        "## Sentinel, Cluster and TLS")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    # REDIS_CACHE_<NAME> overrides REDIS_<NAME> for the cache alias; the table says so in one row.
    missing = sorted(
        name for name in settings_variables()
        if name not in documented and not (name.startswith("REDIS_CACHE_") and f"REDIS_{name[12:]}" in documented)
    )
    assert not missing, f"docs/settings.md Settings table lacks: {', '.join(missing)}"


def test_readme_names_the_two_commands():
    assert "python3 dev.py run" in README
    assert "python3 dev.py test" in README


def test_readme_links_into_docs_resolve():
    targets = re.findall(r"\]\(((?:docs/|BENCHMARKS)[^)#]*)\)", README)
    assert any(t.startswith("docs/apps/") for t in targets) and "docs/settings.md" in targets
    missing = [target for target in targets if not (ROOT / target).exists()]
    assert not missing, f"README links to files that do not exist: {missing}"


def test_every_app_page_starts_with_three_steps_and_states_settings_failures_and_keys():
    for page in sorted((ROOT / "docs" / "apps").glob("*.md")):
        headings = re.findall(r"^## (.+)$", page.read_text(), flags=re.M)
        assert headings[:4] == ["Add it to your project in three steps", "Settings", "Failure behaviour",
                                "Redis keys"], page.name
