"""Cache payloads: header byte, JSON/msgpack, compression, never pickle."""

import datetime
import pickle
import uuid
from decimal import Decimal

import pytest

from caching_app.serializers import COMPRESSED, JSON, MSGPACK, CacheSerializer, SerializationError


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_round_trip_and_header(fmt):
    serializer = CacheSerializer(fmt)
    value = {"name": "ada", "tags": ["a", "b"], "n": 3, "ok": True, "none": None}
    data = serializer.dumps(value)
    assert data[0] == (JSON if fmt == "json" else MSGPACK)
    assert serializer.loads(data) == value


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_django_types_become_text(fmt):
    value = {"d": datetime.date(2000, 1, 2), "u": uuid.UUID(int=1), "x": Decimal("1.5")}
    assert CacheSerializer(fmt).loads(CacheSerializer(fmt).dumps(value)) == {
        "d": "2000-01-02", "u": str(uuid.UUID(int=1)), "x": "1.5"}


def test_compression_above_threshold_only():
    serializer = CacheSerializer("json", compress_min_bytes=100)
    small, large = serializer.dumps("x" * 10), serializer.dumps("x" * 5000)
    assert not small[0] & COMPRESSED
    assert large[0] & COMPRESSED and len(large) < 200
    assert serializer.loads(large) == "x" * 5000


def test_readers_understand_every_format():
    """Switching SERIALIZER or compression on a live system keeps old entries readable."""
    reader = CacheSerializer("json")
    for writer in (CacheSerializer("msgpack", 10), CacheSerializer("json", 10), CacheSerializer("msgpack")):
        assert reader.loads(writer.dumps({"k": "v" * 50})) == {"k": "v" * 50}


def test_pickle_and_garbage_are_rejected():
    with pytest.raises(SerializationError):
        CacheSerializer().loads(pickle.dumps({"a": 1}))
    with pytest.raises(SerializationError):
        CacheSerializer().loads(bytes([JSON]) + b"{not json")
    with pytest.raises(SerializationError):
        CacheSerializer().loads(b"")


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="pickle"):
        CacheSerializer("pickle")
