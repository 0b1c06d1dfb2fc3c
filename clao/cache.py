"""Django's Redis cache, without two costs every request of a logged-in worker paid.

Django's client builds a new redis.Redis object for every cache call (three or four a request:
the session, the rate limit's counter), and its incr() is two round trips (EXISTS, then INCRBY).
Here each connection pool keeps one client (redis-py's clients are thread-safe), and incr() is
one round trip: a script that increments the key only if it exists, as Django's contract says
(ValueError otherwise, and the key's expiry is kept). Everything else is Django's.
"""

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient

INCR_EXISTING = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('INCRBY', KEYS[1], ARGV[1])
end
return false
"""


class ReusingRedisCacheClient(RedisCacheClient):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Server index -> (client, its incr script).
        self._clients = {}

    def _client_and_script(self, write: bool):
        index = self._get_connection_pool_index(write)
        found = self._clients.get(index)
        if found is None:
            if index not in self._pools:
                self._pools[index] = self._pool_class.from_url(
                    self._servers[index], **self._pool_options
                )
            client = self._client(connection_pool=self._pools[index])
            found = self._clients[index] = (client, client.register_script(INCR_EXISTING))
        return found

    def get_client(self, key=None, *, write=False):
        return self._client_and_script(write)[0]

    def incr(self, key, delta):
        _client, script = self._client_and_script(write=True)
        value = script(keys=[key], args=[delta])
        if value is None:
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
