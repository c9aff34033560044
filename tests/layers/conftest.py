"""The conformance fixtures: every test here runs once per layer in :data:`tests.layers.kinds.KINDS`."""

from __future__ import annotations

import pytest
from django.conf import settings

from tests.layers.kinds import KINDS, build_layer


@pytest.fixture(params=KINDS)
def kind(request, use_redis):
    if request.param == "cluster":
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        use_redis(MODE="cluster", CLUSTER_NODES=cluster.seeds, URL=f"redis://{cluster.seeds[0]}/0")
    return request.param


@pytest.fixture
async def layer(kind):
    built = build_layer(kind)
    yield built
    await built.flush()


@pytest.fixture
def redis_json() -> str:
    """The current WINKR_REDIS, for a peer process."""
    import json

    return json.dumps(settings.WINKR_REDIS)
