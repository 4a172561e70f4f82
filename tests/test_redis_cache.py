"""fraudcenter.redis_cache: Django's Redis cache, one redis.Redis per pool (the machine's Redis)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

from django.conf import settings

from fraudcenter.redis_cache import RedisCache

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def test_it_caches_as_djangos_does_through_one_client():
    cache = RedisCache(REDIS, {})
    key = f"t-{uuid.uuid4()}"
    assert cache.get(key) is None
    assert cache.add(key, 1, 30) and not cache.add(key, 2, 30)
    assert cache.incr(key) == 2
    cache.set_many({f"{key}-a": "а", f"{key}-b": [1, 2]}, 30)
    assert cache.get_many([f"{key}-a", f"{key}-b"]) == {f"{key}-a": "а", f"{key}-b": [1, 2]}
    cache.delete_many([key, f"{key}-a", f"{key}-b"])
    assert cache.get(key) is None
    client = cache._cache.get_client()
    assert cache._cache.get_client(write=True) is client  # Django's makes one per call


def test_a_redis_cache_url_selects_it():
    out = subprocess.run(
        [sys.executable, "-c", "from django.conf import settings; print(settings.CACHES)"],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "fraudcenter.settings", "CACHE_URL": REDIS},
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    ).stdout
    assert "'BACKEND': 'fraudcenter.redis_cache.RedisCache'" in out
