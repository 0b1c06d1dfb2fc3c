"""ClaO's Redis cache (clao/cache.py): Django's contract, one client per pool, incr() in one
round trip. Runs against the Redis of CACHE_URL's tests (127.0.0.1:6379), skipped without it."""

import secrets
import socket

import pytest

from clao.cache import RedisCache

REDIS = "redis://127.0.0.1:6379/15"


def redis_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not redis_answers(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def cache():
    prefix = "test-" + secrets.token_hex(4)
    cache = RedisCache(REDIS, {"KEY_PREFIX": prefix})
    yield cache
    # Only this test's keys: other test runs may share the database.
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_it_increments_only_a_key_that_exists_and_keeps_its_expiry(cache):
    with pytest.raises(ValueError):
        cache.incr("missing")
    assert cache.get("missing") is None
    assert cache.add("count", 0, timeout=60)
    assert not cache.add("count", 0, timeout=60)
    assert cache.incr("count") == 1
    assert cache.incr("count", 5) == 6
    assert cache.get("count") == 6
    client = cache._cache.get_client()
    assert 0 < client.ttl(cache.make_key("count")) <= 60


def test_it_keeps_one_client_for_every_call(cache):
    cache.set("a", {"x": 1}, timeout=60)
    assert cache.get("a") == {"x": 1}
    assert cache._cache.get_client() is cache._cache.get_client(write=True)
