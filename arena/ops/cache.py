"""Django's Redis cache with one client object per connection pool instead of one per call,
and one pool per process instead of one per cache object.

Django's RedisCacheClient builds a new `redis.Redis` for every cache operation; its
constructor (response-callback tables) was ~6 % of a vote's Python time in the load profile.
A `redis.Redis` is safe to share between threads (each command takes a connection from the
pool), so one per pool is kept.

`django.core.cache.caches` gives every thread, and every asyncio context, its own cache object,
and each made its own connection pool: every WebSocket (its own context) opened two new Redis
connections, one to count its address's slot and one to give it back (issue 10, 2 new
connections per battle in the load benchmark). The client, and so its pools, is shared by
every cache object of the same servers and options in the process (redis-py's pools reset
themselves in a forked child).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cached_property
from typing import Any

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient


class ReusingRedisCacheClient(RedisCacheClient):
    # Django's private attributes used here, which django-stubs leaves out
    _client: Callable[..., Any]  # the redis.Redis class
    _get_connection_pool: Callable[[bool], Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clients: dict[int, Any] = {}

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = self._clients.get(id(pool))
        if client is None:
            client = self._clients.setdefault(id(pool), self._client(connection_pool=pool))
        return client


_shared: dict[tuple[tuple[str, ...], str], ReusingRedisCacheClient] = {}
_shared_lock = threading.Lock()


class RedisCache(DjangoRedisCache):
    _servers: list[str]
    _options: dict[str, Any]

    @cached_property
    def _cache(self) -> ReusingRedisCacheClient:
        key = (tuple(self._servers), repr(sorted(self._options.items())))
        with _shared_lock:
            client = _shared.get(key)
            if client is None:
                client = _shared[key] = ReusingRedisCacheClient(self._servers, **self._options)
        return client
