"""The README stays true: every environment variable the settings read is in its Settings table."""

import re
from pathlib import Path

from tests.deploy.deployfiles import settings_variables

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_environment_variable_is_documented_in_the_settings_table():
    table = README[README.index("## Settings"):README.index("### Sentinel, Cluster and TLS")]
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", table))
    # REDIS_CACHE_<NAME> overrides REDIS_<NAME> for the cache alias; the table says so in one row.
    missing = sorted(
        name for name in settings_variables()
        if name not in documented and not (name.startswith("REDIS_CACHE_") and f"REDIS_{name[12:]}" in documented)
    )
    assert not missing, f"README Settings table lacks: {', '.join(missing)}"


def test_readme_names_the_two_commands():
    assert "python3 dev.py run" in README
    assert "python3 dev.py test" in README
