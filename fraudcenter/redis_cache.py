"""Django's Redis cache with one `redis.Redis` per connection pool instead of one per call.

Django's `RedisCacheClient.get_client()` makes a new `redis.Redis` for each get or set;
redis-py builds its table of ~200 response callbacks in each one's `__init__`. That was 12 %
of a supervisor's poll (the session's read, the shared part's read; py-spy). A `redis.Redis`
is safe to share between threads (its pool hands each command a connection), so one per
pool does the same work. Selected in settings for `redis://` and `rediss://` CACHE_URLs."""

from __future__ import annotations

from typing import Any

from django.core.cache.backends import redis as django_redis


class RedisCacheClient(django_redis.RedisCacheClient):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        # Django's own helpers, absent from django-stubs.
        pool = self._get_connection_pool(write)  # type: ignore[attr-defined]
        client = self._clients.get(id(pool))
        if client is None:  # pools are kept for the process: their ids stay theirs
            client = self._clients[id(pool)] = self._client(connection_pool=pool)  # type: ignore[attr-defined]
        return client


class RedisCache(django_redis.RedisCache):
    def __init__(self, server: Any, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = RedisCacheClient
