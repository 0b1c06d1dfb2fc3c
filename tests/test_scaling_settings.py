"""Settings for several app nodes: a shared cache and sessions, a replica, a transaction pooler.

Settings are read once at start: each case runs in a fresh process (tests/test_settings.py).
"""

import json

from tests.test_settings import PRODUCTION, manage

SHOW = (
    "import json; from django.conf import settings as s;"
    "print(json.dumps({'caches': s.CACHES, 'session': s.SESSION_ENGINE,"
    " 'databases': {k: {'HOST': v.get('HOST'), 'PORT': v.get('PORT'), 'NAME': v.get('NAME'),"
    " 'TEST': v.get('TEST'), 'OPTIONS': v.get('OPTIONS'),"
    " 'DISABLE_SERVER_SIDE_CURSORS': v.get('DISABLE_SERVER_SIDE_CURSORS')}"
    " for k, v in s.DATABASES.items()}}))"
)
CLUSTER = PRODUCTION | {
    "DATABASE_URL": "postgres://clao@127.0.0.1:6432/clao",
    "DATABASE_REPLICA_URL": "postgres://clao@127.0.0.1:5433/clao",
    "DB_TRANSACTION_POOLING": "1",
    "CACHE_URL": "redis://127.0.0.1:6379/3",
    "SESSION_ENGINE": "cached_db",
}


def shown(**env: str) -> dict:
    result = manage("shell", "-c", SHOW, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_it_keeps_one_process_defaults_without_the_new_variables():
    configured = shown(**PRODUCTION)
    assert configured["caches"]["default"]["BACKEND"].endswith("LocMemCache")
    assert configured["session"] == "django.contrib.sessions.backends.db"
    assert list(configured["databases"]) == ["default"]
    assert configured["databases"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False


def test_it_shares_cache_and_sessions_through_redis_and_reads_from_a_replica():
    configured = shown(**CLUSTER)
    assert configured["caches"]["default"] == {
        "BACKEND": "clao.cache.RedisCache",
        "LOCATION": "redis://127.0.0.1:6379/3",
        "KEY_PREFIX": "clao",
    }
    assert configured["session"] == "django.contrib.sessions.backends.cached_db"
    default, replica = configured["databases"]["default"], configured["databases"]["replica"]
    assert (default["PORT"], replica["PORT"]) == ("6432", "5433")
    # Named cursors would not survive PgBouncer's transaction pooling; the replica is not
    # behind it.
    assert default["DISABLE_SERVER_SIDE_CURSORS"] is True
    # A stopped replica is given up quickly, then skipped (clao/db_router.py).
    assert default["OPTIONS"] == {"connect_timeout": 5}
    assert replica["OPTIONS"] == {"connect_timeout": 2}
    # Tests run with such settings read "the replica" from the test database itself.
    assert replica["TEST"]["MIRROR"] == "default"


def test_it_passes_the_deploy_checks_as_a_cluster_node():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **CLUSTER)
    assert result.returncode == 0, result.stderr + result.stdout


def test_it_refuses_sessions_in_a_cache_of_one_process():
    result = manage("check", **PRODUCTION | {"SESSION_ENGINE": "cache"})
    assert result.returncode != 0
    assert "SESSION_ENGINE=cache needs a shared CACHE_URL" in result.stderr


def test_it_refuses_an_unknown_session_engine_or_cache():
    result = manage("check", **PRODUCTION | {"SESSION_ENGINE": "file"})
    assert "SESSION_ENGINE must be one of db, cache, cached_db" in result.stderr
    result = manage("check", **PRODUCTION | {"CACHE_URL": "memcached://127.0.0.1:11211"})
    assert "CACHE_URL scheme 'memcached' is not supported" in result.stderr
