"""The push server as a fixture: a private redis-server and deliveries.push_server running
in a thread of this process (same settings, same SECRET_KEY), with push switched on."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
from dataclasses import dataclass

import pytest

import deliveries.push
from deliveries.push_server import run
from tests.processes import Redis, free_port


@dataclass
class PushServer:
    url: str
    redis_url: str


@pytest.fixture
def push_server(settings, tmp_path):
    redis = Redis(tmp_path)
    redis.start()
    port = free_port()
    settings.PUSH_REDIS_URL = f"redis://127.0.0.1:{redis.port}/0"
    settings.PUSH_URL = f"http://127.0.0.1:{port}/push/"
    settings.PUSH_KEEPALIVE_SECONDS = 1
    policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
    policy["DIRECTIVES"]["connect-src"].append(deliveries.push.origin(settings.PUSH_URL))
    settings.CONTENT_SECURITY_POLICY = policy
    deliveries.push._client = None  # a client for this Redis
    loop = asyncio.new_event_loop()
    ready = threading.Event()

    async def main() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(run("127.0.0.1", port, "/push/", started))
        await started.wait()
        ready.set()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(10), "the push server did not start"
    yield PushServer(settings.PUSH_URL, settings.PUSH_REDIS_URL)
    for task in asyncio.all_tasks(loop):
        loop.call_soon_threadsafe(task.cancel)
    thread.join(5)
    deliveries.push._client = None
    redis.stop()
