"""manage.py warm_cache: fills the kinds, idempotent, non-zero exit with a message on failure."""

import io
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from caching_app.foundation.connections import get_redis
from caching_app.geo import location_index
from caching_app.service import cache_service
from winkr.demo.models import Photo, Profile

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def profiles():
    users = [get_user_model().objects.create(username=f"u{n}") for n in range(5)]
    for n, user in enumerate(users):
        Profile.objects.update_or_create(user=user, defaults={  # the user came with an empty profile
            "display_name": f"User {n}", "interests": ["hiking"], "latitude": 52 + n / 100, "longitude": 13.0,
            "location_updated_at": timezone.now()})
        Photo.objects.create(user=user, url=f"https://img.example/{n}.jpg", width=10, height=10)
    return users


def snapshot():
    client = get_redis("cache")
    keys = sorted(client.keys("winkr:*"))
    return keys, [client.type(key) for key in keys]


def warm(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("warm_cache", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_warms_every_kind_with_progress_and_is_idempotent(profiles):
    out, err = warm()
    for kind in ("user_profile", "photo_metadata", "match_recommendations", "geospatial"):
        assert f"{kind}: warmed 5 entries" in out
    assert "100%" in err  # tqdm's bar
    first = snapshot()
    user = profiles[0]
    assert cache_service.get_user_profile(user.pk)["display_name"] == "User 0"
    assert cache_service.get_photo_metadata(user.pk)[0]["url"].endswith("0.jpg")
    assert len(cache_service.get_match_recommendations(user.pk)["results"]) == 4
    assert [n.user_id for n in location_index.nearby(user.pk, 50, 10)][:1] == [str(profiles[1].pk)]
    warm()
    assert snapshot() == first  # same keys, nothing duplicated
    assert cache_service.get_user_profile(user.pk)["display_name"] == "User 0"


def test_kind_and_limit(profiles):
    out, _ = warm("--kind", "user_profile", "--limit", "2", "--no-progress")
    assert out.strip() == "user_profile: warmed 2 entries"
    assert cache_service.get_user_profile(profiles[0].pk) is not None
    assert cache_service.get_user_profile(profiles[2].pk) is None


def test_unknown_kind_is_refused():
    with pytest.raises(CommandError, match="warmable kinds are"):
        warm("--kind", "api_response")


def test_redis_down_fails_with_message(profiles, spawn_redis, use_redis):
    server = spawn_redis()
    use_redis(server.url, MAX_RETRIES=0)
    server.kill()
    with pytest.raises(CommandError, match="unreachable.*rerun"):
        warm("--no-progress")


def test_process_exit_code_when_redis_is_down(spawn_redis, tmp_path):
    server = spawn_redis()
    server.kill()
    env = {"DJANGO_SETTINGS_MODULE": "tests.settings", "REDIS_URL": server.url, "REDIS_MAX_RETRIES": "0",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "manage.py", "warm_cache", "--no-progress"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "unreachable" in result.stderr
